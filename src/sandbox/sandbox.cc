// The request pipeline: route -> injected faults and throttling -> SigV4
// authentication -> the operation under the state lock -> render. Every
// step's failure is an AWS error document in the routed service's protocol.
#include "sandbox/sandbox.h"

#include "base/strings.h"
#include "sandbox/auth.h"
#include "sandbox/faults.h"
#include "sandbox/iam.h"
#include "sandbox/services.h"
#include "sandbox/state.h"
#include "sandbox/wire.h"

namespace keyrotor::sandbox {
namespace {

Status InternalError(Service service) {
  switch (service) {
    case Service::kIam:
      return ApiError(500, "ServiceFailure",
                      "Request processing has failed due to some unknown error, exception or failure.");
    case Service::kSecretsManager:
      return ApiError(500, "InternalServiceError", "An error occurred on the server side.");
    case Service::kSsm:
      return ApiError(500, "InternalServerError", "An error occurred on the server side.");
    default:
      return ApiError(500, "InternalFailure",
                      "The request processing has failed because of an unknown error, exception or failure.");
  }
}

Status FaultError(const RoutedRequest& routed, FaultDecision::Kind kind) {
  switch (kind) {
    case FaultDecision::Kind::kServiceUnavailable:
      return ApiError(503, "ServiceUnavailable", "Service is unable to handle request.");
    case FaultDecision::Kind::kThrottled:
      return routed.json_protocol ? ApiError(400, "ThrottlingException", "Rate exceeded")
                                  : ApiError(400, "Throttling", "Rate exceeded");
    default:
      return InternalError(routed.service);
  }
}

Status UnknownOperation(const RoutedRequest& routed) {
  if (routed.json_protocol) {
    return ApiError(400, "UnknownOperationException", "Unknown operation " + routed.operation);
  }
  const std::string* version = FindParam(routed.params, "Version");
  return ApiError(
      400, "InvalidAction",
      "Could not find operation " + routed.operation + " for version " + (version ? *version : "NO_VERSION_SPECIFIED"));
}

bool IsUnsigned(const RoutedRequest& routed) {
  // The model marks AssumeRoleWithWebIdentity noAuth: the web identity token is the credential (aws-wire.md §3).
  return routed.service == Service::kSts && routed.operation == "AssumeRoleWithWebIdentity";
}

KeyInfo ToKeyInfo(const State& state, const AccessKeyRecord& key) {
  KeyInfo info;
  auto user = state.users.find(key.user_key);
  info.user = user == state.users.end() ? key.user_key : user->second.name;
  info.access_key_id = key.id;
  info.active = key.active;
  info.created = key.created;
  info.last_used = key.last_used;
  return info;
}

}  // namespace

Sandbox::Sandbox(SandboxOptions options)
    : options_(std::move(options)),
      faults_(std::make_unique<FaultInjector>(options_.fail_rate, options_.throttle_rps, options_.seed)),
      state_(std::make_unique<State>(options_)) {
  if (!options_.clock) options_.clock = Clock::Real();
}

Sandbox::~Sandbox() = default;

aws::HttpResponse Sandbox::Handle(const aws::HttpRequest& request, net::ResponseControl& control) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  control.delay = std::chrono::milliseconds(std::max(0, options_.latency_ms));
  const TimePoint now = options_.clock->Now();

  RoutedRequest routed;
  Status routing = Route(request, routed);

  // Faults come before anything else happens, so an injected 500/503/reset
  // never has a side effect: exactly what a client must assume it may not.
  FaultDecision fault = faults_->Decide(now);
  if (fault.faulted()) {
    if (fault.kind == FaultDecision::Kind::kThrottled) {
      throttled_.fetch_add(1, std::memory_order_relaxed);
    } else {
      faults_injected_.fetch_add(1, std::memory_order_relaxed);
    }
    if (fault.kind == FaultDecision::Kind::kConnectionReset) control.reset_connection = true;
    return RenderError(routed, FaultError(routed, fault.kind));
  }
  if (!routing.ok()) return RenderError(routed, routing);

  Principal caller;
  std::string region = options_.region;
  if (!IsUnsigned(routed)) {
    auto auth_failed = [&](const Status& status) {
      auth_failures_.fetch_add(1, std::memory_order_relaxed);
      return RenderError(routed, status);
    };
    Result<aws::ParsedAuthorization> auth = ParseRequestAuthorization(request, routed);
    if (!auth.ok()) return auth_failed(auth.status());
    std::optional<Result<SigningIdentity>> signer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      signer.emplace(LookupSigner(*state_, routed, *auth, now));
    }
    if (!signer->ok()) return auth_failed(signer->status());
    // The HMAC work runs outside the lock, on the copied secret.
    Status verified = VerifyRequest(request, routed, *auth, **signer, now);
    if (!verified.ok()) return auth_failed(verified);
    caller = (*signer)->principal;
    region = auth->scope.region;
  }
  // Only an authenticated caller learns which operations exist.
  Operation operation = FindOperation(routed.service, routed.operation);
  if (!operation) return RenderError(routed, UnknownOperation(routed));

  std::optional<Result<Reply>> reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (caller.IsUser()) {
      // GetAccessKeyLastUsed reports every authenticated use of a long-term key.
      if (auto it = state_->keys.find(caller.access_key_id); it != state_->keys.end()) {
        it->second.last_used = KeyUse{now, std::string(SigningName(routed.service)), region};
      }
    }
    OpContext ctx{*state_, caller, now, region};
    reply.emplace(operation(ctx, routed));
  }
  return reply->ok() ? RenderReply(routed, **reply) : RenderError(routed, reply->status());
}

Sandbox::IssuedKey Sandbox::CreateAdmin(std::string user_name) {
  std::lock_guard<std::mutex> lock(mu_);
  TimePoint now = options_.clock->Now();
  UserRecord* user = state_->FindUser(user_name);
  if (!user) user = &state_->AddUser(user_name, "/", now);
  user->permissions = UserPermissions::kAdmin;
  if (user->key_ids.size() >= iam::kAccessKeysPerUser) return {user->name, "", Secret()};
  // Back-dated past any consistency window: the admin is the tests' starting point, usable at once.
  AccessKeyRecord& key = state_->AddKey(*user, now - state_->consistency);
  return {user->name, key.id, key.secret.Clone()};
}

Result<Sandbox::IssuedKey> Sandbox::CreateUserWithKey(const std::string& user_name,
                                                      std::optional<TimePoint> key_created_at) {
  Status valid = iam::ValidateName(&user_name, "userName", 64);
  if (!valid.ok()) return Status::InvalidArgument(valid.aws()->message);
  std::lock_guard<std::mutex> lock(mu_);
  TimePoint now = options_.clock->Now();
  TimePoint created = key_created_at.value_or(now);
  UserRecord* user = state_->FindUser(user_name);
  if (!user) user = &state_->AddUser(user_name, "/", std::min(now, created));
  if (user->key_ids.size() >= iam::kAccessKeysPerUser) {
    return Status::FailedPrecondition("user " + user->name + " already has 2 access keys");
  }
  AccessKeyRecord& key = state_->AddKey(*user, created);
  return IssuedKey{user->name, key.id, key.secret.Clone()};
}

Status Sandbox::SetUserPermissions(const std::string& user_name, UserPermissions permissions) {
  std::lock_guard<std::mutex> lock(mu_);
  UserRecord* user = state_->FindUser(user_name);
  if (!user) return Status::NotFound("no sandbox user " + user_name);
  user->permissions = permissions;
  return Status::Ok();
}

bool Sandbox::UserExists(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_->FindUser(user) != nullptr;
}

std::vector<KeyInfo> Sandbox::ListKeys(const std::string& user_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KeyInfo> out;
  const UserRecord* user = state_->FindUser(user_name);
  if (!user) return out;
  for (const std::string& id : user->key_ids) out.push_back(ToKeyInfo(*state_, state_->keys.at(id)));
  return out;
}

std::optional<KeyInfo> Sandbox::GetKey(const std::string& access_key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->keys.find(access_key_id);
  if (it == state_->keys.end() || it->second.deleted) return std::nullopt;
  return ToKeyInfo(*state_, it->second);
}

std::vector<PublishedMessage> Sandbox::PublishedMessages(const std::string& topic_arn) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PublishedMessage> out;
  for (const PublishedMessage& m : state_->published) {
    if (topic_arn.empty() || m.topic_arn == topic_arn) out.push_back(m);
  }
  return out;
}

std::optional<Secret> Sandbox::SecretValue(const std::string& name, const std::string& stage) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->secrets.find(name);
  if (it == state_->secrets.end()) return std::nullopt;
  const SecretVersion* version = it->second.VersionWithStage(stage);
  if (!version) return std::nullopt;
  return version->value.Clone();
}

std::optional<Secret> Sandbox::ParameterValue(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->parameters.find(name);
  if (it == state_->parameters.end()) return std::nullopt;
  return it->second.versions.back().value.Clone();
}

Sandbox::Stats Sandbox::stats() const {
  return Stats{requests_.load(), faults_injected_.load(), throttled_.load(), auth_failures_.load()};
}

}  // namespace keyrotor::sandbox
