// A fake Kubernetes API server on 127.0.0.1 over TLS, for the kubernetes:
// destination's tests and for kubectl. Faithful where a client could get the
// API wrong (kubernetes.io, "Kubernetes API" reference: Secret v1, Deployment
// v1, SelfSubjectAccessReview v1; "API Concepts": resourceVersion, Status):
//  - authentication: "Authorization: Bearer T" for a known, unexpired token,
//    or a TLS client certificate that chains to the fake's client CA (the
//    subject's CN is the user name); anything else is 401 with a Status
//    {"kind":"Status","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401};
//  - authorization: RBAC-like rules per user (verbs, API group, resource,
//    namespace, resourceNames); a denied request is 403 with the apiserver's
//    message: secrets "x" is forbidden: User "u" cannot update resource
//    "secrets" in API group "" in the namespace "ns";
//  - Secrets: GET/POST/PUT/DELETE; every write takes a new resourceVersion
//    from one counter; a PUT whose metadata.resourceVersion is not the
//    current one is 409 Conflict; a POST of an existing name is 409
//    AlreadyExists; a missing one is 404 NotFound; data values must be
//    base64 (else 422 Invalid);
//  - Deployments: GET, and PATCH with application/strategic-merge-patch+json
//    merging spec.template.metadata.annotations (generation + 1 when the
//    template changes, as the controller sees a new template);
//  - SelfSubjectAccessReview: answers from the same rules;
//  - discovery for kubectl: /version, /api, /api/v1, /apis, /apis/apps/v1.
// Faults queued by the test: a status with a Status body, a reset after a
// write was applied (unknown outcome), a 409 Conflict.
#pragma once

#include <atomic>
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

class FakeKubernetes {
 public:
  struct Options {
    Clock* clock = nullptr;  // token expiry; null: the real clock
  };
  static std::unique_ptr<FakeKubernetes> Start(Options options);
  static std::unique_ptr<FakeKubernetes> Start() { return Start(Options{}); }
  ~FakeKubernetes();

  std::string server() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // The CA that signed the server's certificate (PEM), as a kubeconfig's
  // certificate-authority-data carries it.
  const std::string& ca_pem() const { return ca_pem_; }

  // A bearer token for `user`, valid until `expires` (default: forever).
  void AddToken(const std::string& token, const std::string& user, std::optional<TimePoint> expires = std::nullopt);
  void ExpireToken(const std::string& token);
  // A client certificate and key (PEM) for `user`, signed by the client CA.
  struct ClientCert {
    std::string cert_pem;
    std::string key_pem;
  };
  ClientCert IssueClientCert(const std::string& user);
  // One that chains to no CA the fake trusts.
  static ClientCert SelfSignedClientCert(const std::string& user);

  // RBAC: `user` may do `verbs` on `resource` ("secrets", "deployments",
  // "selfsubjectaccessreviews" is always allowed) in `namespace_`; empty
  // resource_names: any.
  struct Rule {
    std::vector<std::string> verbs;
    std::string resource;
    std::string namespace_;
    std::vector<std::string> resource_names;
  };
  void Allow(const std::string& user, Rule rule);
  // Full access to secrets and deployments in `ns`.
  void AllowAll(const std::string& user, const std::string& ns);

  // Secrets as stored: data decoded.
  struct StoredSecret {
    std::map<std::string, std::string> data;
    std::map<std::string, std::string> labels;
    std::string type;
    std::string resource_version;
  };
  std::optional<StoredSecret> Secret(const std::string& ns, const std::string& name) const;
  // Creates or replaces a Secret as another writer would (new resourceVersion).
  void PutSecret(const std::string& ns, const std::string& name, const std::map<std::string, std::string>& data);
  void AddDeployment(const std::string& ns, const std::string& name);
  // The deployment's spec.template.metadata.annotations[key] ("" if none), and its generation.
  std::string DeploymentAnnotation(const std::string& ns, const std::string& name, const std::string& key) const;
  int DeploymentGeneration(const std::string& ns, const std::string& name) const;

  struct Fault {
    std::string method;  // "" = any
    std::string path_contains;
    int status = 0;
    std::string reason;
    bool apply_then_reset = false;  // the write is applied, then the connection reset
    // Before answering this request, another writer changes the Secret (a
    // concurrent update: the request's resourceVersion becomes stale).
    bool concurrent_write = false;
    int retry_after = -1;  // >= 0: a Retry-After header (seconds) on the answer
  };
  void QueueFault(Fault fault);

  std::vector<std::string> requests() const;  // "METHOD /path" in order
  std::vector<std::string> users() const;     // who each request was authenticated as

 private:
  FakeKubernetes() = default;
  void Loop();
  void Serve(int fd);
  aws::HttpResponse Handle(const aws::HttpRequest& request, const std::string& cert_user,
                           net::ResponseControl& control);
  aws::HttpResponse HandleLocked(const std::string& method, const std::string& path, const aws::HttpRequest& request,
                                 const std::string& user, net::ResponseControl& control, bool apply_then_reset);
  bool Allowed(const std::string& user, const std::string& verb, const std::string& resource, const std::string& ns,
               const std::string& name) const;
  std::string NextVersion() { return std::to_string(++revision_); }
  TimePoint Now() const;

  Options options_;
  int port_ = 0;
  int listen_fd_ = -1;
  void* ssl_ctx_ = nullptr;
  void* client_ca_key_ = nullptr;   // EVP_PKEY*
  void* client_ca_cert_ = nullptr;  // X509*
  std::string ca_pem_;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;

  mutable std::mutex mu_;
  int64_t revision_ = 1000;
  std::map<std::string, std::pair<std::string, std::optional<TimePoint>>> tokens_;  // token -> user, expiry
  std::map<std::string, std::vector<Rule>> rules_;
  std::map<std::string, nlohmann::json> secrets_;      // "ns/name" -> object
  std::map<std::string, nlohmann::json> deployments_;  // "ns/name" -> object
  std::vector<Fault> faults_;
  std::vector<std::string> requests_;
  std::vector<std::string> users_;
};

}  // namespace keyrotor::testing
