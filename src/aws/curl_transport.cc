#include "aws/curl_transport.h"

#include <curl/curl.h>

#include "base/strings.h"

namespace keyrotor::aws {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void EnsureCurlGlobal() { static CurlGlobal global; }

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * n);
  if (StartsWith(line, "HTTP/")) {
    // A new status line (after 100 Continue or a redirect): start over.
    response->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    response->headers.emplace_back(std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
  }
  return size * n;
}

Status MapCurlError(CURLcode code, CURL* curl, const std::string& url, const char* errbuf) {
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(code);
  std::string msg = "request to " + url + " failed: " + detail;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return Status::NetworkError(msg);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      // Never retried, never downgraded: the peer is not who it claims to be.
      return Status::FailedPrecondition(msg);
    default:
      break;
  }
  // Did any byte of the request leave? If not, the server cannot have acted on it.
  long request_size = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
  if (request_size == 0) return Status::NetworkError(msg);
  return Status::UnknownOutcome(msg);
}

// CheckUrlIsSafe, plus plain http to the instance-metadata addresses: the
// transport cannot tell who asks, and the IMDS and container providers build
// those URLs themselves. Every service endpoint and webhook URL was held to
// the strict rule where it was resolved (ResolveEndpoint,
// MakeWebhookNotifier), so none reaches this point with such an address.
Status CheckTransportUrl(const Url& url) {
  if (url.scheme == "http" && url.IsMetadataEndpoint()) return Status::Ok();
  return CheckUrlIsSafe(url);
}

}  // namespace

Status CheckUrlIsSafe(const Url& url) {
  if (url.scheme == "https") return Status::Ok();
  if (url.scheme == "http" && url.IsLoopback()) return Status::Ok();
  if (url.scheme == "http" && url.IsMetadataEndpoint()) {
    // Only the metadata credential providers speak to these, over the
    // transport's own rule below. Anything else aimed there (a service
    // endpoint, a webhook) would hand signed requests or event data to
    // whatever answers on the instance's link-local address.
    return Status::InvalidArgument("refusing plain http to the instance-metadata address '" + url.host +
                                   "': only the metadata credential providers (IMDS, container credentials) "
                                   "may use it, not a service endpoint or webhook");
  }
  return Status::InvalidArgument("refusing plain http to non-loopback host '" + url.host +
                                 "': credentials would travel unencrypted (use https)");
}

CurlTransport::CurlTransport(CurlTransportOptions options) : options_(std::move(options)) { EnsureCurlGlobal(); }

CurlTransport::~CurlTransport() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* CurlTransport::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Release(void* handle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_handles) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

Result<HttpResponse> CurlTransport::Send(const HttpRequest& request, const TransportOptions& options) {
  KR_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  KR_RETURN_IF_ERROR(CheckTransportUrl(url));
  if (url.scheme == "https") {
    std::call_once(ca_once_, [this] {
      // Only the given CA: the system's bundle is not consulted (nor required).
      ca_ = options_.ca_pem.empty() ? FindCaCertificates(options_.ca_bundle, options_.env) : CaCertificates{};
    });
    if (!ca_.ok()) return ca_.status();
  }

  CURL* curl = static_cast<CURL*>(Acquire());
  if (!curl) return Status::Internal("curl_easy_init failed");
  // reset keeps the handle's live connections, which is the point of the pool.
  curl_easy_reset(curl);

  HttpResponse response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  // No "Expect: 100-continue" round trip, and no Accept header we did not sign for.
  headers = curl_slist_append(headers, "Expect:");
  if (!FindHeader(request.headers, "accept")) headers = curl_slist_append(headers, "Accept:");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (url.scheme == "https") {
    // Only the certificates found for this system: never libcurl's built-in
    // path, which is the build machine's distribution's.
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_->file.empty() ? nullptr : ca_->file.c_str());
    curl_easy_setopt(curl, CURLOPT_CAPATH, ca_->dir.empty() ? nullptr : ca_->dir.c_str());
    // The blobs are copied by libcurl (CURL_BLOB_COPY) and reset with the handle.
    if (!options_.ca_pem.empty()) {
      curl_blob ca{const_cast<char*>(options_.ca_pem.data()), options_.ca_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!options_.client_cert_pem.empty() && !options_.client_key_pem.empty()) {
      const std::string& key = options_.client_key_pem.get().reveal();
      curl_blob cert{const_cast<char*>(options_.client_cert_pem.data()), options_.client_cert_pem.size(),
                     CURL_BLOB_COPY};
      curl_blob key_blob{const_cast<char*>(key.data()), key.size(), CURL_BLOB_COPY};
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key_blob);
    }
  }
  // Loopback and the metadata endpoints never go through a proxy (a proxy
  // would answer for its own host); everything else honours HTTPS_PROXY/NO_PROXY.
  if (url.IsLoopback() || url.IsMetadataEndpoint()) curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "keyrotor/" KEYROTOR_VERSION);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    }
  }

  CURLcode code = curl_easy_perform(curl);
  Status status;
  if (code != CURLE_OK) {
    status = MapCurlError(code, curl, request.url, errbuf);
  } else {
    long http_status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    response.status = static_cast<int>(http_status);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (code == CURLE_OK) {
    Release(curl);
  } else {
    curl_easy_cleanup(curl);  // its connection is in an unknown state
  }
  if (!status.ok()) return status;
  return response;
}

std::string CurlVersion() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  return std::string(info->version) + (info->ssl_version ? std::string(" (") + info->ssl_version + ")" : "");
}

}  // namespace keyrotor::aws
