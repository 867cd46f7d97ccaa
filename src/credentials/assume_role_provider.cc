#include "credentials/assume_role_provider.h"

#include "credentials/web_identity_provider.h"  // RandomSessionName

namespace keyrotor::credentials {

AssumeRoleCredentialsProvider::AssumeRoleCredentialsProvider(const aws::ClientFactory& factory,
                                                             std::shared_ptr<aws::CredentialsProvider> source,
                                                             AssumeRoleOptions options)
    : factory_(factory.WithCredentials(std::move(source))), options_(std::move(options)) {
  if (options_.role_session_name.empty()) options_.role_session_name = RandomSessionName();
}

std::string AssumeRoleCredentialsProvider::Name() const {
  std::string name = "assume-role provider";
  if (!options_.profile.empty()) name += " (profile " + options_.profile + ")";
  return name;
}

Result<aws::Credentials> AssumeRoleCredentialsProvider::GetCredentials() {
  auto fail = [&](const Status& s) { return s.WithContext(Name()); };
  if (options_.role_arn.empty()) return fail(Status::InvalidArgument("no role_arn"));
  if (!factory_.context().credentials) return fail(Status::InvalidArgument("no source credentials"));

  aws::AssumeRoleRequest request;
  request.role_arn = options_.role_arn;
  request.session_name = options_.role_session_name;
  request.duration_seconds = options_.duration_seconds;
  request.external_id = options_.external_id;
  if (!options_.mfa_serial.empty()) {
    if (!options_.mfa_token) {
      return fail(
          Status::FailedPrecondition("mfa_serial " + options_.mfa_serial + " is set but no MFA code can be asked for"));
    }
    Result<std::string> code = options_.mfa_token();
    if (!code.ok()) return fail(code.status().WithContext("MFA code for " + options_.mfa_serial));
    request.mfa_serial = options_.mfa_serial;
    request.mfa_token = std::move(code).value();
  }

  Result<aws::StsClient> sts = factory_.Sts();
  if (!sts.ok()) return fail(sts.status());
  Result<aws::AssumedRole> role = sts->AssumeRole(request);
  WipeString(request.mfa_token);
  if (!role.ok()) return fail(role.status().WithContext("AssumeRole " + options_.role_arn));
  aws::Credentials creds = std::move(role->credentials);
  creds.provider = Name() + " " + options_.role_arn;
  return creds;
}

}  // namespace keyrotor::credentials
