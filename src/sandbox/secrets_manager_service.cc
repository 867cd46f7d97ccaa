// Secrets Manager: secrets as versions carrying staging labels, with the
// label rules of aws-wire.md §4 (AWSCURRENT on the first version, AWSPREVIOUS
// following AWSCURRENT's moves, RemoveFromVersionId required to take a label
// off another version, ClientRequestToken idempotency).
#include <algorithm>
#include <unordered_map>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/services.h"

namespace keyrotor::sandbox {
namespace {

constexpr char kCurrent[] = "AWSCURRENT";
constexpr char kPrevious[] = "AWSPREVIOUS";
constexpr size_t kMaxSecretBytes = 65536;
// AWS keeps about 100 versions and drops the oldest unlabelled ("deprecated") ones beyond that.
constexpr size_t kMaxSecretVersions = 100;

Status NotFound(std::string message = "Secrets Manager can't find the specified secret.") {
  return ApiError(400, "ResourceNotFoundException", std::move(message));
}
Status InvalidParameter(std::string message) { return ApiError(400, "InvalidParameterException", std::move(message)); }

std::string RandomSuffix() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (unsigned char b : RandomBytes(6)) out.push_back(kAlphabet[b % 62]);
  return out;
}

// SecretId may be the name, the full ARN, or the ARN without its random suffix.
SecretRecord* FindSecret(State& state, const std::string& id) {
  if (auto it = state.secrets.find(id); it != state.secrets.end()) return &it->second;
  if (!StartsWith(id, "arn:")) return nullptr;
  for (auto& [name, secret] : state.secrets) {
    if (secret.arn == id || secret.arn.substr(0, secret.arn.size() - 7) == id) return &secret;
  }
  return nullptr;
}

// Looks the secret up after checking the caller may run `action` on it. The
// sandbox's secrets are admin-only; a denied caller learns nothing about
// whether the secret exists.
Result<SecretRecord*> AuthorizedSecret(OpContext& ctx, const nlohmann::json& body, std::string_view action) {
  KR_ASSIGN_OR_RETURN(std::string id, RequiredString(body, "SecretId"));
  SecretRecord* secret = FindSecret(ctx.state, id);
  if (!IsAllowed(ctx.caller, action, "")) {
    return AccessDenied(Service::kSecretsManager, ctx.caller, action, secret ? secret->arn : id);
  }
  if (!secret) return NotFound();
  return secret;
}

struct SecretValueInput {
  Secret value;
  bool binary = false;
  bool present = false;
};

Result<SecretValueInput> ReadValue(const nlohmann::json& body) {
  KR_ASSIGN_OR_RETURN(std::optional<std::string> text, OptionalString(body, "SecretString"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> binary, OptionalString(body, "SecretBinary"));
  SecretValueInput out;
  if (text && binary) {
    return InvalidParameter(
        "You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  if (binary) {
    std::optional<std::string> bytes = Base64Decode(*binary);
    WipeString(*binary);
    if (!bytes) return ApiError(400, "SerializationException", "SecretBinary is not valid base64");
    out.value = Secret(std::move(*bytes));
    out.binary = true;
    out.present = true;
  } else if (text) {
    out.value = Secret(std::move(*text));
    out.present = true;
  }
  if (out.value.size() > kMaxSecretBytes) {
    return InvalidParameter("The secret value exceeds the maximum size of 65536 bytes.");
  }
  return out;
}

Result<std::string> ReadToken(const nlohmann::json& body) {
  KR_ASSIGN_OR_RETURN(std::optional<std::string> token, OptionalString(body, "ClientRequestToken"));
  if (!token) return RandomUuid();  // what the SDKs fill in when the caller does not
  if (token->size() < 32 || token->size() > 64) {
    return ApiError(400, "ValidationException",
                    ValidationMessage(*token, "clientRequestToken",
                                      token->size() < 32 ? "Member must have length greater than or equal to 32"
                                                         : "Member must have length less than or equal to 64"));
  }
  return std::move(*token);
}

void RemoveStage(SecretVersion& version, std::string_view stage) { std::erase(version.stages, stage); }

// Puts `stage` on `target`, taking it off whichever version had it. When
// AWSCURRENT moves, AWSPREVIOUS follows to the version it left (§4).
void MoveStage(SecretRecord& secret, const std::string& stage, SecretVersion& target) {
  SecretVersion* holder = secret.VersionWithStage(stage);
  if (holder == &target) return;
  if (holder) RemoveStage(*holder, stage);
  target.stages.push_back(stage);
  if (stage == kCurrent && holder) {
    if (SecretVersion* previous = secret.VersionWithStage(kPrevious)) RemoveStage(*previous, kPrevious);
    holder->stages.push_back(kPrevious);
  }
}

void DropDeprecatedVersions(SecretRecord& secret) {
  while (secret.versions.size() > kMaxSecretVersions) {
    auto oldest = std::find_if(secret.versions.begin(), secret.versions.end(),
                               [](const SecretVersion& v) { return v.stages.empty(); });
    if (oldest == secret.versions.end()) return;
    secret.versions.erase(oldest);
  }
}

bool SameValue(const SecretVersion& version, const SecretValueInput& input) {
  return version.binary == input.binary && version.value == input.value;
}

SecretVersion& AddVersion(SecretRecord& secret, const std::string& id, SecretValueInput&& input, TimePoint now) {
  SecretVersion version;
  version.id = id;
  version.value = std::move(input.value);
  version.binary = input.binary;
  version.created = now;
  secret.versions.push_back(std::move(version));
  secret.last_changed = now;
  return secret.versions.back();
}

nlohmann::json StageList(const SecretVersion& version) { return nlohmann::json(version.stages); }

Result<Reply> CreateSecret(OpContext& ctx, const RoutedRequest& request) {
  const nlohmann::json& body = request.body;
  KR_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "Name"));
  if (name.empty() || name.size() > 512 || !std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("/_+=.@-").find(static_cast<char>(c)) != std::string_view::npos;
      })) {
    return InvalidParameter(
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!");
  }
  KR_ASSIGN_OR_RETURN(SecretValueInput value, ReadValue(body));
  KR_ASSIGN_OR_RETURN(std::string token, ReadToken(body));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> description, OptionalString(body, "Description"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> kms_key_id, OptionalString(body, "KmsKeyId"));
  if (!IsAllowed(ctx.caller, "secretsmanager:CreateSecret", "")) {
    return AccessDenied(Service::kSecretsManager, ctx.caller, "secretsmanager:CreateSecret", name);
  }
  if (SecretRecord* existing = FindSecret(ctx.state, name)) {
    // A retried CreateSecret (same token, same value) succeeds again.
    SecretVersion* version = existing->FindVersion(token);
    if (!version || !value.present || !SameValue(*version, value)) {
      return ApiError(400, "ResourceExistsException",
                      "The operation failed because the secret " + name + " already exists.");
    }
    return Reply::Json({{"ARN", existing->arn}, {"Name", existing->name}, {"VersionId", version->id}});
  }
  SecretRecord secret;
  secret.name = name;
  secret.arn = "arn:aws:secretsmanager:" + std::string(ctx.region) + ":" + ctx.state.account_id +
               ":secret:" + name + "-" + RandomSuffix();
  secret.description = description.value_or("");
  secret.kms_key_id = kms_key_id.value_or("");
  secret.created = secret.last_changed = ctx.now;
  if (auto tags = body.find("Tags"); tags != body.end() && tags->is_array()) {
    for (const auto& tag : *tags) {
      if (tag.is_object()) secret.tags.push_back({tag.value("Key", ""), tag.value("Value", "")});
    }
  }
  nlohmann::json out = {{"ARN", secret.arn}, {"Name", name}};
  if (value.present) {
    // The first version of a secret always gets AWSCURRENT.
    AddVersion(secret, token, std::move(value), ctx.now).stages.push_back(kCurrent);
    out["VersionId"] = token;
  }
  ctx.state.secrets.emplace(name, std::move(secret));
  return Reply::Json(std::move(out));
}

Result<Reply> DescribeSecret(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(SecretRecord * secret, AuthorizedSecret(ctx, request.body, "secretsmanager:DescribeSecret"));
  nlohmann::json out = {{"ARN", secret->arn},
                        {"Name", secret->name},
                        {"LastChangedDate", EpochSeconds(secret->last_changed)},
                        {"CreatedDate", EpochSeconds(secret->created)}};
  if (!secret->description.empty()) out["Description"] = secret->description;
  if (!secret->kms_key_id.empty()) out["KmsKeyId"] = secret->kms_key_id;
  if (secret->last_accessed) out["LastAccessedDate"] = EpochSeconds(*secret->last_accessed);
  if (!secret->tags.empty()) {
    out["Tags"] = nlohmann::json::array();
    for (const Tag& tag : secret->tags) out["Tags"].push_back({{"Key", tag.key}, {"Value", tag.value}});
  }
  // Only labelled versions; the unlabelled ones are deprecated and not listed.
  nlohmann::json stages = nlohmann::json::object();
  for (const SecretVersion& v : secret->versions) {
    if (!v.stages.empty()) stages[v.id] = StageList(v);
  }
  out["VersionIdsToStages"] = std::move(stages);
  return Reply::Json(std::move(out));
}

Result<Reply> GetSecretValue(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(std::optional<std::string> version_id, OptionalString(request.body, "VersionId"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> stage, OptionalString(request.body, "VersionStage"));
  KR_ASSIGN_OR_RETURN(SecretRecord * secret, AuthorizedSecret(ctx, request.body, "secretsmanager:GetSecretValue"));
  SecretVersion* version = nullptr;
  if (version_id) {
    version = secret->FindVersion(*version_id);
    if (!version)
      return NotFound("Secrets Manager can't find the specified secret value for VersionId: " + *version_id);
    if (stage && std::find(version->stages.begin(), version->stages.end(), *stage) == version->stages.end()) {
      return NotFound("Secrets Manager can't find the specified secret value for VersionId: " + *version_id +
                      " and staging label: " + *stage);
    }
  } else {
    std::string label = stage.value_or(kCurrent);  // neither given: AWSCURRENT (§4)
    version = secret->VersionWithStage(label);
    if (!version) return NotFound("Secrets Manager can't find the specified secret value for staging label: " + label);
  }
  // AWS records access by day.
  secret->last_accessed = std::chrono::floor<std::chrono::days>(ctx.now);
  nlohmann::json out = {{"ARN", secret->arn},
                        {"Name", secret->name},
                        {"VersionId", version->id},
                        {"VersionStages", StageList(*version)},
                        {"CreatedDate", EpochSeconds(version->created)}};
  if (version->binary) {
    out["SecretBinary"] = Base64Encode(version->value.reveal());
  } else {
    out["SecretString"] = version->value.reveal();
  }
  return Reply::Json(std::move(out));
}

Result<Reply> PutSecretValue(OpContext& ctx, const RoutedRequest& request) {
  const nlohmann::json& body = request.body;
  KR_ASSIGN_OR_RETURN(SecretValueInput value, ReadValue(body));
  if (!value.present) return InvalidParameter("You must provide either SecretString or SecretBinary.");
  KR_ASSIGN_OR_RETURN(std::string token, ReadToken(body));
  KR_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> stages, OptionalStringList(body, "VersionStages"));
  if (stages && (stages->empty() || stages->size() > 20)) {
    return ApiError(400, "ValidationException",
                    ValidationMessage("[...]", "versionStages",
                                      stages->empty() ? "Member must have length greater than or equal to 1"
                                                      : "Member must have length less than or equal to 20"));
  }
  KR_ASSIGN_OR_RETURN(SecretRecord * secret, AuthorizedSecret(ctx, body, "secretsmanager:PutSecretValue"));
  // Versions are immutable: a token already used is a retry (same data, a
  // no-op) or a mistake (different data).
  if (SecretVersion* existing = secret->FindVersion(token)) {
    if (!SameValue(*existing, value)) {
      return ApiError(400, "ResourceExistsException",
                      "You can't modify an existing version, you can only create a new version.");
    }
    return Reply::Json({{"ARN", secret->arn},
                        {"Name", secret->name},
                        {"VersionId", existing->id},
                        {"VersionStages", StageList(*existing)}});
  }
  std::vector<std::string> labels = stages.value_or(std::vector<std::string>{kCurrent});
  // A secret's first version always gets AWSCURRENT, whatever else it is labelled (§4).
  if (!secret->VersionWithStage(kCurrent) && std::find(labels.begin(), labels.end(), kCurrent) == labels.end()) {
    labels.push_back(kCurrent);
  }
  SecretVersion& version = AddVersion(*secret, token, std::move(value), ctx.now);
  for (const std::string& label : labels) MoveStage(*secret, label, version);
  nlohmann::json out = {
      {"ARN", secret->arn}, {"Name", secret->name}, {"VersionId", token}, {"VersionStages", StageList(version)}};
  DropDeprecatedVersions(*secret);  // may reallocate: `version` is not used after this
  return Reply::Json(std::move(out));
}

Result<Reply> UpdateSecretVersionStage(OpContext& ctx, const RoutedRequest& request) {
  const nlohmann::json& body = request.body;
  KR_ASSIGN_OR_RETURN(std::string stage, RequiredString(body, "VersionStage"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> move_to, OptionalString(body, "MoveToVersionId"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> remove_from, OptionalString(body, "RemoveFromVersionId"));
  KR_ASSIGN_OR_RETURN(SecretRecord * secret, AuthorizedSecret(ctx, body, "secretsmanager:UpdateSecretVersionStage"));
  SecretVersion* holder = secret->VersionWithStage(stage);
  SecretVersion* from = nullptr;
  if (remove_from) {
    from = secret->FindVersion(*remove_from);
    if (!from) return NotFound("Secrets Manager can't find the specified secret value for VersionId: " + *remove_from);
    if (from != holder) {
      return InvalidParameter("The staging label " + stage + " is not attached to version " + *remove_from +
                              ", so it can't be removed from it.");
    }
  }
  if (move_to) {
    SecretVersion* target = secret->FindVersion(*move_to);
    if (!target) return NotFound("Secrets Manager can't find the specified secret value for VersionId: " + *move_to);
    // Taking a label off another version must be explicit (§4).
    if (holder && holder != target && !from) {
      return InvalidParameter("The parameter RemoveFromVersionId can't be empty. Staging label " + stage +
                              " is currently attached to version " + holder->id +
                              ", so you must explicitly reference that version in RemoveFromVersionId.");
    }
    MoveStage(*secret, stage, *target);
  } else if (from) {
    if (stage == kCurrent) {
      return InvalidParameter(
          "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.");
    }
    RemoveStage(*from, stage);
  } else {
    return InvalidParameter("You must specify MoveToVersionId, RemoveFromVersionId, or both.");
  }
  secret->last_changed = ctx.now;
  return Reply::Json({{"ARN", secret->arn}, {"Name", secret->name}});
}

Result<Reply> ListSecretVersionIds(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(std::optional<bool> deprecated, OptionalBool(request.body, "IncludeDeprecated"));
  KR_ASSIGN_OR_RETURN(SecretRecord * secret,
                      AuthorizedSecret(ctx, request.body, "secretsmanager:ListSecretVersionIds"));
  nlohmann::json versions = nlohmann::json::array();
  for (const SecretVersion& v : secret->versions) {
    if (v.stages.empty() && !deprecated.value_or(false)) continue;
    versions.push_back(
        {{"VersionId", v.id}, {"VersionStages", StageList(v)}, {"CreatedDate", EpochSeconds(v.created)}});
  }
  return Reply::Json({{"ARN", secret->arn}, {"Name", secret->name}, {"Versions", std::move(versions)}});
}

}  // namespace

Operation FindSecretsManagerOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"CreateSecret", CreateSecret},
      {"DescribeSecret", DescribeSecret},
      {"GetSecretValue", GetSecretValue},
      {"PutSecretValue", PutSecretValue},
      {"UpdateSecretVersionStage", UpdateSecretVersionStage},
      {"ListSecretVersionIds", ListSecretVersionIds},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
