#include "credentials/imds_provider.h"

#include <charconv>
#include <cmath>

#include "base/strings.h"
#include "credentials/container_provider.h"

namespace keyrotor::credentials {
namespace {

constexpr char kImdsName[] = "IMDS provider";
constexpr char kRolePath[] = "/latest/meta-data/iam/security-credentials/";
constexpr char kTokenHeader[] = "X-aws-ec2-metadata-token";

bool ParseNumber(const std::string& text, double& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && std::isfinite(out);
}

}  // namespace

ImdsCredentialsProvider::ImdsCredentialsProvider(aws::HttpTransport* transport, ImdsOptions options)
    : transport_(transport) {
  const EnvMap& env = options.env;
  disabled_ = EqualsIgnoreCase(EnvValue(env, "AWS_EC2_METADATA_DISABLED").value_or(""), "true");
  if (auto e = EnvValue(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    endpoint_ = *e;
  } else if (!options.config_endpoint.empty()) {
    endpoint_ = options.config_endpoint;
  } else if (EqualsIgnoreCase(EnvValue(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or(""), "ipv6")) {
    endpoint_ = "http://[fd00:ec2::254]";
  } else {
    endpoint_ = "http://169.254.169.254";
  }
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();

  // botocore: float seconds for the timeout, an int for the attempts.
  if (auto t = EnvValue(env, "AWS_METADATA_SERVICE_TIMEOUT")) {
    double seconds = 0;
    if (!ParseNumber(*t, seconds) || seconds <= 0 || seconds > 3600) {
      config_error_ =
          Status::InvalidArgument("AWS_METADATA_SERVICE_TIMEOUT '" + *t + "' is not a positive number of seconds");
    } else {
      timeout_ = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
    }
  }
  if (auto n = EnvValue(env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS")) {
    const std::string& text = *n;
    int value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < 1 || value > 100) {
      config_error_ =
          Status::InvalidArgument("AWS_METADATA_SERVICE_NUM_ATTEMPTS '" + *n + "' is not a count from 1 to 100");
    } else {
      attempts_ = value;
    }
  }
}

Result<aws::HttpResponse> ImdsCredentialsProvider::Send(const aws::HttpRequest& request) {
  aws::TransportOptions timeouts{timeout_, timeout_};
  Status last;
  for (int attempt = 0; attempt < attempts_; ++attempt) {
    Result<aws::HttpResponse> response = transport_->Send(request, timeouts);
    if (!response.ok()) {
      last = response.status();
      continue;
    }
    if (response->status >= 500) {
      last = Status::FailedPrecondition(request.method + " " + request.url + " answered HTTP " +
                                        std::to_string(response->status));
      continue;
    }
    return response;
  }
  return last;
}

Result<std::string> ImdsCredentialsProvider::FetchToken() {
  aws::HttpRequest request;
  request.method = "PUT";
  request.url = endpoint_ + "/latest/api/token";
  // The longest TTL: one token serves the whole sequence, and botocore asks the same.
  request.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
  KR_ASSIGN_OR_RETURN(aws::HttpResponse response, Send(request));
  if (response.status != 200) {
    // 403/404/405 is where botocore would fall back to IMDSv1; we do not.
    return Status::FailedPrecondition("IMDSv2 session token request answered HTTP " + std::to_string(response.status) +
                                      " (IMDSv1 fallback is disabled)");
  }
  std::string token = std::string(Trim(response.body));
  if (token.empty()) return Status::ParseError("IMDSv2 session token response is empty");
  return token;
}

Result<aws::HttpResponse> ImdsCredentialsProvider::Get(const std::string& path, std::string& token) {
  for (int round = 0;; ++round) {
    aws::HttpRequest request;
    request.method = "GET";
    request.url = endpoint_ + path;
    request.headers.emplace_back(kTokenHeader, token);
    KR_ASSIGN_OR_RETURN(aws::HttpResponse response, Send(request));
    // 401: the token expired or the service restarted; a new one fixes it,
    // a second 401 would not.
    if (response.status == 401 && round == 0) {
      WipeString(token);
      KR_ASSIGN_OR_RETURN(token, FetchToken());
      continue;
    }
    if (response.status != 200) {
      return Status::FailedPrecondition("GET " + path + " answered HTTP " + std::to_string(response.status));
    }
    return response;
  }
}

Result<aws::Credentials> ImdsCredentialsProvider::GetCredentials() {
  if (disabled_) return Status::FailedPrecondition(std::string(kImdsName) + ": disabled by AWS_EC2_METADATA_DISABLED");
  auto fail = [](const Status& s) { return s.WithContext(kImdsName); };
  if (!config_error_.ok()) return fail(config_error_);

  Result<std::string> token = FetchToken();
  if (!token.ok()) return fail(token.status());
  struct Wiper {
    std::string& s;
    ~Wiper() { WipeString(s); }
  } wipe_token{*token};

  Result<aws::HttpResponse> roles = Get(kRolePath, *token);
  if (!roles.ok()) return fail(roles.status());
  std::string role = std::string(Trim(roles->body.substr(0, roles->body.find('\n'))));
  if (role.empty()) return fail(Status::NotFound("the instance has no IAM role attached"));
  if (role.find_first_of("/?#") != std::string::npos) {
    return fail(Status::ParseError("role name '" + role + "' is not a valid IAM role name"));
  }

  Result<aws::HttpResponse> doc = Get(kRolePath + role, *token);
  if (!doc.ok()) return fail(doc.status());
  return ParseCredentialsJson(doc->body, std::string(kImdsName) + " (role " + role + ")", CredentialsJsonFormat::kMetadata);
}

}  // namespace keyrotor::credentials
