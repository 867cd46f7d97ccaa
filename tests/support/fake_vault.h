// A fake HashiCorp Vault / OpenBao HTTP API on 127.0.0.1 for the vault-kv:
// destination's tests, faithful where keyrotor could get Vault wrong
// (developer.hashicorp.com: "HTTP API", "KV secrets engine - version 2 (API)",
// "Policies", "/sys/capabilities-self", "AppRole auth method (API)",
// "Kubernetes auth method (API)", "Namespaces"):
//  - tokens (X-Vault-Token) carry policies and a TTL on the injectable clock;
//    a missing, unknown or expired token, or a path its policies do not
//    allow, is 403 {"errors":["permission denied"]}. Policy paths match
//    exactly, with a trailing '*' (prefix) or '+' (one segment), the most
//    specific rule winning; a write needs "create" when the secret does not
//    exist yet and "update" when it does, a read "read", DELETE "delete";
//  - namespaces (X-Vault-Namespace): each has its own mounts and secrets; a
//    token made in a namespace works there and below it, with its policy
//    paths relative to its own namespace; an unknown namespace is 404
//    "namespace not found";
//  - KV v2 mounts with versions and metadata: GET MOUNT/data/PATH answers
//    {"data":{"data","metadata"}}, 404 {"errors":[]} when absent, 404 with
//    {"data":{"data":null,"metadata"}} when the latest version is deleted;
//    POST/PUT with options.cas: a mismatch is 400 "check-and-set parameter
//    did not match the current version", no cas where the mount requires it
//    400 "check-and-set parameter required for this call"; DELETE soft-
//    deletes the latest version (204); an unknown mount is 404 "no handler
//    for route";
//  - sys/capabilities-self (in every token's default policy);
//  - AppRole login: role_id and secret_id checked, 400 {"errors":["invalid
//    role or secret ID"]} otherwise (current Vault's text, as hvac reports it
//    in hvac/hvac#1145; older releases said which one was wrong);
//  - Kubernetes login: the fake plays the cluster too: it holds an RSA key
//    pair, issues RS256 service-account JWTs, and a login's JWT must verify
//    against it, with iss = the configured issuer, exp in the future and sub
//    = system:serviceaccount:NS:NAME bound to the role; otherwise 403
//    {"errors":["permission denied"]} (what Vault answers a JWT it rejects,
//    e.g. hashicorp/vault#23211); an unknown role is 400 "invalid role name";
//  - faults queued by the test: any status with Vault's error body (429
//    standby, 503 "Vault is sealed"), a reset after a write was applied
//    (unknown outcome), a concurrent write landing just before the next
//    write (a cas race).
// With tls, the server speaks HTTPS with a self-signed certificate for
// 127.0.0.1 written to cert_path.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aws/http.h"
#include "base/clock.h"
#include "net/http_server.h"

namespace keyrotor::testing {

class FakeVault {
 public:
  struct Options {
    bool tls = false;
    std::string cert_path;   // tls: the server's certificate (PEM) is written here
    Clock* clock = nullptr;  // token TTLs and JWT expiry; null: the real clock
    std::string kubernetes_issuer = "https://kubernetes.default.svc.cluster.local";
  };
  static std::unique_ptr<FakeVault> Start(Options options);
  static std::unique_ptr<FakeVault> Start() { return Start(Options{}); }
  ~FakeVault();

  std::string addr() const;  // "http://127.0.0.1:PORT" (https with tls)

  struct Rule {
    std::string path;                        // "secret/data/app/*"
    std::vector<std::string> capabilities;  // create read update delete list sudo deny root
  };
  void AddPolicy(const std::string& name, std::vector<Rule> rules);
  // A token in namespace `ns` ("" = root) with these policies ("root" allows
  // everything); ttl 0 = never expires.
  void AddToken(const std::string& token, std::vector<std::string> policies,
                std::chrono::seconds ttl = std::chrono::seconds(0), const std::string& ns = "");
  void AddNamespace(const std::string& ns);
  void AddKvMount(const std::string& ns, const std::string& mount, bool cas_required = false);
  void AddAppRole(const std::string& role_id, const std::string& secret_id, std::vector<std::string> policies,
                  std::chrono::seconds ttl, const std::string& mount = "approle");
  void AddKubernetesRole(const std::string& role, const std::string& sa_namespace, const std::string& sa_name,
                         std::vector<std::string> policies, std::chrono::seconds ttl,
                         const std::string& mount = "kubernetes");
  // A service-account token as the cluster would mount it in a pod.
  std::string IssueServiceAccountJwt(const std::string& sa_namespace, const std::string& sa_name,
                                     std::chrono::seconds valid_for = std::chrono::hours(1));

  // The live data of a secret (nullopt: absent or its latest version deleted).
  std::optional<nlohmann::json> Data(const std::string& ns, const std::string& mount, const std::string& path) const;
  int64_t CurrentVersion(const std::string& ns, const std::string& mount, const std::string& path) const;
  // Writes as another client would (a new version).
  void Write(const std::string& ns, const std::string& mount, const std::string& path, nlohmann::json data);
  // The next client write to this secret finds `data` written just before it.
  void WriteBeforeNextWrite(const std::string& ns, const std::string& mount, const std::string& path,
                            nlohmann::json data);

  struct Fault {
    std::string method;         // "" = any
    std::string path_contains;  // "" = any (logins included)
    int status = 0;
    std::string error;          // the "errors" entry
    bool apply_then_reset = false;  // a write: apply it, then reset the connection
    std::string retry_after;        // a Retry-After header, when not empty
  };
  void QueueFault(Fault fault);

  // "METHOD /v1/path [ns=NS]" for every request.
  std::vector<std::string> requests() const;
  // Whether every request carried X-Vault-Request: true.
  bool all_marked_vault_request() const;
  int logins() const;
  // Every token a login issued stops working now (403), before its lease
  // says so: revoked, or a clock ahead of the client's.
  void ExpireLoginTokens();

 private:
  struct Version {
    nlohmann::json data;
    std::string created_time;
    std::string deletion_time;
    bool destroyed = false;
  };
  struct Kv {
    std::vector<Version> versions;  // versions[i] is version i+1
    std::string created_time;
  };
  struct Mount {
    bool cas_required = false;
    std::map<std::string, Kv> secrets;
  };
  struct Token {
    std::vector<std::string> policies;
    std::string ns;
    std::optional<TimePoint> expires;
    bool from_login = false;
  };
  struct Login {
    std::string secret;  // approle: secret_id; kubernetes: "NS/NAME"
    std::vector<std::string> policies;
    std::chrono::seconds ttl{0};
  };
  FakeVault() = default;
  aws::HttpResponse Handle(const aws::HttpRequest& request, net::ResponseControl& control);
  aws::HttpResponse HandleLocked(const std::string& method, const std::string& path, const std::string& query,
                                 const std::string& ns, const aws::HttpRequest& request,
                                 net::ResponseControl& control);
  aws::HttpResponse Kv2(const std::string& method, const std::string& ns, const std::string& mount,
                        const std::string& rel, const std::string& query, const Token& token,
                        const aws::HttpRequest& request);
  aws::HttpResponse LoginReply(const Login& login, const std::string& ns, std::map<std::string, std::string> meta);
  aws::HttpResponse KubernetesLogin(const std::string& mount, const nlohmann::json& body, const std::string& ns);
  std::vector<std::string> Capabilities(const Token& token, const std::string& ns, const std::string& path) const;
  Version& NewVersion(Kv& kv, nlohmann::json data);
  nlohmann::json Metadata(const Kv& kv, size_t index) const;
  TimePoint Now() const;
  std::string NowText() const;
  void TlsLoop();
  void ServeTls(int fd);

  Options options_;
  std::unique_ptr<net::HttpServer> http_;
  int port_ = 0;
  int listen_fd_ = -1;
  void* ssl_ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread tls_thread_;
  std::mutex tls_threads_mu_;
  std::vector<std::thread> tls_threads_;
  void* k8s_key_ = nullptr;  // EVP_PKEY*, the cluster's service-account signing key

  mutable std::mutex mu_;
  std::map<std::string, std::vector<Rule>> policies_;
  std::map<std::string, Token> tokens_;
  std::map<std::string, std::map<std::string, Mount>> mounts_;  // ns -> mount -> ...
  std::map<std::string, std::map<std::string, Login>> approles_;     // mount -> role_id -> login
  std::map<std::string, std::map<std::string, Login>> k8s_roles_;    // mount -> role -> login
  std::map<std::string, nlohmann::json> before_next_write_;          // "ns|mount|path" -> data
  std::vector<Fault> faults_;
  std::vector<std::string> requests_;
  bool all_marked_ = true;
  int logins_ = 0;
};

}  // namespace keyrotor::testing
