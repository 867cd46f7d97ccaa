// EC2 instance role credentials from the instance metadata service,
// IMDSv2 only (aws-wire.md §7): a session token first, then the role name,
// then the role's credentials. No IMDSv1 fallback: v1 is what SSRF attacks
// on instance credentials exploit, and every current instance serves v2.
#pragma once

#include <chrono>
#include <string>

#include "aws/client.h"
#include "aws/http.h"
#include "base/environment.h"

namespace keyrotor::credentials {

struct ImdsOptions {
  // AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE),
  // AWS_METADATA_SERVICE_TIMEOUT, AWS_METADATA_SERVICE_NUM_ATTEMPTS.
  EnvMap env{};
  // The profile's ec2_metadata_service_endpoint; the environment wins.
  std::string config_endpoint{};
};

class ImdsCredentialsProvider : public aws::CredentialsProvider {
 public:
  ImdsCredentialsProvider(aws::HttpTransport* transport, ImdsOptions options);
  Result<aws::Credentials> GetCredentials() override;

  // Resolved settings, exposed for tests and `whoami`-style diagnostics.
  const std::string& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  int attempts() const { return attempts_; }

 private:
  Result<std::string> FetchToken();
  // One request with the configured attempts; `status_out` gets the HTTP status.
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request);
  // GET with the token, refetching it once when the service answers 401.
  Result<aws::HttpResponse> Get(const std::string& path, std::string& token);

  aws::HttpTransport* transport_;
  std::string endpoint_;  // without a trailing '/'
  std::chrono::milliseconds timeout_{1000};
  int attempts_ = 1;
  bool disabled_ = false;
  Status config_error_;  // a malformed setting, reported by GetCredentials
};

}  // namespace keyrotor::credentials
