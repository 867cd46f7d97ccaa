#include "credentials/web_identity_provider.h"

#include "base/crypto.h"
#include "base/file_util.h"
#include "base/strings.h"

namespace keyrotor::credentials {

std::string RandomSessionName() { return "keyrotor-" + HexEncode(RandomBytes(8)); }

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(aws::ClientFactory sts, WebIdentityOptions options)
    : factory_(std::move(sts)), options_(std::move(options)) {
  if (options_.session_name.empty()) options_.session_name = RandomSessionName();
}

std::string WebIdentityCredentialsProvider::Name() const {
  std::string name = "web identity provider";
  if (!options_.profile.empty()) name += " (profile " + options_.profile + ")";
  return name;
}

Result<aws::Credentials> WebIdentityCredentialsProvider::GetCredentials() {
  auto fail = [&](const Status& s) { return s.WithContext(Name()); };
  if (options_.role_arn.empty()) return fail(Status::InvalidArgument("no role ARN (AWS_ROLE_ARN or role_arn)"));
  if (options_.token_file.empty()) {
    return fail(Status::InvalidArgument("no token file (AWS_WEB_IDENTITY_TOKEN_FILE or web_identity_token_file)"));
  }
  Result<std::string> contents = ReadFile(options_.token_file);
  if (!contents.ok()) return fail(contents.status());
  Secret token(std::string(Trim(*contents)));
  WipeString(*contents);
  if (token.empty()) return fail(Status::InvalidArgument("token file " + options_.token_file + " is empty"));

  Result<aws::StsClient> sts = factory_.Sts();
  if (!sts.ok()) return fail(sts.status());
  Result<aws::AssumedRole> role =
      sts->AssumeRoleWithWebIdentity(options_.role_arn, options_.session_name, token, options_.duration_seconds);
  if (!role.ok()) return fail(role.status().WithContext("AssumeRoleWithWebIdentity " + options_.role_arn));
  aws::Credentials creds = std::move(role->credentials);
  creds.provider = Name() + " " + options_.role_arn;
  return creds;
}

}  // namespace keyrotor::credentials
