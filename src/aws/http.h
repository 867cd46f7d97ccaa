// The HTTP seam: clients build an HttpRequest and hand it to an HttpTransport.
// Production uses libcurl (curl_transport.h); tests can pass a fake.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace keyrotor::aws {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Returns the first header with this name (case-insensitive), or nullptr.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);
void SetHeader(HeaderList& headers, std::string_view name, std::string value);

struct HttpRequest {
  std::string method = "POST";
  std::string url;  // scheme://host[:port]/path[?query]
  HeaderList headers;
  std::string body;  // may carry a secret (PutSecretValue): wiped on destruction

  HttpRequest() = default;
  HttpRequest(const HttpRequest&) = default;
  HttpRequest(HttpRequest&&) = default;
  HttpRequest& operator=(const HttpRequest&) = default;
  HttpRequest& operator=(HttpRequest&&) = default;
  ~HttpRequest();
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;
  std::string body;  // may carry a secret (CreateAccessKey): wiped on destruction

  HttpResponse() = default;
  HttpResponse(const HttpResponse&) = default;
  HttpResponse(HttpResponse&&) = default;
  HttpResponse& operator=(const HttpResponse&) = default;
  HttpResponse& operator=(HttpResponse&&) = default;
  ~HttpResponse();
};

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds total_timeout{30000};
};

// Sends one request. A Status of kNetworkError means the request surely did
// not reach the server (e.g. connection refused); kUnknownOutcome means it may
// have (timeout or reset after sending), which matters for non-idempotent calls.
// Implementations must be safe to call from many threads at once.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request, const TransportOptions& options) = 0;
};

struct Url {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // without brackets for IPv6
  int port = 0;        // explicit port, or 0 when absent
  std::string path;    // "/" when absent
  std::string query;   // without '?'

  // "host" or "host:port" as it belongs in a Host header.
  std::string Authority() const;
  bool IsLoopback() const;
  // The link-local endpoints of EC2 instance metadata and ECS/EKS container
  // credentials (169.254.169.254, 169.254.170.2, 169.254.170.23 and their
  // IPv6 forms). They speak plain http and never sit behind a proxy.
  bool IsMetadataEndpoint() const;
};

Result<Url> ParseUrl(std::string_view url);

}  // namespace keyrotor::aws
