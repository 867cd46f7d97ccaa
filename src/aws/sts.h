// STS (query protocol, API 2011-06-15).
#pragma once

#include <optional>
#include <string>

#include "aws/client.h"

namespace keyrotor::aws {

struct CallerIdentity {
  std::string user_id;
  std::string account;
  std::string arn;
};

struct AssumeRoleRequest {
  std::string role_arn;
  std::string session_name;
  int duration_seconds = 3600;
  std::string external_id;
  std::string mfa_serial;
  std::string mfa_token;
};

struct AssumedRole {
  Credentials credentials;
  std::string assumed_role_id;
  std::string arn;
};

class StsClient : public QueryClient {
 public:
  StsClient(ClientContext context, ServiceEndpoint endpoint);
  Result<CallerIdentity> GetCallerIdentity();
  Result<AssumedRole> AssumeRole(const AssumeRoleRequest& request);
  // Sent unsigned: the web identity token is the credential.
  Result<AssumedRole> AssumeRoleWithWebIdentity(const std::string& role_arn, const std::string& session_name,
                                                const Secret& web_identity_token, int duration_seconds = 0);
};

// The IAM user name in an ARN "arn:aws:iam::123456789012:user/path/name", or
// empty when the ARN is not an IAM user's.
std::string UserNameFromArn(std::string_view arn);

// The IAM ARN whose policies apply to a caller: a user's ARN as is; for an
// assumed role "arn:aws:sts::ACCT:assumed-role/ROLE/SESSION" the role's
// "arn:aws:iam::ACCT:role/ROLE" (a role path, absent from the session ARN,
// is not recovered). Empty for anything else.
std::string PolicySourceArn(std::string_view caller_arn);

}  // namespace keyrotor::aws
