// Web identity federation (aws-wire.md §8): an OIDC token from a file (EKS
// IRSA, GitHub Actions) exchanged for role credentials with STS
// AssumeRoleWithWebIdentity, which is sent unsigned.
#pragma once

#include <string>

#include "aws/client.h"
#include "aws/clients.h"

namespace keyrotor::credentials {

struct WebIdentityOptions {
  std::string profile{};       // for messages; empty when from the environment
  std::string token_file{};    // AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file
  std::string role_arn{};      // AWS_ROLE_ARN / role_arn
  std::string session_name{};  // AWS_ROLE_SESSION_NAME / role_session_name; empty = keyrotor-<random>
  int duration_seconds = 0;    // 0 = STS's default (one hour)
};

class WebIdentityCredentialsProvider : public aws::CredentialsProvider {
 public:
  // `sts` only needs an STS endpoint: the call carries no signature.
  WebIdentityCredentialsProvider(aws::ClientFactory sts, WebIdentityOptions options);
  // Re-reads the token file each time: the platform rotates it (EKS hourly).
  Result<aws::Credentials> GetCredentials() override;

  const std::string& session_name() const { return options_.session_name; }

 private:
  std::string Name() const;

  aws::ClientFactory factory_;
  WebIdentityOptions options_;
};

// "keyrotor-" and 16 random hex digits: a valid RoleSessionName that tells
// CloudTrail readers who assumed the role.
std::string RandomSessionName();

}  // namespace keyrotor::credentials
