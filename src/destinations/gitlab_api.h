// A small client for the GitLab REST API v4, as the gitlab: destinations use
// it: the PRIVATE-TOKEN header, rate limits, retries, and GitLab's error
// documents turned into one Status. It rides the aws layer's HttpTransport
// (curl in production): TLS verification and "plain http only to loopback"
// are the same as for every AWS call.
//
// Shapes follow docs.gitlab.com:
//   - "REST API" / "Authentication" (PRIVATE-TOKEN: <token>; 401 for a bad
//     token; errors are {"message": ...} where message is a string or, for a
//     validation error, an object of field -> [texts]);
//   - "Rate limits" (429 with Retry-After in seconds, and RateLimit-Reset as
//     a UTC epoch second);
//   - "Namespaced paths" (a project or group path in :id is URL-encoded,
//     '/' as %2F).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "aws/http.h"
#include "base/clock.h"
#include "base/environment.h"
#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::destinations {

struct GitlabApiSettings {
  std::string api_url;     // empty: CI_API_V4_URL from env, else https://gitlab.com/api/v4
  std::string token_file;  // a file holding the token (whitespace around it ignored)
  EnvMap env;              // GITLAB_TOKEN, CI_API_V4_URL (CI_JOB_TOKEN only to explain a refusal)
};

struct GitlabReply {
  int status = 0;
  std::string body;
};

struct GitlabRetryPolicy {
  int max_attempts = 5;                     // every attempt, rate-limited or failed, counts
  Duration max_rate_limit_wait{120000};     // a longer wait fails at once
  Duration default_rate_limit_wait{60000};  // 429 without Retry-After or RateLimit-Reset
  Duration base_backoff{1000};              // network errors and 5xx: 1 s, 2 s, 4 s...
};

class GitlabApi {
 public:
  // Checks the URL and that a token is there, before any key exists.
  // InvalidArgument naming what is missing, never a token.
  static Result<std::unique_ptr<GitlabApi>> Make(const GitlabApiSettings& settings, aws::HttpTransport* transport,
                                                 Clock* clock, aws::TransportOptions timeouts);

  // METHOD base+path with a JSON `body` (or empty), authenticated, with
  // rate-limit waits and retries. The 2xx reply, or: PermissionDenied (401:
  // token expired or revoked; 403: role or scope), NotFound (404, naming
  // `target`), InvalidArgument (other 4xx; the reply's status is in
  // last_http_status() and its body in last_error_body()), UnknownOutcome
  // (5xx or a timeout after sending, retries spent), NetworkError (never
  // sent, or rate limited for too long). Messages say `what` and GitLab's
  // message, never the token or the body sent.
  Result<GitlabReply> Call(std::string_view method, const std::string& path, const std::string& body,
                           std::string_view what, std::string_view target);

  const std::string& api_url() const { return api_url_; }
  int last_http_status() const { return last_http_status_; }
  const std::string& last_error_body() const { return last_error_body_; }
  void set_retry_policy(GitlabRetryPolicy policy) { retry_ = policy; }

 private:
  GitlabApi() = default;
  std::string api_url_;
  aws::HttpTransport* transport_ = nullptr;
  Clock* clock_ = nullptr;
  aws::TransportOptions timeouts_;
  GitlabRetryPolicy retry_;
  Secret token_;
  int last_http_status_ = 0;
  std::string last_error_body_;
};

// The API URL: https, or http to loopback only; no trailing slash.
Result<std::string> NormalizeGitlabApiUrl(std::string_view url);

// GitLab's "message" as text: a string as is; a validation object as
// "field text; field text" (cut short). Never anything else from the body.
std::string GitlabErrorMessage(const std::string& body);

}  // namespace keyrotor::destinations
