// libcurl transport: TLS verification always on, plain http only to loopback,
// keep-alive through a pool of reusable easy handles (each keeps its own
// connection cache), so many threads can have requests in flight at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aws/http.h"

namespace keyrotor::aws {

struct CurlTransportOptions {
  std::string ca_bundle;  // AWS_CA_BUNDLE / ca_bundle; empty = system store
  size_t max_idle_handles = 64;
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
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* kept alive for their open connections
};

// Refuses http:// to anything but a loopback address: credentials and secrets
// travel in these requests.
Status CheckUrlIsSafe(const Url& url);

}  // namespace keyrotor::aws
