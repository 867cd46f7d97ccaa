// libcurl transport: TLS verification always on, plain http only to loopback,
// keep-alive through a pool of reusable easy handles (each keeps its own
// connection cache), so many threads can have requests in flight at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aws/ca_bundle.h"
#include "aws/http.h"
#include "base/environment.h"
#include "base/secret.h"

namespace keyrotor::aws {

struct CurlTransportOptions {
  std::string ca_bundle;  // AWS_CA_BUNDLE / ca_bundle; empty = the system's (FindCaCertificates)
  EnvMap env;             // SSL_CERT_FILE and SSL_CERT_DIR, read as OpenSSL reads them
  size_t max_idle_handles = 64;
  // In-memory PEM, for a service with its own CA and client certificates (a
  // Kubernetes cluster's kubeconfig holds them as data, not files). ca_pem
  // non-empty: trust only these certificates for https, not the system's.
  // client_cert_pem + client_key_pem: present this certificate (TLS client
  // authentication). All empty: the behaviour is unchanged.
  std::string ca_pem;
  std::string client_cert_pem;
  SharedSecret client_key_pem;
};

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request, const TransportOptions& options) override;

 private:
  void* Acquire();
  void Release(void* handle);

  CurlTransportOptions options_;
  // Found once, at the first https request: plain http to loopback (the
  // sandbox, a Lambda Runtime API) needs no certificates.
  std::once_flag ca_once_;
  Result<CaCertificates> ca_ = Status::Internal("not looked up");
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* kept alive for their open connections
};

// Refuses http:// to anything but a loopback address: credentials and secrets
// travel in these requests.
Status CheckUrlIsSafe(const Url& url);

// "7.88.1 (OpenSSL/3.0.17)": the libcurl this process runs with and its TLS library.
std::string CurlVersion();

}  // namespace keyrotor::aws
