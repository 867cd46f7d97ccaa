// STS: who am I, and temporary credentials for a role (aws-wire.md §3).
// Roles are a lightweight notion: any arn:aws:iam::ACCT:role/NAME exists, so
// tests need no CreateRole.
#include <charconv>
#include <unordered_map>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/services.h"

namespace keyrotor::sandbox {
namespace {

constexpr int kDefaultDuration = 3600;
constexpr int kMinDuration = 900;
constexpr int kMaxDuration = 43200;
// Role chaining (a role session assuming a role) is capped at one hour.
constexpr int kMaxChainedDuration = 3600;

Status StsValidation(std::string message) { return ApiError(400, "ValidationError", std::move(message)); }

struct RoleRequest {
  std::string account;  // the role's account
  std::string role_arn;
  std::string role_name;
  std::string session_name;
  int duration_seconds = kDefaultDuration;
};

// RoleArn, RoleSessionName and DurationSeconds, shared by both AssumeRole forms.
Result<RoleRequest> ParseRoleRequest(const Params& p) {
  RoleRequest out;
  const std::string* arn = FindParam(p, "RoleArn");
  if (!arn) return StsValidation(NullValidationMessage("roleArn"));
  if (arn->size() < 20 || arn->size() > 2048) {
    return StsValidation(ValidationMessage(*arn, "roleArn",
                                        arn->size() < 20 ? "Member must have length greater than or equal to 20"
                                                         : "Member must have length less than or equal to 2048"));
  }
  // arn:aws:iam::ACCOUNT:role/[path/]NAME
  std::vector<std::string> fields = Split(*arn, ':');
  if (fields.size() != 6 || fields[0] != "arn" || fields[1] != "aws" || fields[2] != "iam" ||
      !StartsWith(fields[5], "role/") || fields[5].back() == '/') {
    return StsValidation(*arn + " is invalid");
  }
  out.account = fields[4];
  out.role_arn = *arn;
  out.role_name = fields[5].substr(fields[5].rfind('/') + 1);
  const std::string* session = FindParam(p, "RoleSessionName");
  if (!session) return StsValidation(NullValidationMessage("roleSessionName"));
  if (session->size() < 2 || session->size() > 64) {
    return StsValidation(ValidationMessage(*session, "roleSessionName",
                                        session->size() < 2 ? "Member must have length greater than or equal to 2"
                                                            : "Member must have length less than or equal to 64"));
  }
  for (unsigned char c : *session) {
    if (!std::isalnum(c) && std::string_view("_+=,.@-").find(static_cast<char>(c)) == std::string_view::npos) {
      return StsValidation(ValidationMessage(*session, "roleSessionName",
                                          "Member must satisfy regular expression pattern: [\\w+=,.@-]*"));
    }
  }
  out.session_name = *session;
  if (const std::string* duration = FindParam(p, "DurationSeconds")) {
    int n = 0;
    auto [ptr, ec] = std::from_chars(duration->data(), duration->data() + duration->size(), n);
    if (ec != std::errc() || ptr != duration->data() + duration->size()) {
      return StsValidation("Invalid value for parameter DurationSeconds: " + *duration);
    }
    if (n < kMinDuration) {
      return StsValidation(
          ValidationMessage(*duration, "durationSeconds", "Member must have value greater than or equal to 900"));
    }
    if (n > kMaxDuration) {
      return StsValidation(
          ValidationMessage(*duration, "durationSeconds", "Member must have value less than or equal to 43200"));
    }
    out.duration_seconds = n;
  }
  return out;
}

// The account whose role is assumed. The home account has every role (the
// sandbox's old, lenient rule); an Organization's member accounts have the
// roles they were made with, each trusting named accounts. A role that does
// not exist and one that does not trust the caller look alike to the caller,
// as in AWS: AccessDenied on the role's ARN.
Result<State*> RoleAccount(OpContext& ctx, const RoleRequest& role, bool check_trust) {
  State* target = ctx.state.world->Find(role.account);
  if (!target) return AccessDenied(Service::kSts, ctx.caller, "sts:AssumeRole", role.role_arn);
  if (target->implicit_roles) {
    if (target != &ctx.state) return AccessDenied(Service::kSts, ctx.caller, "sts:AssumeRole", role.role_arn);
    return target;
  }
  auto it = target->roles.find(role.role_name);
  if (it == target->roles.end() || (check_trust && !it->second.trusted_accounts.count(ctx.state.account_id))) {
    return AccessDenied(Service::kSts, ctx.caller, "sts:AssumeRole", role.role_arn);
  }
  return target;
}

// Sessions long expired are forgotten now and then, so a load test that
// assumes roles in a loop does not grow the sandbox without bound. Recently
// expired ones stay, to answer ExpiredToken rather than InvalidClientTokenId.
void ForgetOldSessions(OpContext& ctx) {
  constexpr size_t kSweepEvery = 4096;
  if (ctx.state.sessions.size() < kSweepEvery || ctx.state.sessions.size() % kSweepEvery != 0) return;
  std::erase_if(ctx.state.sessions,
                [&](const auto& entry) { return entry.second.expiration + std::chrono::hours(1) < ctx.now; });
}

// Issues the session in the role's account `target` and renders Credentials + AssumedRoleUser.
void IssueSession(OpContext& ctx, State& target, const RoleRequest& role, XmlWriter& xml) {
  ForgetOldSessions(ctx);
  RoleSession session;
  do {
    session.access_key_id = NewUniqueId("ASIA", 16);
  } while (target.sessions.count(session.access_key_id) || target.keys.count(session.access_key_id));
  session.secret = NewSecretAccessKey();
  std::string token_bytes = RandomBytes(240);
  session.session_token = Secret(Base64Encode(token_bytes));
  WipeString(token_bytes);
  session.expiration = ctx.now + std::chrono::seconds(role.duration_seconds);
  session.role_name = role.role_name;
  session.assumed_role_id = target.RoleId(role.role_name) + ":" + role.session_name;
  session.assumed_role_arn =
      "arn:aws:sts::" + target.account_id + ":assumed-role/" + role.role_name + "/" + role.session_name;
  xml.Open("Credentials")
      .Leaf("AccessKeyId", session.access_key_id)
      .Leaf("SecretAccessKey", session.secret.reveal())
      .Leaf("SessionToken", session.session_token.reveal())
      .Leaf("Expiration", FormatIso8601(session.expiration))
      .Close("Credentials");
  xml.Open("AssumedRoleUser")
      .Leaf("AssumedRoleId", session.assumed_role_id)
      .Leaf("Arn", session.assumed_role_arn)
      .Close("AssumedRoleUser");
  std::string id = session.access_key_id;
  target.sessions.emplace(std::move(id), std::move(session));
}

Result<Reply> GetCallerIdentity(OpContext& ctx, const RoutedRequest&) {
  XmlWriter xml;
  xml.Leaf("UserId", ctx.caller.id).Leaf("Account", ctx.state.account_id).Leaf("Arn", ctx.caller.arn);
  return Reply::Xml(xml.Take());
}

Result<Reply> AssumeRole(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(RoleRequest role, ParseRoleRequest(request.params));
  if (!IsAllowed(ctx.caller, "sts:AssumeRole", "")) {
    return AccessDenied(Service::kSts, ctx.caller, "sts:AssumeRole", role.role_arn);
  }
  KR_ASSIGN_OR_RETURN(State * target, RoleAccount(ctx, role, /*check_trust=*/true));
  if (ctx.caller.kind == Principal::Kind::kAssumedRole && role.duration_seconds > kMaxChainedDuration) {
    return StsValidation(
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.");
  }
  XmlWriter xml;
  IssueSession(ctx, *target, role, xml);
  return Reply::Xml(xml.Take());
}

// The claims of a JWT's payload, when the token is one (no signature check:
// the sandbox trusts every identity provider).
nlohmann::json JwtClaims(const std::string& token) {
  std::vector<std::string> parts = Split(token, '.');
  if (parts.size() != 3) return nlohmann::json::object();
  std::optional<std::string> payload = Base64Decode(parts[1]);
  if (!payload) return nlohmann::json::object();
  nlohmann::json claims = nlohmann::json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  return claims.is_object() ? claims : nlohmann::json::object();
}

std::string ClaimString(const nlohmann::json& claims, const char* name, std::string fallback) {
  auto it = claims.find(name);
  if (it == claims.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array() && !it->empty() && (*it)[0].is_string())
    return (*it)[0].get<std::string>();  // "aud" may be a list
  return fallback;
}

// Unsigned by design (the model marks it noAuth): the token is the credential.
Result<Reply> AssumeRoleWithWebIdentity(OpContext& ctx, const RoutedRequest& request) {
  const Params& p = request.params;
  const std::string* token = FindParam(p, "WebIdentityToken");
  if (!token) return StsValidation(NullValidationMessage("webIdentityToken"));
  if (token->size() < 4 || token->size() > 20000) {
    // The token is a credential: never echo it back in a message.
    return StsValidation(ValidationMessage("***", "webIdentityToken",
                                        token->size() < 4 ? "Member must have length greater than or equal to 4"
                                                          : "Member must have length less than or equal to 20000"));
  }
  KR_ASSIGN_OR_RETURN(RoleRequest role, ParseRoleRequest(p));
  if (*token == "invalid") {
    return ApiError(400, "InvalidIdentityToken",
                    "The web identity token that was passed could not be validated by AWS. Get a new identity token "
                    "from the identity provider and then retry the request.");
  }
  nlohmann::json claims = JwtClaims(*token);
  if (auto exp = claims.find("exp"); exp != claims.end() && exp->is_number()) {
    auto expires = TimePoint(std::chrono::seconds(exp->get<int64_t>()));
    if (expires <= ctx.now) {
      return ApiError(400, "ExpiredTokenException",
                      "Token expired: current date/time " + FormatIso8601(ctx.now) +
                          " must be before the expiration date/time " + FormatIso8601(expires));
    }
  }
  std::string provider = ClaimString(claims, "iss", "");
  if (provider.empty()) {
    const std::string* provider_id = FindParam(p, "ProviderId");
    provider = provider_id ? *provider_id : "sandbox.keyrotor.local";
  }
  KR_ASSIGN_OR_RETURN(State * target, RoleAccount(ctx, role, /*check_trust=*/false));
  XmlWriter xml;
  IssueSession(ctx, *target, role, xml);
  xml.Leaf("SubjectFromWebIdentityToken", ClaimString(claims, "sub", "web-identity-subject"))
      .Leaf("Provider", provider)
      .Leaf("Audience", ClaimString(claims, "aud", "sts.amazonaws.com"));
  return Reply::Xml(xml.Take());
}

}  // namespace

Operation FindStsOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"GetCallerIdentity", GetCallerIdentity},
      {"AssumeRole", AssumeRole},
      {"AssumeRoleWithWebIdentity", AssumeRoleWithWebIdentity},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
