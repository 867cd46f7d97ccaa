// The request pipeline: route -> injected faults and throttling -> SigV4
// authentication -> the operation under the state lock -> render. Every
// step's failure is an AWS error document in the routed service's protocol.
#include "sandbox/sandbox.h"

#include <ctime>

#include "base/crypto.h"
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

// The account whose key or role session signed: long-term key ids and
// session ids are unique across the sandbox's accounts.
State* SignerAccount(World& world, State* home, const std::string& access_key_id) {
  for (auto& [id, state] : world.accounts) {
    if (state->keys.count(access_key_id) || state->sessions.count(access_key_id)) return state.get();
  }
  return home;
}

// "Sat, 05 Jun 2016 15:10:09 GMT": how AWS Health's EventBridge events write startTime.
std::string FormatHealthTime(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

aws::HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  aws::HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = body.dump(2) + "\n";
  return response;
}

}  // namespace

Sandbox::Sandbox(SandboxOptions options)
    : options_(std::move(options)),
      faults_(std::make_unique<FaultInjector>(options_.fail_rate, options_.throttle_rps, options_.seed)),
      world_(std::make_unique<World>()) {
  if (!options_.clock) options_.clock = Clock::Real();
  auto home = std::make_unique<State>(options_, options_.account_id, world_.get());
  state_ = home.get();
  world_->accounts.emplace(options_.account_id, std::move(home));
}

Sandbox::~Sandbox() = default;

aws::HttpResponse Sandbox::Handle(const aws::HttpRequest& request, net::ResponseControl& control) {
  if (Result<aws::Url> url = aws::ParseUrl(request.url); url.ok() && url->path == kExposePath) {
    // POST /keyrotor-sandbox/expose?access_key_id=AKIA...[&event_type=...]
    std::string key_id, event_type = "AWS_RISK_CREDENTIALS_EXPOSED";
    for (const std::string& pair : Split(url->query, '&')) {
      size_t eq = pair.find('=');
      std::string name = pair.substr(0, eq), value = eq == std::string::npos ? "" : UriDecode(pair.substr(eq + 1));
      if (name == "access_key_id") key_id = value;
      if (name == "event_type") event_type = value;
    }
    if (request.method != "POST") return JsonResponse(405, {{"message", "POST only"}});
    Result<std::string> event = ExposeKey(key_id, event_type);
    if (!event.ok()) return JsonResponse(404, {{"message", event.status().message()}});
    aws::HttpResponse response = JsonResponse(200, nlohmann::json::object());
    response.body = *event + "\n";
    return response;
  }
  if (Result<aws::Url> url = aws::ParseUrl(request.url); url.ok() && url->path == kCallCountsPath) {
    if (request.method == "DELETE") {
      ResetCallCounts();
      return JsonResponse(200, nlohmann::json::object());
    }
    return JsonResponse(200, nlohmann::json(call_counts()));
  }
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
  State* account = state_;  // whose resources the request acts on: the signer's account
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
      account = SignerAccount(*world_, state_, auth->access_key_id);
      signer.emplace(LookupSigner(*account, routed, *auth, now));
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

  // Where CloudTrail says the call came from: loopback, unless a test plays
  // a caller elsewhere (an attacker using an exposed key).
  const std::string* source_ip_header = aws::FindHeader(request.headers, kSourceIpHeader);
  std::string source_ip = source_ip_header ? *source_ip_header : "127.0.0.1";
  std::optional<Result<Reply>> reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[account->account_id][std::string(SigningName(routed.service)) + ":" + routed.operation];
    auto throttled = [&](std::unique_ptr<TokenBucket>& bucket, double rps) {
      if (!bucket) bucket = std::make_unique<TokenBucket>(rps, std::max(1.0, rps));
      if (bucket->Take(now)) return false;
      ++calls_[account->account_id]["throttled"];
      throttled_.fetch_add(1, std::memory_order_relaxed);
      return true;
    };
    if (routed.service == Service::kIam && options_.iam_rps_per_account > 0 &&
        throttled(iam_buckets_[account->account_id], options_.iam_rps_per_account)) {
      return RenderError(routed, FaultError(routed, FaultDecision::Kind::kThrottled));
    }
    // LookupEvents: 2 requests per second per account and region (CloudTrail's quota).
    if (routed.service == Service::kCloudTrail && routed.operation == "LookupEvents" &&
        options_.cloudtrail_lookup_rps > 0 &&
        throttled(lookup_buckets_[account->account_id + "/" + region], options_.cloudtrail_lookup_rps)) {
      return RenderError(routed, FaultError(routed, FaultDecision::Kind::kThrottled));
    }
    std::string action = std::string(SigningName(routed.service)) + ":" + routed.operation;
    if (account->denied_actions.count(action)) {
      Status denied = AccessDenied(routed.service, caller, action, "*");
      std::string message = "User: " + caller.arn + " is not authorized to perform: " + action +
                            " with an explicit deny in a service control policy";
      reply.emplace(ApiError(denied.aws()->http_status, denied.aws()->code, message));
    } else if (std::string policy = QuarantineDenial(*account, caller, action); !policy.empty()) {
      // What AWS answers a quarantined user's key (the AWSCompromisedKeyQuarantine policies).
      Status denied = AccessDenied(routed.service, caller, action, "*");
      std::string message = "User: " + caller.arn + " is not authorized to perform: " + action + " on resource: " +
                            caller.arn + " with an explicit deny in an identity-based policy: " + policy;
      reply.emplace(ApiError(denied.aws()->http_status, denied.aws()->code, message));
    }
    if (caller.IsUser()) {
      // GetAccessKeyLastUsed reports every authenticated use of a long-term key.
      if (auto it = account->keys.find(caller.access_key_id); it != account->keys.end()) {
        it->second.last_used = KeyUse{now, std::string(SigningName(routed.service)), region};
      }
    }
    if (!reply) {
      OpContext ctx{*account, caller, now, region};
      reply.emplace(operation(ctx, routed));
    }
    std::string error_code = reply->ok() ? "" : reply->status().aws() ? reply->status().aws()->code : "InternalFailure";
    RecordTrail(*account, routed.service, routed.operation, caller, region, source_ip, now, error_code);
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
  return CreateUserWithKeyIn(options_.account_id, user_name, key_created_at);
}

Result<Sandbox::IssuedKey> Sandbox::CreateUserWithKeyIn(const std::string& account_id, const std::string& user_name,
                                                        std::optional<TimePoint> key_created_at) {
  Status valid = iam::ValidateName(&user_name, "userName", 64);
  if (!valid.ok()) return Status::InvalidArgument(valid.aws()->message);
  std::lock_guard<std::mutex> lock(mu_);
  State* state = InAccount(account_id);
  if (!state) return Status::NotFound("no sandbox account " + account_id);
  TimePoint now = options_.clock->Now();
  TimePoint created = key_created_at.value_or(now);
  UserRecord* user = state->FindUser(user_name);
  if (!user) user = &state->AddUser(user_name, "/", std::min(now, created));
  if (user->key_ids.size() >= iam::kAccessKeysPerUser) {
    return Status::FailedPrecondition("user " + user->name + " already has 2 access keys");
  }
  AccessKeyRecord& key = state->AddKey(*user, created);
  return IssuedKey{user->name, key.id, key.secret.Clone()};
}

Status Sandbox::TagUserIn(const std::string& account_id, const std::string& user_name, const std::string& key,
                          const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  State* state = InAccount(account_id);
  UserRecord* user = state ? state->FindUser(user_name) : nullptr;
  if (!user) return Status::NotFound("no sandbox user " + user_name + " in " + account_id);
  for (Tag& t : user->tags) {
    if (EqualsIgnoreCase(t.key, key)) {
      t.value = value;
      iam::ApplyPermissionsTag(*user);
      return Status::Ok();
    }
  }
  user->tags.push_back({key, value});
  iam::ApplyPermissionsTag(*user);
  return Status::Ok();
}

State* Sandbox::InAccount(const std::string& account_id) const { return world_->Find(account_id); }

void Sandbox::CreateOrganization() {
  std::lock_guard<std::mutex> lock(mu_);
  if (world_->org) return;
  Organization org;
  org.id = "o-" + ToLower(NewUniqueId("", 10));
  org.root_id = "r-" + ToLower(NewUniqueId("", 4));
  org.management_account = options_.account_id;
  org.management_email = "management@example.com";
  org.accounts.push_back({options_.account_id, "management", org.management_email, "ACTIVE", org.root_id,
                          options_.clock->Now()});
  world_->org = std::move(org);
}

std::string Sandbox::OrganizationRootId() const {
  std::lock_guard<std::mutex> lock(mu_);
  return world_->org ? world_->org->root_id : "";
}

Result<std::string> Sandbox::CreateOrganizationalUnit(const std::string& parent_id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!world_->org) return Status::FailedPrecondition("the sandbox has no organization");
  Organization& org = *world_->org;
  if (!org.HasParent(parent_id)) return Status::NotFound("no root or OU " + parent_id);
  std::string id = "ou-" + org.root_id.substr(2) + "-" + ToLower(NewUniqueId("", 8));
  org.units.push_back({id, name, parent_id});
  return id;
}

Result<std::string> Sandbox::CreateMemberAccount(const std::string& name, const std::string& parent_id,
                                                 const std::string& role_name, const std::string& state) {
  if (state != "ACTIVE" && state != "SUSPENDED" && state != "PENDING_CLOSURE" && state != "CLOSED") {
    return Status::InvalidArgument("account state " + state);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!world_->org) return Status::FailedPrecondition("the sandbox has no organization");
  Organization& org = *world_->org;
  if (!org.HasParent(parent_id)) return Status::NotFound("no root or OU " + parent_id);
  std::string id;
  do {
    id.clear();
    for (unsigned char c : RandomBytes(12)) id += static_cast<char>('0' + c % 10);
    id[0] = static_cast<char>('1' + id[0] % 9);  // no leading zero: ids read as numbers stay 12 digits
  } while (world_->accounts.count(id));
  auto account = std::make_unique<State>(options_, id, world_.get());
  account->implicit_roles = false;
  if (!role_name.empty()) account->roles[role_name] = RoleRecord{role_name, {org.management_account}};
  world_->accounts.emplace(id, std::move(account));
  org.accounts.push_back({id, name, name + "@example.com", state, parent_id, options_.clock->Now()});
  return id;
}

Status Sandbox::CreateRole(const std::string& account_id, const std::string& role_name,
                           const std::string& trusted_account_id) {
  std::lock_guard<std::mutex> lock(mu_);
  State* state = InAccount(account_id);
  if (!state) return Status::NotFound("no sandbox account " + account_id);
  state->implicit_roles = false;
  RoleRecord& role = state->roles[role_name];
  role.name = role_name;
  role.trusted_accounts.insert(trusted_account_id);
  return Status::Ok();
}

Status Sandbox::DenyAction(const std::string& account_id, const std::string& action) {
  std::lock_guard<std::mutex> lock(mu_);
  State* state = InAccount(account_id);
  if (!state) return Status::NotFound("no sandbox account " + account_id);
  state->denied_actions.insert(action);
  return Status::Ok();
}

Status Sandbox::RegisterDelegatedAdministrator(const std::string& account_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!world_->org) return Status::FailedPrecondition("the sandbox has no organization");
  world_->org->delegated_administrators.insert(account_id);
  return Status::Ok();
}

Status Sandbox::AttachUserPolicyIn(const std::string& account_id, const std::string& user_name,
                                  const std::string& policy_arn) {
  std::lock_guard<std::mutex> lock(mu_);
  State* state = InAccount(account_id);
  UserRecord* user = state ? state->FindUser(user_name) : nullptr;
  if (!user) return Status::NotFound("no sandbox user " + user_name + " in " + account_id);
  Status attached = AttachPolicyToUser(*user, policy_arn);
  if (!attached.ok()) return Status::NotFound(attached.aws() ? attached.aws()->message : attached.ToString());
  return Status::Ok();
}

std::vector<std::string> Sandbox::AttachedUserPolicies(const std::string& account_id, const std::string& user_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const State* state = InAccount(account_id);
  const UserRecord* user = state ? state->FindUser(user_name) : nullptr;
  return user ? user->attached_policies : std::vector<std::string>();
}

Result<std::string> Sandbox::ExposeKey(const std::string& access_key_id, const std::string& event_type_code) {
  static const char* kRiskEvents[] = {"AWS_RISK_CREDENTIALS_EXPOSED", "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
                                      "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED", "AWS_RISK_IAM_QUARANTINE"};
  if (std::none_of(std::begin(kRiskEvents), std::end(kRiskEvents), [&](const char* e) { return event_type_code == e; })) {
    return Status::InvalidArgument("not an AWS Health RISK event type: " + event_type_code);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, state] : world_->accounts) {
    AccessKeyRecord* key = state->FindLiveKey(access_key_id);
    if (!key) continue;
    UserRecord* user = state->FindUser(key->user_key);
    if (!user) break;
    // AWS quarantines the user, then tells the account (AWS Health).
    (void)AttachPolicyToUser(*user, "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3");
    TimePoint now = options_.clock->Now();
    // The EventBridge shape of an AWS Health event (AWS Health User Guide,
    // "Reference: AWS Health events Amazon EventBridge schema").
    nlohmann::json event = {
        {"version", "0"},
        {"id", RandomUuid()},
        {"detail-type", "AWS Health Event"},
        {"source", "aws.health"},
        {"account", id},
        {"time", FormatIso8601(now)},
        {"region", "us-east-1"},
        {"resources", nlohmann::json::array({access_key_id})},
        {"detail",
         {{"eventArn", "arn:aws:health:global::event/RISK/" + event_type_code + "/" + event_type_code + "_" +
                           NewUniqueId("", 8)},
          {"service", "RISK"},
          {"eventTypeCode", event_type_code},
          {"eventTypeCategory", "issue"},
          {"eventScopeCode", "ACCOUNT_SPECIFIC"},
          {"communicationId", HexEncode(RandomBytes(16))},
          {"startTime", FormatHealthTime(now)},
          {"lastUpdatedTime", FormatHealthTime(now)},
          {"statusCode", "open"},
          {"eventRegion", "global"},
          {"eventDescription",
           nlohmann::json::array({{{"language", "en_US"},
                                   {"latestDescription",
                                    "Your AWS Access Key " + access_key_id + " for IAM user " + user->name +
                                        " was found publicly available. AWS has applied the "
                                        "AWSCompromisedKeyQuarantineV3 policy to the user."}}})},
          {"affectedEntities", nlohmann::json::array({{{"entityValue", access_key_id}}})},
          {"affectedAccount", id}}}};
    return event.dump(2);
  }
  return Status::NotFound("no sandbox access key " + access_key_id);
}

std::vector<std::string> Sandbox::AccountIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out = {options_.account_id};
  for (const auto& [id, state] : world_->accounts) {
    if (id != options_.account_id) out.push_back(id);
  }
  return out;
}

Sandbox::CallCounts Sandbox::call_counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

void Sandbox::ResetCallCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.clear();
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
  return ListKeysIn(options_.account_id, user_name);
}

std::vector<KeyInfo> Sandbox::ListKeysIn(const std::string& account_id, const std::string& user_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KeyInfo> out;
  const State* state = InAccount(account_id);
  const UserRecord* user = state ? state->FindUser(user_name) : nullptr;
  if (!user) return out;
  for (const std::string& id : user->key_ids) out.push_back(ToKeyInfo(*state, state->keys.at(id)));
  return out;
}

std::optional<KeyInfo> Sandbox::GetKey(const std::string& access_key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, state] : world_->accounts) {
    auto it = state->keys.find(access_key_id);
    if (it == state->keys.end() || it->second.deleted) continue;
    return ToKeyInfo(*state, it->second);
  }
  return std::nullopt;
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
