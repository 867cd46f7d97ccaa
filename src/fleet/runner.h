// One pass over a fleet: every configured (and, with [organization],
// discovered) account's selected users, each driven one step further by the
// rotation engine, many users at once.
//
// Per account the runner assumes the role (credentials cached and
// refreshed), checks the account id against STS, reads the users the
// selections take, and paces every call to that account (IAM, STS, Secrets
// Manager, SSM, SNS) with the account's own rate limiter: at most its
// rate_limit, and slower whenever the service throttles. The limiter and the
// assumed-role credentials outlive a run, so a daemon keeps what it learned.
//
// With bulk planning (the default) an account costs a few IAM calls however
// many users it has: users, groups and tags come from
// GetAccountAuthorizationDetails, key ages from the credential report (kept
// while AWS keeps it fresh), and only a user with something due (or whose
// state the journal says is open) gets a run of its own, which re-reads its
// keys before acting.
//
// A stop request (SIGTERM) lets each user in flight finish its step and
// starts no other; the summary counts the users left for the next run.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "aws/retry.h"
#include "engine/journal.h"
#include "engine/rotator.h"
#include "fleet/config.h"
#include "fleet/selection.h"

namespace keyrotor::fleet {

struct UserResult {
  std::string account_name;  // the config's name of the account
  size_t selection = 0;      // index into FleetConfig::selections
  engine::UserOutcome outcome;
};

struct AccountResult {
  std::string name;
  std::string id;       // from STS; empty when it could not be asked
  size_t selected = 0;  // users the selections took
  Status status;        // why the account could not be worked on; ok otherwise
  // A discovered account not worked on (suspended, excluded): why. Not a failure.
  std::string skipped;
  // What made the pass cost more than it had to (a bulk read denied, so
  // users were listed one call at a time): each names the missing permission.
  std::vector<std::string> warnings;
};

struct RunSummary {
  TimePoint started{};
  TimePoint finished{};
  bool plan = false;
  std::vector<AccountResult> accounts;
  std::map<std::string, size_t> results;  // engine::ResultName -> users
  size_t users = 0;                       // users processed
  size_t failed_users = 0;                // failed or rolled back
  size_t not_started = 0;                 // left by a stop request
  bool interrupted = false;
  size_t notifications_owed = 0;     // events the users' rotations still owe after the run
  size_t notification_failures = 0;  // deliveries that failed during the run

  size_t failed_accounts() const;
  // No user failed, every account could be worked on, and no notification is
  // owed (their owners must hear of the rotations). Users another keyrotor
  // holds (locked) are not failures: that instance is on them.
  bool ok() const { return failed_users == 0 && failed_accounts() == 0 && notifications_owed == 0; }
  // {"started","finished","wall_seconds","plan","users","results":{...},"failed_users",
  //  "failed_accounts","not_started","interrupted","notifications_owed","notification_failures",
  //  "accounts":[{"name","id","selected","error"?,"skipped"?,"warnings"?}]}
  nlohmann::json ToJson() const;
};

struct RunOptions {
  bool plan = false;                  // decide and report; change nothing
  int concurrency = 0;                // users at once; 0: the config's
  std::vector<std::string> accounts;  // only these account names; empty: every account
  std::vector<std::string> users;     // only these users (as IAM compares: any case); empty: all selected
  const std::atomic<bool>* stop = nullptr;
  // Called once per user as it finishes, never from two threads at once.
  std::function<void(const UserResult&)> on_result;
  // Called (serialised with on_result) each time an account's users are
  // known, with the running total: a progress display's denominator.
  std::function<void(size_t total)> on_total;
};

class FleetRunner {
 public:
  // `admin` signs the AssumeRole calls (and everything in an account without
  // a role_arn); selections' notifier transports default to its transport.
  // `config` and `journal` outlive the runner.
  FleetRunner(const FleetConfig& config, aws::ClientFactory admin, engine::Journal* journal);
  ~FleetRunner();

  RunSummary Run(const RunOptions& options);

  // The clients working in `account` (role, region, rate limiter), made on
  // first use and kept. For `report --config` and tests.
  const aws::ClientFactory& Clients(const Account& account);

 private:
  struct AccountState;
  AccountState& State(const Account& account);
  // The users of `account` the selections take, with their facts when they could be read in bulk.
  Result<std::vector<SelectedUser>> SelectInBulk(const Account& account, AccountState& state, AccountResult& result);

  const FleetConfig& config_;
  aws::ClientFactory admin_;
  engine::Journal* journal_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<AccountState>> accounts_;
  std::string caller_account_;  // the admin credentials' account, once asked (discovery)
};

// How one account's calls are paced. Every call (IAM, STS, Secrets Manager,
// SSM, SNS) passes the account's adaptive limiter, dormant until a service
// throttles, then as fast as it is let. IAM is one throttled API per account,
// shared with everything else running there: its calls also pass a limiter
// of their own at most the account's rate_limit (0: unlimited, adaptive).
struct AccountLimiters {
  AccountLimiters(Clock* clock, double rate_limit) : iam(clock, 0.5, rate_limit), all(clock, 0.5, 0) {}
  aws::AdaptiveRateLimiter iam;
  aws::AdaptiveRateLimiter all;
};

// The credentials and settings for working in `account`: the admin's own, or
// an assumed role (cached, refreshed before expiry); the account's region;
// paced by `limiters` (which outlive the result).
aws::ClientFactory AccountClientFactory(const aws::ClientFactory& admin, const Account& account,
                                        AccountLimiters* limiters);

// Asks STS which account `clients` work in: the account id, or an error when
// it is not the config's `account.id` (the role leads elsewhere) or the
// credentials do not work there.
Result<std::string> IdentifyAccount(const aws::ClientFactory& clients, const Account& account);

}  // namespace keyrotor::fleet
