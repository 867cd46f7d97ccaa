#include "sandbox/auth.h"

#include <openssl/crypto.h>

#include <array>

#include "base/strings.h"
#include "sandbox/state.h"

namespace keyrotor::sandbox {
namespace {

constexpr char kInvalidToken[] = "The security token included in the request is invalid.";
constexpr char kSignatureMismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details.";
// AWS accepts X-Amz-Date within 15 minutes of its own clock either way.
constexpr auto kMaxSkew = std::chrono::minutes(15);

Status InvalidToken(const RoutedRequest& routed) {
  return routed.json_protocol ? ApiError(400, "UnrecognizedClientException", kInvalidToken)
                              : ApiError(403, "InvalidClientTokenId", kInvalidToken);
}

Status SignatureError(const RoutedRequest& routed, std::string message) {
  return routed.json_protocol ? ApiError(400, "InvalidSignatureException", std::move(message))
                              : ApiError(403, "SignatureDoesNotMatch", std::move(message));
}

Status IncompleteSignature(const RoutedRequest& routed, std::string message) {
  return routed.json_protocol ? ApiError(400, "IncompleteSignatureException", std::move(message))
                              : ApiError(400, "IncompleteSignature", std::move(message));
}

Status ExpiredToken(const RoutedRequest& routed) {
  constexpr char kMessage[] = "The security token included in the request is expired";
  return routed.json_protocol ? ApiError(400, "ExpiredTokenException", kMessage)
                              : ApiError(403, "ExpiredToken", kMessage);
}

bool SecretEquals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The "manage your own access keys" policy's actions (IAM user guide example
// "Allows IAM users to manage their own access keys"), plus GetUser.
constexpr std::array<std::string_view, 6> kSelfServiceActions = {
    "iam:GetUser",         "iam:ListAccessKeys",  "iam:CreateAccessKey",
    "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed",
};

}  // namespace

Result<aws::ParsedAuthorization> ParseRequestAuthorization(const aws::HttpRequest& request,
                                                           const RoutedRequest& routed) {
  const std::string* header = aws::FindHeader(request.headers, "authorization");
  if (!header || Trim(*header).empty()) {
    return routed.json_protocol
               ? ApiError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
               : ApiError(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  Result<aws::ParsedAuthorization> parsed = aws::ParseAuthorization(*header);
  if (!parsed.ok()) return IncompleteSignature(routed, parsed.status().message());
  std::string_view expected = SigningName(routed.service);
  if (parsed->scope.service != expected) {
    return SignatureError(routed, "Credential should be scoped to correct service: '" + std::string(expected) + "'. ");
  }
  if (!aws::FindHeader(request.headers, "x-amz-date")) {
    return IncompleteSignature(routed,
                               "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  return parsed;
}

Result<SigningIdentity> LookupSigner(State& state, const RoutedRequest& routed, const aws::ParsedAuthorization& auth,
                                     TimePoint now) {
  state.PurgeDeletedKeys(now);
  const std::string& id = auth.access_key_id;
  if (auto it = state.sessions.find(id); it != state.sessions.end()) {
    const RoleSession& session = it->second;
    if (now >= session.expiration) return ExpiredToken(routed);
    SigningIdentity out;
    out.principal.kind = Principal::Kind::kAssumedRole;
    out.principal.access_key_id = id;
    out.principal.id = session.assumed_role_id;
    out.principal.arn = session.assumed_role_arn;
    out.principal.role_name = session.role_name;
    out.principal.permissions = UserPermissions::kAdmin;
    out.secret = session.secret.Clone();
    out.session_token = session.session_token.Clone();
    out.long_term = false;
    return out;
  }
  auto it = state.keys.find(id);
  if (it == state.keys.end() || !it->second.SignsAt(now, state.consistency)) return InvalidToken(routed);
  const UserRecord* user = state.FindUser(it->second.user_key);
  if (!user || user->id != it->second.user_id) return InvalidToken(routed);
  SigningIdentity out;
  out.principal.kind = Principal::Kind::kUser;
  out.principal.access_key_id = id;
  out.principal.user_name = user->name;
  out.principal.id = user->id;
  out.principal.arn = user->arn;
  out.principal.permissions = user->permissions;
  out.secret = it->second.secret.Clone();
  return out;
}

Status VerifyRequest(const aws::HttpRequest& request, const RoutedRequest& routed, const aws::ParsedAuthorization& auth,
                     const SigningIdentity& signer, TimePoint now) {
  const std::string* token = aws::FindHeader(request.headers, "x-amz-security-token");
  if (signer.long_term ? token != nullptr : (!token || !SecretEquals(*token, signer.session_token.reveal()))) {
    return InvalidToken(routed);
  }
  const std::string& amz_date = *aws::FindHeader(request.headers, "x-amz-date");
  Result<TimePoint> signed_at = ParseAmzDate(amz_date);
  if (!signed_at.ok()) {
    return IncompleteSignature(routed, "Date must be in ISO-8601 'basic format'. Got '" + amz_date + "'.");
  }
  if (*signed_at < now - kMaxSkew) {
    return SignatureError(routed, "Signature expired: " + amz_date + " is now earlier than " +
                                      FormatAmzDate(now - kMaxSkew) + " (" + FormatAmzDate(now) + " - 15 min.)");
  }
  if (*signed_at > now + kMaxSkew) {
    return SignatureError(routed, "Signature not yet current: " + amz_date + " is still later than " +
                                      FormatAmzDate(now + kMaxSkew) + " (" + FormatAmzDate(now) + " + 15 min.)");
  }
  if (!aws::VerifySignature(request, auth, signer.secret)) return SignatureError(routed, kSignatureMismatch);
  return Status::Ok();
}

bool IsSelfServiceAction(std::string_view action) {
  for (std::string_view a : kSelfServiceActions) {
    if (EqualsIgnoreCase(a, action)) return true;
  }
  return false;
}

bool IsAllowed(const Principal& caller, std::string_view action, std::string_view target_user) {
  if (caller.permissions == UserPermissions::kAdmin) return true;
  // GetCallerIdentity needs no permission: AWS answers it even when an explicit deny covers it.
  if (EqualsIgnoreCase(action, "sts:GetCallerIdentity")) return true;
  return caller.IsUser() && caller.permissions == UserPermissions::kSelfManageKeys && IsSelfServiceAction(action) &&
         !target_user.empty() && EqualsIgnoreCase(target_user, caller.user_name);
}

Status AccessDenied(Service service, const Principal& caller, std::string_view action, std::string_view resource) {
  std::string message = "User: " + caller.arn + " is not authorized to perform: " + std::string(action) +
                        " on resource: " + std::string(resource) + " because no identity-based policy allows the " +
                        std::string(action) + " action";
  switch (service) {
    case Service::kSns:
      return ApiError(403, "AuthorizationError", std::move(message));
    case Service::kSecretsManager:
    case Service::kSsm:
    case Service::kOrganizations:
    case Service::kCloudTrail:
      return ApiError(400, "AccessDeniedException", std::move(message));
    default:
      return ApiError(403, "AccessDenied", std::move(message));
  }
}

}  // namespace keyrotor::sandbox
