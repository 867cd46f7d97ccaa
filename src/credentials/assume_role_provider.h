// A profile's role_arn: credentials from STS AssumeRole, signed with a source
// provider's credentials (source_profile, credential_source, or another
// role for chains).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "aws/client.h"
#include "aws/clients.h"

namespace keyrotor::credentials {

// Asks the person for the current MFA code. Called on each refresh that needs
// one; the code is used once and kept nowhere (not on disk, not in memory).
using MfaTokenCallback = std::function<Result<std::string>()>;

struct AssumeRoleOptions {
  std::string profile{};  // for messages
  std::string role_arn{};
  std::string external_id{};
  std::string role_session_name{};  // empty = keyrotor-<random>
  int duration_seconds = 3600;
  std::string mfa_serial{};
  MfaTokenCallback mfa_token{};  // required when mfa_serial is set
};

class AssumeRoleCredentialsProvider : public aws::CredentialsProvider {
 public:
  // `factory` gives the STS endpoint and settings; calls are signed with `source`.
  AssumeRoleCredentialsProvider(const aws::ClientFactory& factory, std::shared_ptr<aws::CredentialsProvider> source,
                                AssumeRoleOptions options);
  // Calls AssumeRole every time; wrap in CachingCredentialsProvider.
  Result<aws::Credentials> GetCredentials() override;

  const std::string& session_name() const { return options_.role_session_name; }

 private:
  std::string Name() const;

  aws::ClientFactory factory_;
  AssumeRoleOptions options_;
};

}  // namespace keyrotor::credentials
