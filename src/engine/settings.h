// The engine's options as people write them, before parsing: the flags of
// `keyrotor rotate` and the [policy] tables of keyrotor.toml. One resolver
// for both, so a setting means the same thing wherever it is written.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/environment.h"
#include "base/status.h"
#include "engine/rotator.h"

namespace keyrotor::engine {

struct EngineSettings {
  std::string mode = "staged";
  std::string rotate_after = "90d";
  std::string deactivate_after = "10d";
  std::string delete_after = "10d";
  std::string max_age = "0";
  std::string quiet_period = "24h";
  std::string force_after = "30d";
  std::string verify_timeout = "60s";
  // Responding to an exposed key (keyrotor respond, AWS Health events).
  std::string on_exposure = "rotate-first";
  std::string exposed_delete_after = "24h";
  std::string exposure_lookup_window = "24h";
  std::vector<std::string> exposure_lookup_regions;
  std::vector<std::string> exempt_tags = {"keyrotor:exempt=true"};
  std::vector<std::string> exempt_groups;
  bool delete_unknown_inactive = false;
  std::vector<std::string> to;
  std::vector<std::string> notify;
  std::string value_template_file;
  std::string kms_key_id;
  std::string vault_key_file;
  std::string webhook_secret_file;
  std::string exec_timeout = "60s";
  // Settings of the destinations that reach other services (github:,
  // gitlab:, ...): see DestinationSettings() below, which lists each once.
  std::string github_api_url;
  std::string github_token_file;
  std::string github_app_id;
  std::string github_app_key_file;
  std::string github_app_installation_id;
  std::string github_visibility;
  std::string gitlab_api_url;
  std::string gitlab_token_file;
  std::string vault_kv_addr;
  std::string vault_kv_namespace;
  std::string vault_kv_ca_cert;
  std::string vault_kv_auth;
  std::string vault_kv_auth_mount;
  std::string vault_kv_token_file;
  std::string vault_kv_role_id;
  std::string vault_kv_secret_id_file;
  std::string vault_kv_role;
  std::string vault_kv_jwt_file;
  std::string kubernetes_kubeconfig;
  std::string kubernetes_context;
  int orphan_settle_ms = 5000;
};

// One setting of a destination that reaches another service, written once
// here: it is then a `keyrotor rotate` flag ("--" + key, '_' as '-'), a
// keyrotor.toml [policy]/[[selection]] key, and the DestinationOptions field
// the destination reads, with no other code (docs/config.md lists them).
struct DestinationSetting {
  const char* key;  // "gitlab_api_url"
  std::string EngineSettings::*setting;
  std::string destinations::DestinationOptions::*option;
  bool file;         // a path: relative to the config file's directory there
  const char* help;  // the flag's help
};
const std::vector<DestinationSetting>& DestinationSettings();

// The environment variables a destination reads as its service's own tools
// do (GH_TOKEN as gh, GITLAB_TOKEN, VAULT_ADDR as vault...), copied into its
// DestinationOptions map and never handed to a child (exec_env drops them).
struct DestinationEnvironment {
  EnvMap destinations::DestinationOptions::*env;
  std::vector<const char*> names;
};
const std::vector<DestinationEnvironment>& DestinationEnvironments();

// How an error names a setting, given its config-file key ("rotate_after",
// "exempt_tags", "to", "value_template", ...): the CLI says "--rotate-after",
// the config file "keyrotor.toml:12: policy.rotate_after".
using SettingNamer = std::function<std::string(std::string_view key)>;

// Parses every setting and validates the policy; reads the value template
// and the webhook secret (or KEYROTOR_WEBHOOK_SECRET). Reports every bad
// setting, one per line, each "NAME: what is wrong". Destination and notify
// specs are not checked here (ValidateEngineOptions needs clients) and
// notifier_options.transport is left for the caller, who owns the clients.
Result<EngineOptions> ResolveEngineSettings(const EngineSettings& settings, const EnvMap& env,
                                            const SettingNamer& name);

// KEYROTOR_STATE, else $XDG_STATE_HOME/keyrotor/journal.db, else
// ~/.local/state/keyrotor/journal.db.
std::string DefaultStatePath(const EnvMap& env);

}  // namespace keyrotor::engine
