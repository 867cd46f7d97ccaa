// The sandbox: keyrotor's own AWS-compatible endpoint for tests, the demo and
// benchmarks. Handle() is a pure function of one HTTP request (plus the
// sandbox's state and clock), so every AWS behaviour it imitates is unit-
// testable without sockets; src/net's server only carries bytes to it.
//
// It speaks IAM, STS and SNS (query protocol) and Secrets Manager and SSM
// (JSON 1.1) as real AWS clients expect (shared/reference/aws-wire.md),
// verifies SigV4 on every request, and can misbehave on purpose: latency,
// injected 500/503/connection resets, throttling, and IAM's eventual
// consistency for new and deleted keys.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/http.h"
#include "base/clock.h"
#include "base/secret.h"
#include "base/status.h"
#include "net/http_server.h"  // net::ResponseControl

namespace keyrotor::sandbox {

struct SandboxOptions {
  std::string account_id = "123456789012";
  std::string region = "us-east-1";
  int latency_ms = 0;  // added to every response (ResponseControl::delay)
  // Probability of an injected fault per request, split evenly between HTTP 500
  // (InternalFailure / ServiceFailure), 503 ServiceUnavailable and a
  // connection reset. A faulted request's operation does not happen.
  double fail_rate = 0;
  // Requests per second over all requests (token bucket, burst max(1, rps));
  // 0 = off. Excess answers "Throttling"/"Rate exceeded" (query) or
  // ThrottlingException (JSON), HTTP 400.
  double throttle_rps = 0;
  // IAM eventual consistency: a new (or re-activated) key signs successfully
  // only this long after the change; a deleted or deactivated key keeps
  // working for this long.
  int consistency_ms = 0;
  // IAM's own per-account limit: IAM requests per second each account
  // accepts (token bucket, burst max(1, rps): a second's worth); 0 = off.
  // Excess answers Throttling.
  double iam_rps_per_account = 0;
  // How long a credential report takes to generate (GenerateCredentialReport
  // answers STARTED, then INPROGRESS until it is COMPLETE).
  int credential_report_ms = 0;
  // CloudTrail LookupEvents requests per second per account and region
  // (AWS's quota: 2); 0 = off. Excess answers ThrottlingException.
  double cloudtrail_lookup_rps = 2;
  uint64_t seed = 0;  // 0 = random; otherwise the fault sequence is reproducible
  Clock* clock = Clock::Real();
};

// What a user may do. Real IAM evaluates policies; the sandbox keeps the
// three shapes keyrotor's tests need.
enum class UserPermissions {
  kNone,            // only sts:GetCallerIdentity (which needs no permission in AWS either)
  kSelfManageKeys,  // the common "manage your own access keys" policy (the default)
  kAdmin,           // everything
};

// A user created with CreateUser may be given permissions over the wire with
// this tag (values "admin", "self", "none"), so tests driving the sandbox
// with real AWS clients can make a user that lacks rights.
inline constexpr char kPermissionsTag[] = "keyrotor:sandbox-permissions";

struct KeyUse {
  TimePoint when;
  std::string service;  // "iam", "sts", ...
  std::string region;
};

// A read-only view of one access key, for tests.
struct KeyInfo {
  std::string user;
  std::string access_key_id;
  bool active = true;
  TimePoint created;
  std::optional<KeyUse> last_used;
};

struct PublishedMessage {
  std::string topic_arn;
  std::string message_id;
  std::string subject;
  std::string message;
  std::map<std::string, std::string> attributes;  // MessageAttributes: name -> string value
  TimePoint published;
};

class State;
struct World;
class FaultInjector;
class TokenBucket;

// The path on the sandbox's port that answers the per-account request counts
// (GET: JSON {"ACCOUNT": {"iam:ListUsers": N, ...}}; DELETE: reset them).
inline constexpr char kCallCountsPath[] = "/keyrotor-sandbox/calls";
// POST ?access_key_id=AKIA...[&event_type=AWS_RISK_...]: Sandbox::ExposeKey
// over HTTP; answers the AWS Health event.
inline constexpr char kExposePath[] = "/keyrotor-sandbox/expose";
// A request header that sets the source IP CloudTrail records (default 127.0.0.1).
inline constexpr char kSourceIpHeader[] = "x-keyrotor-sandbox-source-ip";

class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Handles one HTTP request; sets control.delay (latency) and
  // control.reset_connection (an injected reset: the response is then unused).
  // Safe to call from many threads at once.
  aws::HttpResponse Handle(const aws::HttpRequest& request, net::ResponseControl& control);

  // --- Direct, unsigned helpers for tests and the demo -----------------------
  struct IssuedKey {
    std::string user;
    std::string access_key_id;
    Secret secret;
  };
  // Creates an admin user with one active key. An existing user of that name
  // becomes admin and gets a new key; when it already has two keys the
  // returned access_key_id is empty.
  IssuedKey CreateAdmin(std::string user_name);
  // Creates a user (self-managing its keys) with one key, optionally back-dated
  // for seeding fleets with old keys.
  Result<IssuedKey> CreateUserWithKey(const std::string& user, std::optional<TimePoint> key_created_at = {});
  Status SetUserPermissions(const std::string& user, UserPermissions permissions);

  // --- AWS Organizations -----------------------------------------------------
  // The home account becomes an Organization's management account. Idempotent.
  void CreateOrganization();
  std::string OrganizationRootId() const;
  // An OU under `parent_id` (the root or another OU); its id.
  Result<std::string> CreateOrganizationalUnit(const std::string& parent_id, const std::string& name);
  // A member account under `parent_id` with its own IAM. `role_name` (empty:
  // none) is a role trusting the management account, as Organizations makes
  // OrganizationAccountAccessRole in the accounts it creates. `state`:
  // ACTIVE, SUSPENDED, PENDING_CLOSURE or CLOSED. Returns the account id.
  Result<std::string> CreateMemberAccount(const std::string& name, const std::string& parent_id,
                                          const std::string& role_name = "OrganizationAccountAccessRole",
                                          const std::string& state = "ACTIVE");
  // A role in `account_id` trusting `trusted_account_id`.
  Status CreateRole(const std::string& account_id, const std::string& role_name, const std::string& trusted_account_id);
  Status RegisterDelegatedAdministrator(const std::string& account_id);
  // An explicit deny of `action` ("iam:GetAccountAuthorizationDetails") for
  // every principal in `account_id`, as an SCP would; AccessDenied naming it.
  Status DenyAction(const std::string& account_id, const std::string& action);
  // Attaches an AWS managed policy (the quarantine policies:
  // arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3) to a user directly.
  Status AttachUserPolicyIn(const std::string& account_id, const std::string& user, const std::string& policy_arn);
  std::vector<std::string> AttachedUserPolicies(const std::string& account_id, const std::string& user) const;
  // What AWS does when it finds `access_key_id` in a public place: attaches
  // AWSCompromisedKeyQuarantineV3 to its user and sends an AWS Health event,
  // returned here as EventBridge delivers it (JSON). NotFound for an unknown key.
  Result<std::string> ExposeKey(const std::string& access_key_id,
                                const std::string& event_type_code = "AWS_RISK_CREDENTIALS_EXPOSED");
  // Every account's id, the home account first.
  std::vector<std::string> AccountIds() const;

  // The helpers above and below work in the home account; these in another.
  Result<IssuedKey> CreateUserWithKeyIn(const std::string& account_id, const std::string& user,
                                        std::optional<TimePoint> key_created_at = {});
  std::vector<KeyInfo> ListKeysIn(const std::string& account_id, const std::string& user) const;
  // Tags a user directly (no request, no count), for seeding fleets.
  Status TagUserIn(const std::string& account_id, const std::string& user, const std::string& key,
                   const std::string& value);

  // Authenticated requests per account and action ("iam:ListAccessKeys"),
  // counted whatever their outcome (also when IAM's per-account limit
  // throttled them; those are counted again under "throttled"). What
  // benchmarks and tests read as "calls per pass".
  using CallCounts = std::map<std::string, std::map<std::string, uint64_t>>;
  CallCounts call_counts() const;
  void ResetCallCounts();

  // --- Read-only introspection -----------------------------------------------
  bool UserExists(const std::string& user) const;  // (home account)
  // Live keys of a user in creation order (empty when the user does not exist).
  std::vector<KeyInfo> ListKeys(const std::string& user) const;
  size_t KeyCount(const std::string& user) const { return ListKeys(user).size(); }
  std::optional<KeyInfo> GetKey(const std::string& access_key_id) const;
  // Messages published to a topic (all topics when empty), oldest first.
  std::vector<PublishedMessage> PublishedMessages(const std::string& topic_arn = "") const;
  // The AWSCURRENT (or another stage's) value of a Secrets Manager secret.
  std::optional<Secret> SecretValue(const std::string& name, const std::string& stage = "AWSCURRENT") const;
  // The latest value of an SSM parameter (decrypted).
  std::optional<Secret> ParameterValue(const std::string& name) const;

  struct Stats {
    uint64_t requests = 0;
    uint64_t faults_injected = 0;  // 500s, 503s and resets
    uint64_t throttled = 0;
    uint64_t auth_failures = 0;
  };
  Stats stats() const;

  const SandboxOptions& options() const { return options_; }

 private:
  SandboxOptions options_;
  std::unique_ptr<FaultInjector> faults_;
  State* InAccount(const std::string& account_id) const;  // mu_ held; nullptr when unknown

  mutable std::mutex mu_;  // guards world_ and calls_; never held while verifying a signature or sleeping
  std::unique_ptr<World> world_;
  State* state_;  // the home account, in world_
  CallCounts calls_;
  std::map<std::string, std::unique_ptr<TokenBucket>> iam_buckets_;     // per account
  std::map<std::string, std::unique_ptr<TokenBucket>> lookup_buckets_;  // per account and region
  std::atomic<uint64_t> requests_{0}, faults_injected_{0}, throttled_{0}, auth_failures_{0};
};

}  // namespace keyrotor::sandbox
