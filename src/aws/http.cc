#include "aws/http.h"

#include <arpa/inet.h>

#include "base/secret.h"
#include "base/strings.h"

namespace keyrotor::aws {

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

void SetHeader(HeaderList& headers, std::string_view name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

HttpRequest::~HttpRequest() { WipeString(body); }
HttpResponse::~HttpResponse() { WipeString(body); }

std::string Url::Authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = port == 0 || (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  return default_port ? h : h + ":" + std::to_string(port);
}

bool Url::IsLoopback() const {
  if (EqualsIgnoreCase(host, "localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool Url::IsMetadataEndpoint() const {
  static constexpr const char* kHosts[] = {"169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254",
                                           "fd00:ec2::23"};
  for (const char* h : kHosts) {
    if (EqualsIgnoreCase(host, h)) return true;
  }
  return false;
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return Status::InvalidArgument("URL '" + std::string(text) + "' has no scheme");
  url.scheme = ToLower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::InvalidArgument("URL '" + std::string(text) + "': scheme must be http or https");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("URL '" + std::string(text) + "': credentials in URLs are not accepted");
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("URL '" + std::string(text) + "': bad IPv6 host");
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Status::InvalidArgument("URL '" + std::string(text) + "' has no host");
  if (!port_text.empty()) {
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return Status::InvalidArgument("URL '" + std::string(text) + "': bad port");
      port = port * 10 + (c - '0');
    }
    if (port == 0 || port > 65535) return Status::InvalidArgument("URL '" + std::string(text) + "': bad port");
    url.port = port;
  }
  size_t q = target.find('?');
  url.path = std::string(target.substr(0, q));
  if (url.path.empty()) url.path = "/";
  if (q != std::string_view::npos) url.query = std::string(target.substr(q + 1));
  return url;
}

}  // namespace keyrotor::aws
