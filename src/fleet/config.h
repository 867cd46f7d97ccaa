// keyrotor.toml: the fleet's accounts, which users are rotated and with what
// policy, where the journal lives and when runs happen (docs/config.md).
//
// Loading checks everything that needs no AWS call: every key is known (a
// typo is an error, never ignored), every value has its type and shape, the
// policy means what the engine can honour, account references resolve. Each
// problem is reported as "PATH:LINE: SETTING: what is wrong", all of them at
// once. Destination and notify specs need service clients to be checked:
// ValidateSpecs does that, as `keyrotor rotate` does for --to and --notify.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "aws/iam.h"
#include "base/environment.h"
#include "base/status.h"
#include "engine/rotator.h"
#include "fleet/schedule.h"

namespace keyrotor::fleet {

// Where a setting was written, for messages of checks made after loading.
struct SettingOrigin {
  int line = 0;         // 0: not written (a default)
  std::string setting;  // "policy.to", "selection[1].notify", ...
};

struct Account {
  std::string name;          // unique; "default" for the implicit account
  std::string id;            // 12 digits, checked against STS at run time; empty: not checked
  std::string role_arn;      // assumed in the account; empty: the admin credentials' own account
  std::string external_id;   // with role_arn only
  std::string session_name;  // with role_arn only; empty: keyrotor's default
  std::string region;        // empty: the admin settings' region
  double rate_limit = 0;     // requests per second to this account's APIs; 0 = unlimited
  int line = 0;              // of its [[accounts]] header; 0 for the implicit account
};

// [organization]: discover the accounts of an AWS Organization (docs/fleet.md).
// An account is worked on when it is ACTIVE, in an included OU subtree or
// named in include_accounts (both empty: every account), and neither in an
// excluded OU subtree nor in exclude_accounts. The management account only
// with include_management_account.
struct OrganizationSettings {
  bool enabled = false;
  int line = 0;  // of the [organization] header
  std::string role_name;     // assumed in each member account
  std::string external_id;
  std::string session_name;
  std::string region;        // empty: the admin settings' region
  double rate_limit = 0;     // per account; 0 = unlimited
  std::vector<std::string> include_ous, exclude_ous;            // ou-... or r-... ids: whole subtrees
  std::vector<std::string> include_accounts, exclude_accounts;  // 12-digit ids
  bool include_management_account = false;
};

// Which users a [[selection]] takes, and the engine options they get. A user
// matches when any criterion holds and no exclusion does.
struct Selection {
  size_t index = 0;                   // position among the [[selection]] tables: the first match wins
  int line = 0;                       // of its [[selection]] header
  std::vector<std::string> accounts;  // account names; empty = every account
  std::vector<std::string> users;     // compared as IAM does: case-insensitively
  std::string user_regex_text;
  std::optional<std::regex> user_regex;  // ECMAScript, searched in the user name
  std::string path_prefix;
  std::vector<std::string> groups;
  std::vector<aws::Tag> tags;
  bool all_users = false;
  std::vector<std::string> exclude_users;
  std::string exclude_regex_text;
  std::optional<std::regex> exclude_regex;

  // [policy] overlaid with this selection's own policy keys, parsed.
  // notifier_options.transport is left null: whoever builds the clients sets
  // it, as cli::BuildEngineOptions does.
  engine::EngineOptions options;
  // Where each options.destinations / options.notify entry was written.
  std::vector<SettingOrigin> to_origins;
  std::vector<SettingOrigin> notify_origins;

  // `accounts` lists config names or, with [organization], account ids.
  bool AppliesTo(std::string_view account_name, std::string_view account_id = "") const;
};

struct FleetConfig {
  std::string path;   // the file, for messages
  std::string state;  // journal: an absolute path (~ expanded) or a postgresql:// URL
  int concurrency = 16;
  // planning = "bulk" (default): a pass reads users, groups and tags with
  // GetAccountAuthorizationDetails and key ages from the credential report,
  // and asks IAM per user only for users with something due. "per-user":
  // ListUsers, then ListAccessKeys (and ListUserTags) for every user.
  bool bulk_planning = true;
  Schedule schedule;
  OrganizationSettings organization;
  std::vector<Account> accounts;  // at least one, unless [organization] discovers them
  std::vector<Selection> selections;

  const Account* FindAccount(std::string_view name) const;
  // "PATH:LINE: SETTING" (or "PATH: SETTING" when the line is unknown).
  std::string Locate(const SettingOrigin& origin) const;
};

// Reads and checks `path`; InvalidArgument listing every problem, one per
// line. Relative file paths in it (state, value_template, vault_key_file,
// webhook_secret_file) are relative to the file's directory.
Result<FleetConfig> LoadFleetConfig(const std::string& path, const EnvMap& env);
// The same from text; `path_for_messages` names it in messages and anchors
// relative paths.
Result<FleetConfig> ParseFleetConfig(std::string_view text, const std::string& path_for_messages, const EnvMap& env);

// Checks every destination and notify spec of every selection with the
// engine's own check (engine::ValidateEngineOptions), each reported at the
// line that wrote it. `clients` only builds clients: no request is sent, so
// clients without credentials will do.
Status ValidateSpecs(const FleetConfig& config, const aws::ClientFactory& clients);

// LoadFleetConfig, then ValidateSpecs on what could be read, reporting the
// problems of both at once (what `keyrotor config check` shows).
Result<FleetConfig> CheckFleetConfig(const std::string& path, const EnvMap& env, const aws::ClientFactory& clients);

}  // namespace keyrotor::fleet
