// A small client for the HashiCorp Vault / OpenBao HTTP API, as the vault-kv:
// destination uses it: where the server is and how to log in (read as the
// vault CLI reads them), Vault's error documents turned into one Status, and
// retries. It rides the aws layer's HttpTransport (curl in production), so TLS
// verification and "plain http only to loopback" hold as for every AWS call.
//
// Shapes follow developer.hashicorp.com:
//   - "HTTP API" (/vault/api-docs): X-Vault-Token, X-Vault-Namespace, and the
//     status codes: 400 invalid request, 403 forbidden (a missing, wrong or
//     expired token is "permission denied"), 404 invalid path, 429 a standby
//     node, 500 internal error, 503 sealed or down for maintenance; errors are
//     {"errors": ["..."]};
//   - "Commands (CLI)", environment variables: VAULT_ADDR (default
//     https://127.0.0.1:8200), VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT,
//     VAULT_SKIP_VERIFY; "Token helpers": the default helper keeps the token
//     in ~/.vault-token;
//   - "AppRole auth method (API)": POST /v1/auth/approle/login
//     {"role_id","secret_id"} and "Kubernetes auth method (API)": POST
//     /v1/auth/kubernetes/login {"role","jwt"}, both answering
//     {"auth": {"client_token", "lease_duration", "renewable", ...}}.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http.h"
#include "base/clock.h"
#include "base/environment.h"
#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::destinations {

struct VaultKvSettings {
  std::string addr;          // empty: VAULT_ADDR from env, else https://127.0.0.1:8200
  std::string namespace_;    // empty: VAULT_NAMESPACE from env (Enterprise / OpenBao namespaces)
  std::string ca_cert;       // a CA bundle (PEM); empty: VAULT_CACERT from env, else the system's
  std::string auth;          // "token" (default), "approle" or "kubernetes"
  std::string auth_mount;    // where the auth method is mounted: empty = "approle" / "kubernetes"
  std::string token_file;    // token: a file holding it; else VAULT_TOKEN; else HOME/.vault-token
  std::string role_id;       // approle
  std::string secret_id_file;  // approle: a file holding the secret_id
  std::string role;          // kubernetes: the Vault role
  std::string jwt_file;      // kubernetes: empty = the pod's service-account token
  EnvMap env;                // VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, VAULT_SKIP_VERIFY, HOME
};

inline constexpr char kVaultDefaultAddr[] = "https://127.0.0.1:8200";
inline constexpr char kVaultDefaultJwtFile[] = "/var/run/secrets/kubernetes.io/serviceaccount/token";

struct VaultReply {
  int status = 0;
  std::string body;  // wiped on destruction (a login or a KV read holds secrets)
  VaultReply() = default;
  VaultReply(VaultReply&&) = default;
  VaultReply& operator=(VaultReply&&) = default;
  ~VaultReply() { WipeString(body); }
};

struct VaultRetryPolicy {
  int max_attempts = 4;
  Duration base_backoff{1000};  // 429/503/5xx and network errors: 1 s, 2 s, 4 s
  Duration max_retry_after{60000};  // a longer Retry-After is not waited
};

class VaultKvApi {
 public:
  // Checks the settings (address, TLS options, that the credentials are
  // there) before any key exists; InvalidArgument naming what is wrong, never
  // a token. `transport` is used unless a CA bundle is configured, in which
  // case the client builds its own curl transport trusting that bundle.
  static Result<std::unique_ptr<VaultKvApi>> Make(const VaultKvSettings& settings, aws::HttpTransport* transport,
                                                  Clock* clock, aws::TransportOptions timeouts);

  // METHOD addr + "/v1/" + path, authenticated, with retries. Returns a 2xx
  // reply, or one whose status is in `accept` (a 404 a KV read expects);
  // otherwise a Status saying `what`, the status and Vault's errors:
  // PermissionDenied (403), NotFound (404), InvalidArgument (400, other 4xx),
  // NetworkError (never sent, sealed or standby: not applied), UnknownOutcome
  // (500 or a timeout after sending). A 403 while logged in (AppRole,
  // Kubernetes) logs in again and tries once more: the token expired mid-run.
  Result<VaultReply> Call(std::string_view method, const std::string& path, const std::string& body,
                          std::string_view what, std::vector<int> accept = {});

  // The last answer's status and Vault's "errors" joined by "; " (no secret:
  // Vault never echoes a request's data in its errors).
  int last_http_status() const { return last_http_status_; }
  const std::string& last_errors() const { return last_errors_; }
  const std::string& addr() const { return addr_; }
  const std::string& vault_namespace() const { return namespace_; }
  const std::string& auth_method() const { return auth_; }
  void set_retry_policy(VaultRetryPolicy policy) { retry_ = policy; }

 private:
  VaultKvApi() = default;
  Result<Secret> Token(bool relogin);
  Result<Secret> Login();
  Result<VaultReply> Send(std::string_view method, const std::string& path, const std::string& body,
                          const Secret* token, std::string_view what, const std::vector<int>& accept);

  std::string addr_;
  std::string namespace_;
  std::string auth_ = "token";
  std::string auth_mount_;
  std::string role_id_;
  std::string secret_id_file_;
  std::string role_;
  std::string jwt_file_;
  std::unique_ptr<aws::HttpTransport> own_transport_;
  aws::HttpTransport* transport_ = nullptr;
  Clock* clock_ = nullptr;
  aws::TransportOptions timeouts_;
  VaultRetryPolicy retry_;
  int last_http_status_ = 0;
  std::string last_errors_;
  std::mutex token_mu_;
  Secret token_;
  TimePoint token_refresh_at_{};  // login tokens: log in again from here on
  bool token_expires_ = false;
};

// VAULT_ADDR's form: https, or http to loopback only; no path, query or
// trailing slash. InvalidArgument otherwise.
Result<std::string> NormalizeVaultAddr(std::string_view addr);

}  // namespace keyrotor::destinations
