#include "engine/settings.h"

#include <algorithm>

#include "base/file_util.h"
#include "base/subprocess.h"
#include "credentials/shared_config.h"

namespace keyrotor::engine {
namespace {

// Collects every bad setting rather than stopping at the first, so a person
// fixes a file (or a command line) in one pass.
class Problems {
 public:
  explicit Problems(const SettingNamer& name) : name_(name) {}

  void Add(std::string_view key, const Status& status) { problems_.push_back(status.WithContext(name_(key))); }

  template <typename T>
  void Parse(std::string_view key, Result<T> parsed, T& out) {
    if (parsed.ok()) {
      out = std::move(parsed).value();
    } else {
      Add(key, Status::InvalidArgument(parsed.status().message()));
    }
  }

  bool empty() const { return problems_.empty(); }

  Status ToStatus() const {
    if (problems_.empty()) return Status::Ok();
    if (problems_.size() == 1) return problems_.front();
    std::string all;
    for (const Status& s : problems_) all += (all.empty() ? "" : "\n") + s.message();
    return Status::InvalidArgument(all);
  }

 private:
  const SettingNamer& name_;
  std::vector<Status> problems_;
};

}  // namespace

const std::vector<DestinationSetting>& DestinationSettings() {
  using S = EngineSettings;
  using O = destinations::DestinationOptions;
  static const std::vector<DestinationSetting> kSettings = {
      {"github_api_url", &S::github_api_url, &O::github_api_url, false,
       "github: destinations' API (GitHub Enterprise Server: https://HOST/api/v3; default GITHUB_API_URL or "
       "https://api.github.com)"},
      {"github_token_file", &S::github_token_file, &O::github_token_file, true,
       "File holding the GitHub token for github: destinations (default: GH_TOKEN, then GITHUB_TOKEN)"},
      {"github_app_id", &S::github_app_id, &O::github_app_id, false,
       "Authenticate github: destinations as this GitHub App"},
      {"github_app_key_file", &S::github_app_key_file, &O::github_app_key_file, true,
       "The GitHub App's private key (PEM)"},
      {"github_app_installation_id", &S::github_app_installation_id, &O::github_app_installation_id, false,
       "The GitHub App's installation on the repositories' owner"},
      {"github_visibility", &S::github_visibility, &O::github_visibility, false,
       "github-org: secrets' visibility when the spec has no ?visibility= (all, private, selected)"},
      {"gitlab_api_url", &S::gitlab_api_url, &O::gitlab_api_url, false,
       "gitlab: destinations' API (self-managed: https://HOST/api/v4; default CI_API_V4_URL or "
       "https://gitlab.com/api/v4)"},
      {"gitlab_token_file", &S::gitlab_token_file, &O::gitlab_token_file, true,
       "File holding the GitLab token (api scope) for gitlab: destinations (default: GITLAB_TOKEN)"},
      {"vault_kv_addr", &S::vault_kv_addr, &O::vault_kv_addr, false,
       "vault-kv: destinations' server (default VAULT_ADDR, else https://127.0.0.1:8200)"},
      {"vault_kv_namespace", &S::vault_kv_namespace, &O::vault_kv_namespace, false,
       "Vault Enterprise / OpenBao namespace of vault-kv: destinations (default VAULT_NAMESPACE)"},
      {"vault_kv_ca_cert", &S::vault_kv_ca_cert, &O::vault_kv_ca_cert, true,
       "CA bundle (PEM) the Vault server's certificate is verified with (default VAULT_CACERT, else the system's)"},
      {"vault_kv_auth", &S::vault_kv_auth, &O::vault_kv_auth, false,
       "How vault-kv: destinations log in: token (default), approle or kubernetes"},
      {"vault_kv_auth_mount", &S::vault_kv_auth_mount, &O::vault_kv_auth_mount, false,
       "The auth method's mount path (default approle or kubernetes)"},
      {"vault_kv_token_file", &S::vault_kv_token_file, &O::vault_kv_token_file, true,
       "File holding the Vault token (default VAULT_TOKEN, then ~/.vault-token)"},
      {"vault_kv_role_id", &S::vault_kv_role_id, &O::vault_kv_role_id, false, "AppRole: the role id"},
      {"vault_kv_secret_id_file", &S::vault_kv_secret_id_file, &O::vault_kv_secret_id_file, true,
       "AppRole: file holding the secret id"},
      {"vault_kv_role", &S::vault_kv_role, &O::vault_kv_role, false, "Kubernetes auth: the Vault role"},
      {"vault_kv_jwt_file", &S::vault_kv_jwt_file, &O::vault_kv_jwt_file, true,
       "Kubernetes auth: the service-account token file (default the pod's own)"},
      {"kubernetes_kubeconfig", &S::kubernetes_kubeconfig, &O::kubernetes_kubeconfig, true,
       "kubeconfig of kubernetes: destinations (default: in-cluster, else KUBECONFIG, else ~/.kube/config)"},
      {"kubernetes_context", &S::kubernetes_context, &O::kubernetes_context, false,
       "The kubeconfig context (default its current-context)"},
  };
  return kSettings;
}

const std::vector<DestinationEnvironment>& DestinationEnvironments() {
  using O = destinations::DestinationOptions;
  static const std::vector<DestinationEnvironment> kEnvironments = {
      {&O::github_env, {"GH_TOKEN", "GITHUB_TOKEN", "GITHUB_API_URL"}},
      // CI_JOB_TOKEN only so that the error can say why it is not enough.
      {&O::gitlab_env, {"GITLAB_TOKEN", "CI_API_V4_URL", "CI_JOB_TOKEN"}},
      // As the vault CLI reads them; VAULT_SKIP_VERIFY only to refuse it.
      {&O::vault_kv_env, {"VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_SKIP_VERIFY", "HOME"}},
      // As client-go reads them.
      {&O::kubernetes_env, {"KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "HOME"}},
  };
  return kEnvironments;
}

Result<EngineOptions> ResolveEngineSettings(const EngineSettings& s, const EnvMap& env, const SettingNamer& name) {
  Problems problems(name);
  EngineOptions o;
  Policy& p = o.policy;
  problems.Parse("mode", ParseMode(s.mode), p.mode);
  problems.Parse("rotate_after", ParseDuration(s.rotate_after), p.rotate_after);
  problems.Parse("deactivate_after", ParseDuration(s.deactivate_after), p.deactivate_after);
  problems.Parse("delete_after", ParseDuration(s.delete_after), p.delete_after);
  problems.Parse("max_age", ParseDuration(s.max_age), p.max_age);
  problems.Parse("quiet_period", ParseDuration(s.quiet_period), p.quiet_period);
  problems.Parse("force_after", ParseDuration(s.force_after), p.force_after);
  problems.Parse("verify_timeout", ParseDuration(s.verify_timeout), p.verify_timeout);
  problems.Parse("on_exposure", ParseExposureOrder(s.on_exposure), p.on_exposure);
  problems.Parse("exposed_delete_after", ParseDuration(s.exposed_delete_after), p.exposed_delete_after);
  problems.Parse("exposure_lookup_window", ParseDuration(s.exposure_lookup_window), p.exposure_lookup_window);
  for (const std::string& region : s.exposure_lookup_regions) {
    bool valid = !region.empty() && std::all_of(region.begin(), region.end(), [](unsigned char c) {
      return std::islower(c) || std::isdigit(c) || c == '-';
    });
    if (!valid) problems.Add("exposure_lookup_regions", Status::InvalidArgument("'" + region + "' is not a region name"));
  }
  p.exposure_lookup_regions = s.exposure_lookup_regions;
  p.exempt_tags.clear();
  for (const std::string& t : s.exempt_tags) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      problems.Add("exempt_tags", Status::InvalidArgument("expected KEY=VALUE, got '" + t + "'"));
      continue;
    }
    p.exempt_tags.push_back({t.substr(0, eq), t.substr(eq + 1)});
  }
  p.exempt_groups = s.exempt_groups;
  p.delete_unknown_inactive = s.delete_unknown_inactive;
  // The durations' relations only mean something once each one parsed; the
  // message starts with the setting it blames (max_age).
  if (problems.empty()) {
    Status valid = p.Validate();
    if (!valid.ok()) {
      const std::string& m = valid.message();
      std::string key = m.substr(0, std::min(m.find_first_of(" :"), m.size()));
      problems.Add(key, valid);
    }
  }

  o.destinations = s.to;
  o.notify = s.notify;
  if (!s.value_template_file.empty()) {
    Result<std::string> tmpl = ReadFile(s.value_template_file);
    if (tmpl.ok()) {
      o.destination_options.value_template = *tmpl;
    } else {
      problems.Add("value_template", tmpl.status());
    }
  }
  o.destination_options.kms_key_id = s.kms_key_id;
  o.destination_options.vault_key_file = s.vault_key_file;
  Duration exec_timeout = o.destination_options.exec_timeout;
  problems.Parse("exec_timeout", ParseDuration(s.exec_timeout), exec_timeout);
  o.destination_options.exec_timeout = exec_timeout;
  o.destination_options.exec_env = ChildEnvironment(env);
  for (const DestinationSetting& d : DestinationSettings()) o.destination_options.*d.option = s.*d.setting;
  if (!s.github_visibility.empty() && s.github_visibility != "all" && s.github_visibility != "private" &&
      s.github_visibility != "selected") {
    problems.Add("github_visibility", Status::InvalidArgument("expected all, private or selected, got '" +
                                                              s.github_visibility + "'"));
  }
  o.destination_options.github_visibility = s.github_visibility;
  bool app_any = !s.github_app_id.empty() || !s.github_app_key_file.empty() || !s.github_app_installation_id.empty();
  bool app_all = !s.github_app_id.empty() && !s.github_app_key_file.empty() && !s.github_app_installation_id.empty();
  if (app_any && !app_all) {
    // Blamed on one that was written, so the config names its line.
    const char* written = !s.github_app_id.empty()         ? "github_app_id"
                          : !s.github_app_key_file.empty() ? "github_app_key_file"
                                                           : "github_app_installation_id";
    problems.Add(written, Status::InvalidArgument("a GitHub App needs github_app_id, github_app_key_file and "
                                                          "github_app_installation_id together"));
  }
  // Only what each destination reads, as its service's CLI reads it: never
  // handed to a child (exec_env above is stripped of them).
  for (const DestinationEnvironment& d : DestinationEnvironments()) {
    for (const char* name : d.names) {
      if (auto v = EnvValue(env, name)) (o.destination_options.*d.env)[name] = *v;
    }
  }
  o.notifier_options.exec_timeout = exec_timeout;
  o.notifier_options.exec_env = o.destination_options.exec_env;
  if (!s.webhook_secret_file.empty()) {
    Result<std::string> key = ReadFile(s.webhook_secret_file);
    if (key.ok()) {
      std::string k = std::move(key).value();
      while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
      o.notifier_options.webhook_secret = Secret(std::move(k));
    } else {
      problems.Add("webhook_secret_file", key.status());
    }
  } else if (auto key = EnvValue(env, "KEYROTOR_WEBHOOK_SECRET")) {
    o.notifier_options.webhook_secret = Secret(*key);
  }
  o.orphan_settle = Duration(std::max(0, s.orphan_settle_ms));
  KR_RETURN_IF_ERROR(problems.ToStatus());
  return o;
}

std::string DefaultStatePath(const EnvMap& env) {
  if (auto s = EnvValue(env, "KEYROTOR_STATE")) return *s;
  if (auto x = EnvValue(env, "XDG_STATE_HOME")) return *x + "/keyrotor/journal.db";
  return credentials::ExpandHome("~/.local/state/keyrotor/journal.db", env);
}

}  // namespace keyrotor::engine
