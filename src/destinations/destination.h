// Where a new key goes so applications can read it: a credentials file,
// Secrets Manager, SSM Parameter Store, the local vault, or a program.
//
// The engine calls, for each destination in order: Snapshot (what it holds
// now, sealed into the journal), then Put. If the rotation is abandoned
// (the key failed to verify, a later destination failed) it calls Restore
// with the snapshot. After a crash it repeats whichever call was in flight,
// so every call must be idempotent for the same rotation id.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/clients.h"
#include "base/clock.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/subprocess.h"

namespace keyrotor::destinations {

struct KeyHandoff {
  std::string rotation_id;  // stable across retries: idempotency tokens derive from it
  std::string account;
  std::string user;
  std::string access_key_id;
  Secret secret_access_key;
  TimePoint created{};
  std::string previous_access_key_id;  // the key being replaced; may be empty
};

class Destination {
 public:
  virtual ~Destination() = default;
  // The spec it was made from ("secretsmanager:app/key"), for output and audit. Never a secret.
  virtual std::string Describe() const = 0;
  // What the destination holds now, opaque to the engine (it may hold a
  // secret: the engine only ever seals it). Empty when nothing is there.
  virtual Result<Secret> Snapshot(const KeyHandoff& key) = 0;
  virtual Status Put(const KeyHandoff& key) = 0;
  // Puts back what Snapshot saw (an empty snapshot: removes what Put added, if
  // the destination can; otherwise leaves it and says so in the status).
  // FailedPrecondition means superseded: the destination holds a key newer
  // than this rotation's, written by someone else, which is not ours to take
  // back. Any other error: not restored (the engine retries a transient one on
  // later runs, then reports the destination as needing attention).
  virtual Status Restore(const KeyHandoff& key, const Secret& snapshot) = 0;
  // Whether Snapshot reads back what the destination holds, so that Restore
  // can put it back. A write-only destination (a CI system's secret, which
  // its API never returns) cannot: once it may hold a new key, the engine
  // keeps that key and retries the destinations instead of rolling back
  // (docs/rotation.md, "Write-only destinations: rolling forward").
  virtual bool ReadsBack() const { return true; }
  // What `keyrotor doctor --check destinations` asks: may the credentials this
  // destination uses write it? Answered without writing anything, by the
  // service's own question where it has one (GitHub: read the scope's public
  // key; GitLab: the token's scopes; Kubernetes: SelfSubjectAccessReview;
  // Vault: capabilities-self). Returns what was checked, in words (never a
  // secret); empty when there is nothing to check this way. An error names
  // what is missing.
  virtual Result<std::string> CheckAccess() { return std::string(); }
};

struct DestinationOptions {
  // Secrets Manager / SSM value: a JSON template where {{access_key_id}},
  // {{secret_access_key}}, {{user}}, {{account}}, {{created}} are replaced
  // (JSON-escaped). Empty: {"AccessKey": "...", "SecretKey": "..."}.
  std::string value_template;
  std::string kms_key_id;                   // Secrets Manager / SSM; empty = the AWS-managed key
  Duration exec_timeout{60000};             // exec: killed after this
  std::string vault_key_file;               // vault: empty = VAULT_PATH.key
  // credentials-file: keep the file as it was before each write as PATH.bak
  // (`profiles rotate` keeps the file as it was before the whole run instead).
  bool credentials_file_backup = true;
  EnvMap exec_env;                          // exec: the environment passed on (already stripped of secrets)
  Spawner* spawner = nullptr;               // exec: how the program is started (null: posix_spawn)
  // github / github-org (destinations/github_destination.h). Credentials: a
  // GitHub App when github_app_id is set (all three app fields needed), else
  // github_token_file, else GH_TOKEN, else GITHUB_TOKEN from github_env.
  std::string github_api_url;               // empty: GITHUB_API_URL, else https://api.github.com
  std::string github_token_file;
  std::string github_app_id;
  std::string github_app_key_file;          // the App's private key (PEM)
  std::string github_app_installation_id;
  std::string github_visibility;            // github-org default when the spec has no ?visibility= (empty: private)
  EnvMap github_env;                        // GH_TOKEN, GITHUB_TOKEN, GITHUB_API_URL as the process has them
  // gitlab / gitlab-group (destinations/gitlab_destination.h). The token:
  // gitlab_token_file, else GITLAB_TOKEN from gitlab_env.
  std::string gitlab_api_url;               // empty: CI_API_V4_URL, else https://gitlab.com/api/v4
  std::string gitlab_token_file;
  EnvMap gitlab_env;                        // GITLAB_TOKEN, CI_API_V4_URL (CI_JOB_TOKEN: refused, named)
  // vault-kv (destinations/vault_kv_destination.h): HashiCorp Vault / OpenBao
  // KV v2. Empty fields fall back to vault_kv_env as the vault CLI reads it.
  std::string vault_kv_addr;                // empty: VAULT_ADDR, else https://127.0.0.1:8200
  std::string vault_kv_namespace;           // empty: VAULT_NAMESPACE
  std::string vault_kv_ca_cert;             // CA bundle (PEM); empty: VAULT_CACERT, else the system's
  std::string vault_kv_auth;                // token (default), approle or kubernetes
  std::string vault_kv_auth_mount;          // empty: approle / kubernetes
  std::string vault_kv_token_file;          // token: else VAULT_TOKEN, else HOME/.vault-token
  std::string vault_kv_role_id;             // approle
  std::string vault_kv_secret_id_file;      // approle
  std::string vault_kv_role;                // kubernetes: the Vault role
  std::string vault_kv_jwt_file;            // kubernetes: empty = the pod's service-account token
  EnvMap vault_kv_env;                      // VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, VAULT_SKIP_VERIFY, HOME
  // kubernetes (destinations/kubernetes_api.h): a kubeconfig file wins; else
  // in-cluster (KUBERNETES_SERVICE_HOST/PORT + the service account's files);
  // else KUBECONFIG's first file, else HOME/.kube/config.
  std::string kubernetes_kubeconfig;
  std::string kubernetes_context;              // empty: the kubeconfig's current-context
  EnvMap kubernetes_env;                       // KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT, HOME
  std::string kubernetes_service_account_dir;  // tests; empty: /var/run/secrets/kubernetes.io/serviceaccount
  // Kinds a command adds for itself (keyrotor keeper's record writer): KIND ->
  // a maker given what follows "KIND:". Specs are saved in the journal and
  // remade from them on resume, so a kind must be a pure function of its spec.
  using Maker = std::function<Result<std::unique_ptr<Destination>>(
      std::string_view spec, std::string_view rest, const DestinationOptions& options)>;
  std::map<std::string, Maker, std::less<>> extra_kinds;
};

// Parses one --to spec:
//   credentials-file:PATH#PROFILE   secretsmanager:NAME   ssm:/PATH
//   vault:PATH[#ENTRY]              exec:PROGRAM [ARGS...]
//   github:OWNER/REPO[@ENVIRONMENT][#NAME]   github-org:ORG[#NAME][?visibility=all|private|selected]
//   gitlab:PROJECT[#KEY][?masked=..&protected=..&environment_scope=..]   gitlab-group:GROUP[#KEY][?...]
//   vault-kv:MOUNT/PATH   (HashiCorp Vault / OpenBao KV v2; vault: is keyrotor's own vault file)
//   kubernetes:NAMESPACE/NAME[#KEY][?restart=DEPLOYMENT,...]
// `aws` signs Secrets Manager / SSM calls. InvalidArgument naming the spec
// (never its secret parts: there are none) when it is malformed.
Result<std::unique_ptr<Destination>> MakeDestination(std::string_view spec, const aws::ClientFactory& aws,
                                                     const DestinationOptions& options);

// What a destination needs outside AWS, for `keyrotor policy`: one line per
// permission, scope or role (a GitHub App's "Secrets" permission, a GitLab
// token's api scope, Kubernetes RBAC verbs, a Vault policy path). Empty for
// kinds that need only AWS permissions (report/iam_policy.h has those) or
// none. Offline: reads no file and calls nothing. InvalidArgument for a
// malformed spec.
Result<std::vector<std::string>> DestinationRequirements(std::string_view spec, const DestinationOptions& options);
// The same for a spec that may still hold {user} and {account} (a fleet
// config's): they are kept as written in the lines.
Result<std::vector<std::string>> TemplateRequirements(std::string_view spec, const DestinationOptions& options);

// Renders options.value_template (or the default) for `key`.
Result<Secret> RenderValue(const std::string& value_template, const KeyHandoff& key);

}  // namespace keyrotor::destinations
