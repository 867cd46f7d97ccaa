// The default credential provider chain, in botocore's order (aws-wire.md §8):
//   environment (skipped when --profile names a profile)
//   -> the profile's role (role_arn with source_profile, credential_source or
//      web_identity_token_file; chains of roles, cycles refused)
//   -> web identity from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//   -> the profile's IAM Identity Center (SSO) role, from the token cache
//   -> the profile's static keys in the credentials file
//   -> the profile's credential_process
//   -> the profile's static keys in the config file
//   -> container credentials (AWS_CONTAINER_CREDENTIALS_*)
//   -> EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED.
// Every temporary source is wrapped in a CachingCredentialsProvider, so a
// long run refreshes before expiry, one refresh at a time.
#pragma once

#include <memory>
#include <string>

#include "aws/clients.h"
#include "credentials/assume_role_provider.h"
#include "credentials/shared_config.h"

namespace keyrotor::credentials {

// Only read while resolving: the providers returned copy what they keep.
struct ChainContext {
  EnvMap env;
  const SharedFiles* files = nullptr;
  Settings settings;
  // Settings-based clients without credentials: STS calls of the role providers.
  aws::ClientFactory* unsigned_clients = nullptr;
  aws::HttpTransport* transport = nullptr;
  Clock* clock = Clock::Real();
  MfaTokenCallback mfa_token;  // asked for when a role profile has mfa_serial
};

struct ResolvedCredentials {
  std::shared_ptr<aws::CredentialsProvider> provider;
  std::string source;  // which provider, which profile and where: never a secret
  // botocore's name for the provider (Credentials.method): "env", "assume-role",
  // "assume-role-with-web-identity", "sso", "shared-credentials-file", "custom-process",
  // "config-file", "container-role", "iam-role".
  std::string method;
};

Result<ResolvedCredentials> ResolveCredentialChain(const ChainContext& context);

}  // namespace keyrotor::credentials
