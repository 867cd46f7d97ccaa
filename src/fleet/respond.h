// Responding to an exposed access key across a fleet: which account it is
// in, who owns it, which [[selection]]'s destinations, notifiers and policy
// apply, then the engine's response (engine/exposure.h). Used by
// `keyrotor respond` and the Lambda runtime's AWS Health events.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "engine/exposure.h"
#include "engine/journal.h"
#include "engine/rotator.h"
#include "fleet/config.h"
#include "fleet/discovery.h"
#include "fleet/runner.h"

namespace keyrotor::fleet {

// What the command line says on top of the config (unset: the config's, or
// the defaults).
struct ExposureOverrides {
  std::optional<engine::ExposureOrder> order;
  std::optional<Duration> delete_after;
  std::optional<Duration> lookup_window;
  std::vector<std::string> lookup_regions;
  bool dry_run = false;
  void ApplyTo(engine::EngineOptions& options) const;
};

struct ResponseResult {
  std::string access_key_id;
  std::string account_id;
  std::string account_name;  // the config's name for it; empty without a config
  std::optional<size_t> selection;
  engine::UserOutcome outcome;
  // {"access_key_id", "account_id", "account_name", "selection"?, ...OutcomeToJson}
  nlohmann::json ToJson() const;
};

class Responder {
 public:
  // `config` (may be null: the admin's own account only) and `journal`
  // outlive the responder. `defaults` are the options for a user no
  // selection covers (the command line's --to and --notify), and for every
  // user without a config.
  Responder(const FleetConfig* config, aws::ClientFactory admin, engine::Journal* journal,
            engine::EngineOptions defaults, ExposureOverrides overrides);
  ~Responder();

  // Responds to `access_key_id` in `account_id` (empty: the admin's own
  // account, or the config's only account). An error when the account
  // cannot be worked in (not configured, excluded, its role refused); a key
  // that does not exist there is an outcome ("skipped"), not an error.
  Result<ResponseResult> Respond(const std::string& access_key_id, const std::string& account_id,
                                 const engine::ExposureRequest& exposure);

 private:
  Result<Account> FindAccount(const std::string& account_id);

  const FleetConfig* config_;
  aws::ClientFactory admin_;
  engine::Journal* journal_;
  engine::EngineOptions defaults_;
  ExposureOverrides overrides_;
  std::string caller_account_;
  std::optional<AccountPlan> plan_;
  std::map<std::string, std::unique_ptr<AccountLimiters>> limiters_;
};

// The index of the first [[selection]] applying to `account` that takes
// `user`, asking IAM only about that user (its path, groups and tags as the
// criteria need them); nullopt when none does.
Result<std::optional<size_t>> SelectionForUser(aws::IamClient& iam, const FleetConfig& config, const Account& account,
                                               const std::string& user);

}  // namespace keyrotor::fleet
