// A small client for the GitHub REST API, as the github: destinations use it:
// authentication (a token, or a GitHub App's installation token minted from a
// JWT), rate limits, retries and GitHub's error documents turned into one
// Status. It rides the aws layer's HttpTransport (curl in production), so TLS
// verification and the "plain http only to loopback" rule are the same as for
// every AWS call.
//
// Shapes follow docs.github.com, REST API version 2022-11-28:
//   - "Getting started with the REST API" (Accept, X-GitHub-Api-Version,
//     Authorization: Bearer, a User-Agent is required);
//   - "Rate limits for the REST API" / "Troubleshooting the REST API"
//     (403/429 with retry-after, or x-ratelimit-remaining: 0 until
//     x-ratelimit-reset in UTC epoch seconds, else wait at least a minute);
//   - "Generating a JSON Web Token (JWT) for a GitHub App" (RS256, iat 60 s in
//     the past, exp at most 10 minutes ahead, iss = the app's id) and
//     "Generating an installation access token for a GitHub App"
//     (POST /app/installations/{id}/access_tokens -> 201 {"token","expires_at"}).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "aws/http.h"
#include "base/clock.h"
#include "base/environment.h"
#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::destinations {

// How to reach GitHub and who to be there. Exactly one of: a token (token
// file, else GH_TOKEN, else GITHUB_TOKEN from `env`, as the gh CLI reads them)
// or a GitHub App (app id + private key file + installation id).
struct GithubApiSettings {
  std::string api_url;          // empty: GITHUB_API_URL from env, else https://api.github.com
  std::string token_file;       // a file holding the token (whitespace around it ignored)
  std::string app_id;           // GitHub App: its numeric id (the JWT's iss)
  std::string app_key_file;     // GitHub App: its private key, PEM
  std::string installation_id;  // GitHub App: the installation to act as
  EnvMap env;                   // GH_TOKEN, GITHUB_TOKEN, GITHUB_API_URL
};

struct GithubReply {
  int status = 0;
  std::string body;  // wiped on destruction (an access token reply holds a token)
  GithubReply() = default;
  GithubReply(GithubReply&&) = default;
  GithubReply& operator=(GithubReply&&) = default;
  ~GithubReply() { WipeString(body); }
};

struct GithubRetryPolicy {
  int max_attempts = 5;                  // every attempt, rate-limited or failed, counts
  Duration max_rate_limit_wait{120000};  // a longer wait fails at once, naming when the limit resets
  Duration secondary_limit_wait{60000};  // 403/429 "secondary rate limit" without headers: the docs' minute
  Duration base_backoff{1000};           // network errors and 5xx: 1 s, 2 s, 4 s...
};

class GithubApi {
 public:
  // Checks the settings (the URL, that a token or the App's files are there)
  // before any key exists. `transport` and `clock` outlive the client.
  // InvalidArgument naming what is missing, never a token.
  static Result<std::unique_ptr<GithubApi>> Make(const GithubApiSettings& settings, aws::HttpTransport* transport,
                                                 Clock* clock, aws::TransportOptions timeouts);

  // Sends METHOD base+path with `body` (JSON, or empty), authenticated, with
  // rate-limit waits and retries. Returns the 2xx reply; otherwise a Status
  // whose message says `what`, the HTTP status and GitHub's "message" (never
  // the token or the body sent): PermissionDenied (401, 403), NotFound (404),
  // InvalidArgument (422, other 4xx), UnknownOutcome (5xx or a timeout after
  // sending, once retries are spent), NetworkError (never sent, or refused
  // by a rate limit: not applied, may pass later).
  // A 401 with App auth mints a new installation token and tries once more.
  Result<GithubReply> Call(std::string_view method, const std::string& path, const std::string& body,
                           std::string_view what);

  const std::string& api_url() const { return api_url_; }
  // The HTTP status of the last answer Call() got (0: none), for callers
  // that branch on one (a 422 after GitHub rotated a public key).
  int last_http_status() const { return last_http_status_; }
  bool uses_app() const { return !app_id_.empty(); }
  void set_retry_policy(GithubRetryPolicy policy) { retry_ = policy; }

 private:
  GithubApi() = default;
  // The bearer token for the next request: the static one, or the App's
  // installation token (minted when there is none, when it expires within 5
  // minutes, or when `refresh`).
  Result<Secret> Token(bool refresh);
  Result<Secret> MintInstallationToken();
  Result<Secret> AppJwt();
  // One request with rate-limit waits and retries, authenticated by `token`.
  Result<GithubReply> Send(std::string_view method, const std::string& path, const std::string& body,
                           const Secret& token, std::string_view what, int* http_status);

  std::string api_url_;
  aws::HttpTransport* transport_ = nullptr;
  Clock* clock_ = nullptr;
  aws::TransportOptions timeouts_;
  GithubRetryPolicy retry_;
  int last_http_status_ = 0;
  Secret static_token_;
  std::string app_id_;
  std::string app_key_file_;
  std::string installation_id_;
  std::mutex token_mu_;
  Secret app_token_;
  TimePoint app_token_expires_{};
};

// "github:..." destinations' API URL: https, or http to loopback only; no
// trailing slash. InvalidArgument otherwise.
Result<std::string> NormalizeGithubApiUrl(std::string_view url);

// base64url without padding, as a JWT's three parts are written.
std::string Base64UrlEncode(std::string_view bytes);

}  // namespace keyrotor::destinations
