// A small client for the Kubernetes API, as the kubernetes: destination uses
// it: where the cluster is and who to be there (a kubeconfig, or the pod's
// service account), TLS with the cluster's own CA and client certificates,
// and the apiserver's Status documents turned into one Status.
//
// Credentials are looked for as kubectl and client-go look for them
// (kubernetes.io, "Organizing Cluster Access Using kubeconfig Files",
// "Configure Access to Multiple Clusters", and "Accessing the Kubernetes API
// from a Pod"):
//   1. an explicit kubeconfig file (settings.kubeconfig) wins;
//   2. else in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT
//      set and the service account's token and ca.crt present (skipped when a
//      context is named: a context only exists in a kubeconfig);
//   3. else KUBECONFIG (only the FIRST file of a colon-separated list: kubectl
//      merges them, keyrotor does not), else ~/.kube/config.
// Users authenticate with token / tokenFile or client-certificate(-data) +
// client-key(-data). exec and auth-provider plugins are refused (keyrotor runs
// no plugin), as is insecure-skip-tls-verify.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "aws/curl_transport.h"
#include "aws/http.h"
#include "base/clock.h"
#include "base/environment.h"
#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::destinations {

struct KubeSettings {
  std::string kubeconfig;           // empty: in-cluster, KUBECONFIG, ~/.kube/config
  std::string context;              // empty: the kubeconfig's current-context
  EnvMap env;                       // KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT, HOME
  std::string service_account_dir;  // empty: /var/run/secrets/kubernetes.io/serviceaccount
};

struct KubeCredentials {
  std::string server;  // https://host[:port], no trailing slash
  std::string ca_pem;  // empty: the system's CAs
  Secret token;
  std::string token_file;  // re-read after a 401 (service-account tokens rotate)
  std::string client_cert_pem;
  Secret client_key_pem;
  std::string source;  // "kubeconfig FILE, context C" or "in-cluster service account", for messages
};

// Finds and reads the credentials. InvalidArgument naming the file and the
// field for a malformed or unusable kubeconfig (never a token or key).
Result<KubeCredentials> LoadKubeCredentials(const KubeSettings& settings);
Result<KubeCredentials> LoadKubeconfig(const std::string& path, const std::string& context);
Result<KubeCredentials> LoadInClusterCredentials(const std::string& service_account_dir, const EnvMap& env);

struct KubeReply {
  int status = 0;
  std::string body;  // a Secret's data: wiped on destruction
  KubeReply() = default;
  KubeReply(KubeReply&&) = default;
  KubeReply& operator=(KubeReply&&) = default;
  ~KubeReply() { WipeString(body); }
};

struct KubeRetryPolicy {
  int max_attempts = 4;
  Duration base_backoff{500};       // 5xx, 429 without Retry-After, network errors: 0.5 s, 1 s, 2 s
  Duration max_retry_after{30000};  // a longer Retry-After is not waited for
};

class KubernetesApi {
 public:
  // Builds the client and its own TLS transport (the cluster's CA and client
  // certificate are not the system's). `clock` outlives the client.
  static Result<std::unique_ptr<KubernetesApi>> Make(KubeCredentials credentials, Clock* clock,
                                                     aws::TransportOptions timeouts);

  // Sends METHOD server+path with a JSON `body` (or none), authenticated,
  // retrying 429, 5xx and requests that never left. Returns the 2xx reply;
  // otherwise a Status whose message says `what`, the HTTP status, and the
  // apiserver's Status message: PermissionDenied (401, 403), NotFound (404),
  // AlreadyExists (409 AlreadyExists), FailedPrecondition (409 Conflict),
  // InvalidArgument (other 4xx), UnknownOutcome (5xx or reset after sending,
  // retries spent), NetworkError (never sent).
  Result<KubeReply> Call(std::string_view method, const std::string& path, const std::string& body,
                         std::string_view what, std::string_view content_type = "application/json");

  // The HTTP status and Status.reason of the last answer (0 / "": none).
  int last_http_status() const { return last_http_status_; }
  const std::string& last_reason() const { return last_reason_; }
  const std::string& source() const { return credentials_.source; }
  void set_retry_policy(KubeRetryPolicy policy) { retry_ = policy; }

 private:
  KubernetesApi() = default;
  Result<KubeReply> Send(std::string_view method, const std::string& path, const std::string& body,
                         std::string_view what, std::string_view content_type);

  KubeCredentials credentials_;
  std::unique_ptr<aws::CurlTransport> transport_;
  Clock* clock_ = nullptr;
  aws::TransportOptions timeouts_;
  KubeRetryPolicy retry_;
  int last_http_status_ = 0;
  std::string last_reason_;
};

// DNS-1123 names ("Object Names and IDs"): a label (namespaces: [a-z0-9-],
// at most 63, alphanumeric at both ends) and a subdomain (Secrets,
// Deployments: labels joined by '.', at most 253).
bool IsDns1123Label(std::string_view s);
bool IsDns1123Subdomain(std::string_view s);

}  // namespace keyrotor::destinations
