// IAM Identity Center (SSO) profiles: the access token that `aws sso login`
// left in ~/.aws/sso/cache is exchanged for role credentials with the portal's
// GetRoleCredentials (GET /federation/credentials, bearer token, unsigned).
// keyrotor never starts a login itself: an expired token is a clear message
// telling the person which `aws sso login` to run.
#pragma once

#include <string>

#include "aws/client.h"
#include "base/environment.h"

namespace keyrotor::credentials {

struct SsoOptions {
  std::string profile;       // for messages and the login hint
  std::string session_name;  // [sso-session NAME]; empty for a legacy profile
  std::string start_url;     // sso_start_url
  std::string sso_region;
  std::string account_id;    // sso_account_id
  std::string role_name;     // sso_role_name
  std::string cache_dir;     // ~/.aws/sso/cache
  std::string portal_url;    // resolved endpoint (AWS_ENDPOINT_URL_SSO or https://portal.sso.REGION.amazonaws.com/)
  Clock* clock = Clock::Real();
};

class SsoCredentialsProvider : public aws::CredentialsProvider {
 public:
  SsoCredentialsProvider(aws::HttpTransport* transport, SsoOptions options);
  Result<aws::Credentials> GetCredentials() override;
  // The cache file botocore and the CLI use: sha1 of the session name (or of
  // the start URL for legacy profiles), hex, ".json".
  std::string CacheFile() const;

 private:
  std::string Name() const;
  Status Expired(const std::string& why) const;

  aws::HttpTransport* transport_;
  SsoOptions options_;
};

}  // namespace keyrotor::credentials
