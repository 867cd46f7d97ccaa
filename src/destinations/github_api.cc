#include "destinations/github_api.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/file_util.h"
#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::destinations {
namespace {

constexpr char kDefaultGithubApi[] = "https://api.github.com";
// An installation token lives an hour; one closer than this to its end is
// replaced before use, so a slow rotation never sends one that expires in flight.
constexpr Duration kGithubTokenRefreshMargin{5 * 60 * 1000};

// GitHub's error document: {"message": "...", "documentation_url": "..."}.
// Only "message" is quoted (cut short), never the request.
std::string GithubErrorMessage(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string message;
  if (doc.is_object()) {
    if (auto it = doc.find("message"); it != doc.end() && it->is_string()) message = it->get<std::string>();
  }
  if (message.size() > 300) message = message.substr(0, 300) + "...";
  return message;
}

std::string GithubHeader(const aws::HttpResponse& r, std::string_view name) {
  const std::string* v = aws::FindHeader(r.headers, name);
  return v ? *v : "";
}

std::optional<int64_t> GithubParseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || v < 0) return std::nullopt;
  return v;
}

// How long GitHub asks us to wait before this request may be retried, when
// the reply is a rate limit ("Rate limits for the REST API", "Exceeding the
// rate limit"); nullopt when it is not one.
std::optional<Duration> GithubRateLimitWait(const aws::HttpResponse& r, TimePoint now, Duration secondary) {
  if (r.status != 403 && r.status != 429) return std::nullopt;
  if (auto after = GithubParseInt(GithubHeader(r, "retry-after"))) return Duration(*after * 1000);
  if (GithubHeader(r, "x-ratelimit-remaining") == "0") {
    if (auto reset = GithubParseInt(GithubHeader(r, "x-ratelimit-reset"))) {
      Duration wait = std::chrono::duration_cast<Duration>(std::chrono::seconds(*reset) - now.time_since_epoch());
      return std::max(wait, Duration(1000));
    }
    return secondary;
  }
  // A secondary limit without headers says so in its message; a 403 that
  // does not is a permission error.
  if (r.status == 429 || ToLower(GithubErrorMessage(r.body)).find("rate limit") != std::string::npos) {
    return secondary;
  }
  return std::nullopt;
}

// "writing X (PUT /path): HTTP 404: GitHub says "Not Found" (request id R)".
std::string GithubErrorText(const aws::HttpResponse& r, std::string_view method, const std::string& path,
                            std::string_view what) {
  std::string msg = std::string(what) + " (" + std::string(method) + " " + path + "): HTTP " + std::to_string(r.status);
  std::string github = GithubErrorMessage(r.body);
  if (!github.empty()) msg += ": GitHub says \"" + github + "\"";
  if (std::string id = GithubHeader(r, "x-github-request-id"); !id.empty()) msg += " (request id " + id + ")";
  return msg;
}

Status GithubHttpError(const aws::HttpResponse& r, std::string_view method, const std::string& path,
                       std::string_view what) {
  std::string msg = GithubErrorText(r, method, path, what);
  switch (r.status) {
    case 401:
      return Status::PermissionDenied(msg + " (the token is invalid or expired)");
    case 403:
      return Status::PermissionDenied(msg + " (the token or App lacks the permission)");
    case 404:
      // GitHub answers 404, not 403, for a private repository the token cannot see.
      return Status::NotFound(msg + " (no such repository, environment or organization, or the token cannot see it)");
    default:
      if (r.status >= 500) return Status::UnknownOutcome(msg);
      return Status::InvalidArgument(msg);
  }
}

bool GithubRetriable(const Status& s) {
  return s.code() == StatusCode::kNetworkError || s.code() == StatusCode::kUnknownOutcome;
}

std::string FormatWait(Duration d) { return std::to_string((d.count() + 999) / 1000) + " s"; }

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

Result<std::string> NormalizeGithubApiUrl(std::string_view url) {
  std::string text(Trim(url));
  while (!text.empty() && text.back() == '/') text.pop_back();
  Result<aws::Url> parsed = aws::ParseUrl(text);
  if (!parsed.ok()) return Status::InvalidArgument("GitHub API URL '" + text + "': " + parsed.status().message());
  if (!parsed->query.empty()) return Status::InvalidArgument("GitHub API URL '" + text + "' has a query");
  Status safe = aws::CheckUrlIsSafe(*parsed);
  if (!safe.ok()) return Status::InvalidArgument("GitHub API URL: " + safe.message());
  return text;
}

Result<std::unique_ptr<GithubApi>> GithubApi::Make(const GithubApiSettings& settings, aws::HttpTransport* transport,
                                                   Clock* clock, aws::TransportOptions timeouts) {
  if (transport == nullptr) return Status::Internal("GitHub: no HTTP transport");
  std::unique_ptr<GithubApi> api(new GithubApi());
  api->transport_ = transport;
  api->clock_ = clock ? clock : Clock::Real();
  api->timeouts_ = timeouts;
  std::string url = settings.api_url;
  if (url.empty()) url = EnvValue(settings.env, "GITHUB_API_URL").value_or(kDefaultGithubApi);
  KR_ASSIGN_OR_RETURN(api->api_url_, NormalizeGithubApiUrl(url));

  if (!settings.app_id.empty() || !settings.app_key_file.empty() || !settings.installation_id.empty()) {
    if (settings.app_id.empty() || settings.app_key_file.empty() || settings.installation_id.empty()) {
      return Status::InvalidArgument(
          "GitHub App authentication needs all three of the app id, the private key file and the installation id");
    }
    auto digits = [](const std::string& s) {
      return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
    };
    if (!digits(settings.app_id) || !digits(settings.installation_id)) {
      return Status::InvalidArgument("GitHub App: the app id and the installation id are numbers");
    }
    api->app_id_ = settings.app_id;
    api->app_key_file_ = settings.app_key_file;
    api->installation_id_ = settings.installation_id;
    // Read now, so a missing or unreadable key is refused before any key exists.
    KR_ASSIGN_OR_RETURN(Secret jwt, api->AppJwt());
    return api;
  }
  if (!settings.token_file.empty()) {
    Result<std::string> text = ReadFile(settings.token_file);
    if (!text.ok()) return Status::InvalidArgument("GitHub token file: " + text.status().message());
    std::string token(Trim(*text));
    WipeString(*text);
    if (token.empty()) return Status::InvalidArgument("GitHub token file " + settings.token_file + " is empty");
    api->static_token_ = TakeSecret(token);
    return api;
  }
  for (const char* name : {"GH_TOKEN", "GITHUB_TOKEN"}) {
    if (std::optional<std::string> token = EnvValue(settings.env, name)) {
      api->static_token_ = TakeSecret(*token);
      return api;
    }
  }
  return Status::InvalidArgument(
      "no GitHub credentials: set GH_TOKEN or GITHUB_TOKEN, a token file, or a GitHub App (app id, private key "
      "file, installation id)");
}

Result<Secret> GithubApi::AppJwt() {
  Result<std::string> pem = ReadFile(app_key_file_);
  if (!pem.ok()) return Status::InvalidArgument("GitHub App private key: " + pem.status().message());
  Secret key_pem = TakeSecret(*pem);
  BIO* bio = BIO_new_mem_buf(key_pem.reveal().data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    return Status::InvalidArgument("GitHub App private key " + app_key_file_ + " is not an RSA private key in PEM");
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
  // iat 60 s back against clock drift; exp 9 minutes ahead, under GitHub's 10.
  nlohmann::json claims = {{"iat", now - 60}, {"exp", now + 9 * 60}, {"iss", app_id_}};
  std::string signing_input = Base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})") + "." + Base64UrlEncode(claims.dump());
  std::string signature(static_cast<size_t>(EVP_PKEY_get_size(key)), '\0');
  size_t sig_len = signature.size();
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool signed_ok =
      md && EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(md, reinterpret_cast<unsigned char*>(signature.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  if (!signed_ok) return Status::Internal("GitHub App: signing the JWT failed");
  signature.resize(sig_len);
  std::string jwt = signing_input + "." + Base64UrlEncode(signature);
  return TakeSecret(jwt);
}

Result<Secret> GithubApi::MintInstallationToken() {
  KR_ASSIGN_OR_RETURN(Secret jwt, AppJwt());
  const std::string path = "/app/installations/" + installation_id_ + "/access_tokens";
  int http_status = 0;
  KR_ASSIGN_OR_RETURN(
      GithubReply reply,
      Send("POST", path, "", jwt, "GitHub App " + app_id_ + ": minting an installation token", &http_status));
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  std::string token, expires;
  if (doc.is_object()) {
    if (auto it = doc.find("token"); it != doc.end() && it->is_string()) token = it->get<std::string>();
    if (auto it = doc.find("expires_at"); it != doc.end() && it->is_string()) expires = it->get<std::string>();
  }
  WipeJson(doc);
  if (token.empty()) return Status::ParseError("GitHub App " + app_id_ + ": the installation token reply has no token");
  Result<TimePoint> expires_at = ParseIso8601(expires);
  // Without a readable expiry, assume GitHub's documented hour.
  app_token_expires_ = expires_at.ok() ? *expires_at : clock_->Now() + std::chrono::hours(1);
  app_token_ = TakeSecret(token);
  return app_token_.Clone();
}

Result<Secret> GithubApi::Token(bool refresh) {
  if (app_id_.empty()) return static_token_.Clone();
  std::lock_guard<std::mutex> lock(token_mu_);
  if (!refresh && !app_token_.empty() && clock_->Now() + kGithubTokenRefreshMargin < app_token_expires_) {
    return app_token_.Clone();
  }
  return MintInstallationToken();
}

Result<GithubReply> GithubApi::Call(std::string_view method, const std::string& path, const std::string& body,
                                    std::string_view what) {
  KR_ASSIGN_OR_RETURN(Secret token, Token(false));
  int http_status = 0;
  Result<GithubReply> reply = Send(method, path, body, token, what, &http_status);
  // An installation token can be revoked or expire early (a clock off by
  // minutes): mint a fresh one, once.
  if (!reply.ok() && uses_app() && http_status == 401) {
    KR_ASSIGN_OR_RETURN(Secret fresh, Token(true));
    reply = Send(method, path, body, fresh, what, &http_status);
  }
  last_http_status_ = http_status;
  return reply;
}

Result<GithubReply> GithubApi::Send(std::string_view method, const std::string& path, const std::string& body,
                                    const Secret& token, std::string_view what, int* http_status) {
  aws::HttpRequest request;
  request.method = std::string(method);
  request.url = api_url_ + path;
  request.headers = {{"Accept", "application/vnd.github+json"},
                     {"X-GitHub-Api-Version", "2022-11-28"},
                     {"User-Agent", "keyrotor/" KEYROTOR_VERSION}};
  // Built in place and moved, never copied: the one copy is wiped below.
  std::string authorization = "Bearer ";
  authorization += token.reveal();
  request.headers.emplace_back("Authorization", std::move(authorization));
  if (!body.empty() || method == "PUT" || method == "POST") {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body;
  }
  auto wipe_token = [&request] {
    for (auto& [name, value] : request.headers) {
      if (EqualsIgnoreCase(name, "Authorization")) WipeString(value);
    }
  };
  Status last;
  Duration backoff = retry_.base_backoff;
  int attempt = 1;
  for (;; ++attempt) {
    Result<aws::HttpResponse> response = transport_->Send(request, timeouts_);
    if (response.ok()) *http_status = response->status;
    Duration wait{0};
    if (!response.ok()) {
      last = response.status().WithContext(std::string(what) + " (" + std::string(method) + " " + path + ")");
      if (!GithubRetriable(response.status())) break;
      wait = backoff;
      backoff *= 2;
    } else if (response->status >= 200 && response->status < 300) {
      GithubReply reply;
      reply.status = response->status;
      reply.body = std::move(response->body);
      wipe_token();
      return reply;
    } else if (std::optional<Duration> limited =
                   GithubRateLimitWait(*response, clock_->Now(), retry_.secondary_limit_wait)) {
      // Refused, not applied, and may pass later: transient, like a request
      // that never left (the engine retries it on a later run).
      std::string refused = GithubErrorText(*response, method, path, what);
      if (*limited > retry_.max_rate_limit_wait) {
        last = Status::NetworkError(refused + ": rate limited for another " + FormatWait(*limited) +
                                    ", longer than keyrotor waits (" + FormatWait(retry_.max_rate_limit_wait) +
                                    "); try again later");
        break;
      }
      last = Status::NetworkError(refused + ": rate limited");
      wait = *limited;
    } else if (response->status >= 500) {
      last = GithubHttpError(*response, method, path, what);
      wait = backoff;
      backoff *= 2;
    } else {
      last = GithubHttpError(*response, method, path, what);
      break;
    }
    if (attempt >= retry_.max_attempts) {
      last = last.WithContext("gave up after " + std::to_string(attempt) + " attempts");
      break;
    }
    clock_->SleepFor(wait);
  }
  wipe_token();
  return last;
}

}  // namespace keyrotor::destinations
