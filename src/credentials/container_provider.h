// ECS task roles and EKS Pod Identity (aws-wire.md §8): credentials from a
// local HTTP endpoint named by AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
// AWS_CONTAINER_CREDENTIALS_FULL_URI.
//
// Also home of ParseCredentialsJson, the one reader of the JSON credential
// documents that the container endpoint, IMDS and credential_process return.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "aws/client.h"
#include "aws/http.h"
#include "base/clock.h"
#include "base/environment.h"

namespace keyrotor::credentials {

enum class CredentialsJsonFormat {
  // IMDS and the container endpoint: AccessKeyId, SecretAccessKey, Token and
  // Expiration all required (botocore raises on any missing); a "Code" other
  // than "Success" is an error report.
  kMetadata,
  // credential_process: "Version": 1, AccessKeyId and SecretAccessKey
  // required; SessionToken and Expiration (absent = never expires) optional.
  kProcess,
};

// Parses a credentials document. Error messages start with `provider` and
// never quote the document (it holds the secret key). The buffer's copies of
// secrets inside the parsed JSON are wiped before returning.
Result<aws::Credentials> ParseCredentialsJson(std::string_view body, const std::string& provider,
                                              CredentialsJsonFormat format);

struct ContainerOptions {
  EnvMap env{};  // AWS_CONTAINER_* variables
  // Where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI points; tests replace it
  // with a loopback server.
  std::string relative_uri_base = "http://169.254.170.2";
  // botocore ContainerMetadataFetcher: 2 s timeout, 3 attempts, 1 s apart.
  std::chrono::milliseconds timeout{2000};
  int attempts = 3;
  Duration retry_delay{1000};
  Clock* clock = Clock::Real();
};

class ContainerCredentialsProvider : public aws::CredentialsProvider {
 public:
  ContainerCredentialsProvider(aws::HttpTransport* transport, ContainerOptions options);
  Result<aws::Credentials> GetCredentials() override;

  // True when the environment names a container endpoint at all (the chain
  // skips this provider otherwise).
  static bool IsConfigured(const EnvMap& env);

 private:
  Result<std::string> Url() const;
  Result<std::string> AuthorizationHeader() const;

  aws::HttpTransport* transport_;
  ContainerOptions options_;
};

// Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may point at this URL: https,
// a loopback host, or one of the link-local container endpoints.
Status CheckContainerUrlAllowed(const std::string& url);

}  // namespace keyrotor::credentials
