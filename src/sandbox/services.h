// The operations the sandbox implements, one table per service. An operation
// runs under the sandbox's state lock with an authenticated caller, checks
// its own authorization (it knows the resource), and returns either its
// output or the AWS error to send.
#pragma once

#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "sandbox/auth.h"
#include "sandbox/state.h"
#include "sandbox/wire.h"

namespace keyrotor::sandbox {

struct OpContext {
  State& state;
  const Principal& caller;
  TimePoint now;
  std::string_view region;  // the region the request was signed for (the sandbox's own when unsigned)
};

using Operation = Result<Reply> (*)(OpContext& ctx, const RoutedRequest& request);

// nullptr when the service has no such operation.
Operation FindIamOperation(std::string_view name);
Operation FindStsOperation(std::string_view name);
Operation FindSnsOperation(std::string_view name);
Operation FindSecretsManagerOperation(std::string_view name);
Operation FindSsmOperation(std::string_view name);
Operation FindOrganizationsOperation(std::string_view name);
Operation FindCloudTrailOperation(std::string_view name);

// The ARN of an AWS quarantine policy attached to the signing user that
// denies it `action` ("iam:CreateAccessKey"); empty when none does.
std::string QuarantineDenial(const State& state, const Principal& caller, const std::string& action);
// Attaches an AWS managed policy the sandbox knows (NoSuchEntity otherwise).
Status AttachPolicyToUser(UserRecord& user, const std::string& policy_arn);
// Records one served request in the account's CloudTrail event history.
void RecordTrail(State& state, Service service, const std::string& operation, const Principal& caller,
                 std::string_view region, std::string source_ip, TimePoint now, const std::string& error_code);

inline Operation FindOperation(Service service, std::string_view name) {
  switch (service) {
    case Service::kIam:
      return FindIamOperation(name);
    case Service::kSts:
      return FindStsOperation(name);
    case Service::kSns:
      return FindSnsOperation(name);
    case Service::kSecretsManager:
      return FindSecretsManagerOperation(name);
    case Service::kSsm:
      return FindSsmOperation(name);
    case Service::kOrganizations:
      return FindOrganizationsOperation(name);
    case Service::kCloudTrail:
      return FindCloudTrailOperation(name);
    case Service::kUnknown:
      break;
  }
  return nullptr;
}

}  // namespace keyrotor::sandbox
