#include "destinations/gitlab_api.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "base/strings.h"

namespace keyrotor::destinations {
namespace {

constexpr char kDefaultGitlabApi[] = "https://gitlab.com/api/v4";

std::string GitlabHeader(const aws::HttpResponse& r, std::string_view name) {
  const std::string* v = aws::FindHeader(r.headers, name);
  return v ? *v : "";
}

std::optional<int64_t> GitlabParseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || v < 0) return std::nullopt;
  return v;
}

// "Rate limits" (docs.gitlab.com/security/rate_limits): a 429 carries
// Retry-After (seconds) and RateLimit-Reset (epoch seconds).
Duration GitlabRateLimitWait(const aws::HttpResponse& r, TimePoint now, Duration fallback) {
  if (auto after = GitlabParseInt(GitlabHeader(r, "retry-after"))) return Duration(*after * 1000);
  if (auto reset = GitlabParseInt(GitlabHeader(r, "ratelimit-reset"))) {
    Duration wait = std::chrono::duration_cast<Duration>(std::chrono::seconds(*reset) - now.time_since_epoch());
    return std::max(wait, Duration(1000));
  }
  return fallback;
}

std::string GitlabErrorText(const aws::HttpResponse& r, std::string_view method, const std::string& path,
                            std::string_view what) {
  std::string msg = std::string(what) + " (" + std::string(method) + " " + path + "): HTTP " + std::to_string(r.status);
  std::string gitlab = GitlabErrorMessage(r.body);
  if (!gitlab.empty()) msg += ": GitLab says \"" + gitlab + "\"";
  return msg;
}

Status GitlabHttpError(const aws::HttpResponse& r, std::string_view method, const std::string& path,
                       std::string_view what, std::string_view target) {
  std::string msg = GitlabErrorText(r, method, path, what);
  switch (r.status) {
    case 401:
      return Status::PermissionDenied(msg + " (the GitLab token is invalid, expired or revoked)");
    case 403:
      return Status::PermissionDenied(msg + " (the token needs the api scope, and its user the Maintainer role on a " +
                                      "project or the Owner role on a group: " + std::string(target) + ")");
    case 404:
      // GitLab answers 404 for a project the token's user cannot see, too.
      return Status::NotFound(msg + " (no such " + std::string(target) + ", or the token's user cannot see it)");
    default:
      if (r.status >= 500) return Status::UnknownOutcome(msg);
      return Status::InvalidArgument(msg);
  }
}

std::string GitlabFormatWait(Duration d) { return std::to_string((d.count() + 999) / 1000) + " s"; }

}  // namespace

std::string GitlabErrorMessage(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string message;
  if (doc.is_object()) {
    auto it = doc.find("message");
    if (it != doc.end() && it->is_string()) {
      message = it->get<std::string>();
    } else if (it != doc.end() && it->is_object()) {
      // A validation error: {"message": {"key": ["(X) has already been taken"]}}.
      for (const auto& [field, texts] : it->items()) {
        if (!message.empty()) message += "; ";
        message += field;
        if (texts.is_array()) {
          for (const auto& t : texts) {
            if (t.is_string()) message += " " + t.get<std::string>();
          }
        }
      }
    } else if (auto e = doc.find("error_description"); e != doc.end() && e->is_string()) {
      // OAuth-style errors from the token check: {"error": "insufficient_scope", "error_description": ...}.
      message = e->get<std::string>();
      if (auto code = doc.find("error"); code != doc.end() && code->is_string()) {
        message = code->get<std::string>() + ": " + message;
      }
    } else if (auto e2 = doc.find("error"); e2 != doc.end() && e2->is_string()) {
      message = e2->get<std::string>();
    }
  }
  if (message.size() > 300) message = message.substr(0, 300) + "...";
  return message;
}

Result<std::string> NormalizeGitlabApiUrl(std::string_view url) {
  std::string text(Trim(url));
  while (!text.empty() && text.back() == '/') text.pop_back();
  Result<aws::Url> parsed = aws::ParseUrl(text);
  if (!parsed.ok()) return Status::InvalidArgument("GitLab API URL '" + text + "': " + parsed.status().message());
  if (!parsed->query.empty()) return Status::InvalidArgument("GitLab API URL '" + text + "' has a query");
  Status safe = aws::CheckUrlIsSafe(*parsed);
  if (!safe.ok()) return Status::InvalidArgument("GitLab API URL: " + safe.message());
  return text;
}

Result<std::unique_ptr<GitlabApi>> GitlabApi::Make(const GitlabApiSettings& settings, aws::HttpTransport* transport,
                                                   Clock* clock, aws::TransportOptions timeouts) {
  if (transport == nullptr) return Status::Internal("GitLab: no HTTP transport");
  std::unique_ptr<GitlabApi> api(new GitlabApi());
  api->transport_ = transport;
  api->clock_ = clock ? clock : Clock::Real();
  api->timeouts_ = timeouts;
  std::string url = settings.api_url;
  // GitLab CI sets CI_API_V4_URL to the instance's API, already ending in /api/v4.
  if (url.empty()) url = EnvValue(settings.env, "CI_API_V4_URL").value_or(kDefaultGitlabApi);
  KR_ASSIGN_OR_RETURN(api->api_url_, NormalizeGitlabApiUrl(url));
  if (!settings.token_file.empty()) {
    Result<std::string> text = ReadFile(settings.token_file);
    if (!text.ok()) return Status::InvalidArgument("GitLab token file: " + text.status().message());
    std::string token(Trim(*text));
    WipeString(*text);
    if (token.empty()) return Status::InvalidArgument("GitLab token file " + settings.token_file + " is empty");
    api->token_ = TakeSecret(token);
    return api;
  }
  if (std::optional<std::string> token = EnvValue(settings.env, "GITLAB_TOKEN")) {
    api->token_ = TakeSecret(*token);
    return api;
  }
  if (EnvValue(settings.env, "CI_JOB_TOKEN")) {
    // "CI/CD job token": a job token reaches only a few endpoints, and the
    // variables API is not among them.
    return Status::InvalidArgument(
        "no GitLab token: only CI_JOB_TOKEN is set, and a CI/CD job token cannot write CI/CD variables; set "
        "GITLAB_TOKEN or a token file with a personal, project or group access token that has the api scope");
  }
  return Status::InvalidArgument(
      "no GitLab token: set GITLAB_TOKEN or a token file (a personal, project or group access token with the api "
      "scope)");
}

Result<GitlabReply> GitlabApi::Call(std::string_view method, const std::string& path, const std::string& body,
                                    std::string_view what, std::string_view target) {
  aws::HttpRequest request;
  request.method = std::string(method);
  request.url = api_url_ + path;
  request.headers = {{"Accept", "application/json"}, {"User-Agent", "keyrotor/" KEYROTOR_VERSION}};
  std::string token_header(token_.reveal());  // moved in, wiped below
  request.headers.emplace_back("PRIVATE-TOKEN", std::move(token_header));
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body;
  }
  auto wipe = [&request] {
    for (auto& [name, value] : request.headers) {
      if (EqualsIgnoreCase(name, "PRIVATE-TOKEN")) WipeString(value);
    }
    WipeString(request.body);
  };
  last_http_status_ = 0;
  last_error_body_.clear();
  Status last;
  Duration backoff = retry_.base_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<aws::HttpResponse> response = transport_->Send(request, timeouts_);
    Duration wait{0};
    if (!response.ok()) {
      last = response.status().WithContext(std::string(what) + " (" + std::string(method) + " " + path + ")");
      const StatusCode code = response.status().code();
      if (code != StatusCode::kNetworkError && code != StatusCode::kUnknownOutcome) break;
      wait = backoff;
      backoff *= 2;
    } else {
      last_http_status_ = response->status;
      if (response->status >= 200 && response->status < 300) {
        wipe();
        return GitlabReply{response->status, std::move(response->body)};
      }
      last_error_body_ = response->body;
      if (response->status == 429) {
        // Refused, not applied: transient, like a request that never left.
        Duration limited = GitlabRateLimitWait(*response, clock_->Now(), retry_.default_rate_limit_wait);
        std::string refused = GitlabErrorText(*response, method, path, what);
        if (limited > retry_.max_rate_limit_wait) {
          last = Status::NetworkError(refused + ": rate limited for another " + GitlabFormatWait(limited) +
                                      ", longer than keyrotor waits (" + GitlabFormatWait(retry_.max_rate_limit_wait) +
                                      "); try again later");
          break;
        }
        last = Status::NetworkError(refused + ": rate limited");
        wait = limited;
      } else if (response->status >= 500) {
        last = GitlabHttpError(*response, method, path, what, target);
        wait = backoff;
        backoff *= 2;
      } else {
        last = GitlabHttpError(*response, method, path, what, target);
        break;
      }
    }
    if (attempt >= retry_.max_attempts) {
      last = last.WithContext("gave up after " + std::to_string(attempt) + " attempts");
      break;
    }
    clock_->SleepFor(wait);
  }
  wipe();
  return last;
}

}  // namespace keyrotor::destinations
