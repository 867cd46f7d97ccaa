#include "aws/sts.h"

namespace keyrotor::aws {
namespace {

constexpr char kStsVersion[] = "2011-06-15";

Result<AssumedRole> ParseAssumed(pugi::xml_node result, const std::string& provider) {
  pugi::xml_node c = result.child("Credentials");
  AssumedRole out;
  out.credentials.access_key_id = ChildText(c, "AccessKeyId");
  out.credentials.secret_access_key = TakeSecretText(c, "SecretAccessKey");
  out.credentials.session_token = TakeSecretText(c, "SessionToken");
  out.credentials.provider = provider;
  if (out.credentials.access_key_id.empty() || out.credentials.secret_access_key.empty() ||
      out.credentials.session_token.empty()) {
    return Status::ParseError(provider + ": response lacks credentials");
  }
  KR_ASSIGN_OR_RETURN(TimePoint expiration, ChildTime(c, "Expiration"));
  out.credentials.expiration = expiration;
  out.assumed_role_id = ChildText(result.child("AssumedRoleUser"), "AssumedRoleId");
  out.arn = ChildText(result.child("AssumedRoleUser"), "Arn");
  return out;
}

}  // namespace

StsClient::StsClient(ClientContext context, ServiceEndpoint endpoint)
    : QueryClient(std::move(context), std::move(endpoint), kStsVersion) {}

Result<CallerIdentity> StsClient::GetCallerIdentity() {
  KR_ASSIGN_OR_RETURN(Reply reply, Call("GetCallerIdentity", {}));
  CallerIdentity id{ChildText(reply.result, "UserId"), ChildText(reply.result, "Account"),
                    ChildText(reply.result, "Arn")};
  if (id.arn.empty() || id.account.empty()) return Status::ParseError("GetCallerIdentity: response lacks Arn or Account");
  return id;
}

Result<AssumedRole> StsClient::AssumeRole(const AssumeRoleRequest& request) {
  QueryParams params{{"RoleArn", request.role_arn},
                     {"RoleSessionName", request.session_name},
                     {"DurationSeconds", std::to_string(request.duration_seconds)}};
  if (!request.external_id.empty()) params.emplace_back("ExternalId", request.external_id);
  if (!request.mfa_serial.empty()) {
    params.emplace_back("SerialNumber", request.mfa_serial);
    params.emplace_back("TokenCode", request.mfa_token);
  }
  KR_ASSIGN_OR_RETURN(Reply reply, Call("AssumeRole", params));
  return ParseAssumed(reply.result, "assume-role " + request.role_arn);
}

Result<AssumedRole> StsClient::AssumeRoleWithWebIdentity(const std::string& role_arn, const std::string& session_name,
                                                         const Secret& web_identity_token, int duration_seconds) {
  QueryParams params{{"RoleArn", role_arn}, {"RoleSessionName", session_name}};
  params.emplace_back("WebIdentityToken", web_identity_token.reveal());
  if (duration_seconds > 0) params.emplace_back("DurationSeconds", std::to_string(duration_seconds));
  KR_ASSIGN_OR_RETURN(Reply reply, Call("AssumeRoleWithWebIdentity", params, {.sign = false}));
  return ParseAssumed(reply.result, "web identity " + role_arn);
}

std::string UserNameFromArn(std::string_view arn) {
  // arn:partition:iam::account:user/[path/]name
  size_t pos = 0;
  for (int i = 0; i < 5; ++i) {
    pos = arn.find(':', pos);
    if (pos == std::string_view::npos) return "";
    ++pos;
  }
  if (arn.substr(0, 4) != "arn:" || arn.find(":iam:") == std::string_view::npos) return "";
  std::string_view resource = arn.substr(pos);
  if (resource.substr(0, 5) != "user/") return "";
  size_t slash = resource.rfind('/');
  return std::string(resource.substr(slash + 1));
}

std::string PolicySourceArn(std::string_view arn) {
  if (!UserNameFromArn(arn).empty()) return std::string(arn);
  // arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) return "";
    parts.emplace_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  std::string_view resource = arn.substr(start);
  if (parts[0] != "arn" || parts[2] != "sts" || resource.substr(0, 13) != "assumed-role/") return "";
  std::string_view rest = resource.substr(13);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return "";
  return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + std::string(rest.substr(0, slash));
}

}  // namespace keyrotor::aws
