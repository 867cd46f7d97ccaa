// Who sent a request (SigV4 authentication against the sandbox's keys and
// STS sessions) and what they may do (the sandbox's three permission shapes).
// Error codes and wording follow real AWS: query services answer
// InvalidClientTokenId / SignatureDoesNotMatch (403), JSON 1.1 services
// UnrecognizedClientException / InvalidSignatureException (400).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aws/http.h"
#include "aws/sigv4.h"
#include "base/clock.h"
#include "base/secret.h"
#include "base/status.h"
#include "sandbox/sandbox.h"
#include "sandbox/wire.h"

namespace keyrotor::sandbox {

class State;

struct Principal {
  enum class Kind { kAnonymous, kUser, kAssumedRole };
  Kind kind = Kind::kAnonymous;
  std::string access_key_id;
  std::string user_name;  // kUser
  std::string id;         // AIDA... (user) or AROA...:session (assumed role)
  std::string arn;        // arn:aws:iam::ACCT:user/NAME or arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
  std::string role_name;  // kAssumedRole
  // Role sessions are as permissive as an admin: the sandbox has no role
  // policies, and only admins (or web identities) can obtain them.
  UserPermissions permissions = UserPermissions::kNone;

  bool IsUser() const { return kind == Kind::kUser; }
};

// What verification needs, copied out of the state under the lock so the
// HMAC work happens outside it.
struct SigningIdentity {
  Principal principal;
  Secret secret;
  Secret session_token;  // temporary credentials only
  bool long_term = true;
};

// Step 1, no lock: the Authorization header is present, well formed and
// scoped to the routed service.
Result<aws::ParsedAuthorization> ParseRequestAuthorization(const aws::HttpRequest& request,
                                                           const RoutedRequest& routed);
// Step 2, under the state lock: the key exists and is usable at `now`
// (consistency window, session expiry).
Result<SigningIdentity> LookupSigner(State& state, const RoutedRequest& routed, const aws::ParsedAuthorization& auth,
                                     TimePoint now);
// Step 3, no lock: session token, clock skew (15 minutes) and signature.
Status VerifyRequest(const aws::HttpRequest& request, const RoutedRequest& routed, const aws::ParsedAuthorization& auth,
                     const SigningIdentity& signer, TimePoint now);

// True when `caller` may perform `action` ("iam:CreateAccessKey") on a
// resource owned by IAM user `target_user` (empty when the resource is not a
// user's, e.g. a secret or iam:ListUsers).
bool IsAllowed(const Principal& caller, std::string_view action, std::string_view target_user);
// The actions the "manage your own keys" shape allows on the caller itself.
bool IsSelfServiceAction(std::string_view action);
// The AccessDenied error in the routed service's wording:
// "User: ARN is not authorized to perform: ACTION on resource: RESOURCE because no identity-based policy allows the
// ACTION action".
Status AccessDenied(Service service, const Principal& caller, std::string_view action, std::string_view resource);

}  // namespace keyrotor::sandbox
