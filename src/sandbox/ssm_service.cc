// SSM Parameter Store (aws-wire.md §5). A SecureString read without
// WithDecryption returns an opaque ciphertext-like string, never the
// plaintext, as real KMS-backed parameters do.
#include <charconv>
#include <unordered_map>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/services.h"

namespace keyrotor::sandbox {
namespace {

constexpr size_t kMaxParameterVersions = 100;
constexpr size_t kStandardMaxValue = 4096;
constexpr size_t kAdvancedMaxValue = 8192;

Status SsmValidation(std::string message) { return ApiError(400, "ValidationException", std::move(message)); }

std::string ParameterArn(OpContext& ctx, const std::string& name) {
  // A hierarchical name's leading '/' is not doubled after "parameter".
  return "arn:aws:ssm:" + std::string(ctx.region) + ":" + ctx.state.account_id + ":parameter" +
         (StartsWith(name, "/") ? "" : "/") + name;
}

Status ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 2048) {
    return SsmValidation(ValidationMessage(name, "name",
                                        name.empty() ? "Member must have length greater than or equal to 1"
                                                     : "Member must have length less than or equal to 2048"));
  }
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-' && c != '/') {
      return SsmValidation(
          "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as "
          "a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as "
          "a mix of letters, numbers and the following 3 symbols .-_");
    }
  }
  std::string lower = ToLower(StartsWith(name, "/") ? name.substr(1) : name);
  if (StartsWith(lower, "aws") || StartsWith(lower, "ssm")) {
    return SsmValidation("Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).");
  }
  if (name.find('/') != std::string::npos && !StartsWith(name, "/")) {
    return SsmValidation("Parameter name must be a fully qualified name.");
  }
  return Status::Ok();
}

// Something shaped like a KMS ciphertext blob: the KMS envelope header, a MAC
// over the parameter's identity and as many random bytes as the value is
// long. It cannot be turned back into the value.
std::string OpaqueCiphertext(State& state, const std::string& name, int64_t version, size_t value_size) {
  std::string blob("\x01\x02\x02\x00", 4);
  blob += HmacSha256(state.kms_key, name + "#" + std::to_string(version));
  blob += RandomBytes(value_size + 16);
  return Base64Encode(blob);
}

// Accepts a parameter name or its ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME).
std::string NameFromId(OpContext& ctx, const std::string& id) {
  std::vector<std::string> fields = Split(id, ':');
  if (fields.size() < 6 || fields[0] != "arn" || fields[2] != "ssm" || fields[4] != ctx.state.account_id ||
      !StartsWith(fields[5], "parameter/")) {
    return id;
  }
  std::string rest = id.substr(id.find(":parameter/") + 10);  // "/app/key" or "/plain", a version selector kept
  // The ARN of "plain" is ...:parameter/plain, that of "/app/key" ...:parameter/app/key.
  std::string without_selector = rest.substr(0, rest.rfind(':'));
  if (ctx.state.parameters.count(without_selector) || ctx.state.parameters.count(rest)) return rest;
  return rest.substr(1);
}

Result<Reply> PutParameter(OpContext& ctx, const RoutedRequest& request) {
  const nlohmann::json& body = request.body;
  KR_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "Name"));
  KR_ASSIGN_OR_RETURN(std::string value, RequiredString(body, "Value"));
  Secret secret_value(std::move(value));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> type, OptionalString(body, "Type"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> key_id, OptionalString(body, "KeyId"));
  KR_ASSIGN_OR_RETURN(std::optional<bool> overwrite, OptionalBool(body, "Overwrite"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> tier, OptionalString(body, "Tier"));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> description, OptionalString(body, "Description"));
  KR_RETURN_IF_ERROR(ValidateName(name));
  if (type && *type != "String" && *type != "StringList" && *type != "SecureString") {
    return SsmValidation(
        ValidationMessage(*type, "type", "Member must satisfy enum value set: [SecureString, StringList, String]"));
  }
  if (tier && *tier != "Standard" && *tier != "Advanced" && *tier != "Intelligent-Tiering") {
    return SsmValidation(ValidationMessage(
        *tier, "tier", "Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]"));
  }
  if (body.contains("Tags") && overwrite.value_or(false)) {
    return SsmValidation(
        "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove "
        "overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or "
        "RemoveTagsFromResource.");
  }
  std::string arn = ParameterArn(ctx, name);
  if (!IsAllowed(ctx.caller, "ssm:PutParameter", "")) {
    return AccessDenied(Service::kSsm, ctx.caller, "ssm:PutParameter", arn);
  }
  auto it = ctx.state.parameters.find(name);
  const ParameterVersion* previous = it == ctx.state.parameters.end() ? nullptr : &it->second.versions.back();
  if (previous && !overwrite.value_or(false)) {
    return ApiError(400, "ParameterAlreadyExists",
                    "The parameter already exists. To overwrite this value, set the overwrite option in the request "
                    "to true.");
  }
  if (!previous && !type) return SsmValidation("A parameter type is required when you create a parameter.");
  std::string effective_type = type ? *type : previous->type;
  if (key_id && effective_type != "SecureString") {
    return SsmValidation("KeyId is only valid for SecureString parameters.");
  }
  std::string effective_tier = tier ? *tier : previous ? previous->tier : "Standard";
  if (effective_tier == "Intelligent-Tiering") {
    effective_tier = secret_value.size() > kStandardMaxValue ? "Advanced" : "Standard";
  }
  size_t limit = effective_tier == "Advanced" ? kAdvancedMaxValue : kStandardMaxValue;
  if (secret_value.size() > limit) {
    return SsmValidation(effective_tier == "Advanced"
                          ? "Advanced tier parameters support a maximum parameter value of 8192 characters."
                          : "Standard tier parameters support a maximum parameter value of 4096 characters. To create "
                            "a larger parameter value, upgrade the parameter to use the advanced-parameter tier.");
  }

  ParameterVersion version;
  version.version = previous ? previous->version + 1 : 1;
  version.type = effective_type;
  version.key_id = effective_type != "SecureString" ? ""
                   : key_id                         ? *key_id
                   : previous                       ? previous->key_id
                                                    : "alias/aws/ssm";
  version.description = description ? *description : previous ? previous->description : "";
  version.tier = effective_tier;
  version.modified = ctx.now;
  if (effective_type == "SecureString") {
    version.ciphertext = OpaqueCiphertext(ctx.state, name, version.version, secret_value.size());
  }
  version.value = std::move(secret_value);
  ParameterRecord& record = ctx.state.parameters[name];
  record.name = name;
  record.versions.push_back(std::move(version));
  if (record.versions.size() > kMaxParameterVersions) record.versions.erase(record.versions.begin());
  return Reply::Json({{"Version", record.versions.back().version}, {"Tier", effective_tier}});
}

Result<Reply> GetParameter(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(std::string id, RequiredString(request.body, "Name"));
  KR_ASSIGN_OR_RETURN(std::optional<bool> decrypt, OptionalBool(request.body, "WithDecryption"));
  // "name:3" selects a version.
  std::string name = NameFromId(ctx, id);
  std::optional<int64_t> selected;
  std::string selector;
  if (size_t colon = name.rfind(':'); colon != std::string::npos) {
    int64_t n = 0;
    const char* begin = name.data() + colon + 1;
    const char* end = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec == std::errc() && ptr == end && begin != end) {
      selected = n;
      selector = name.substr(colon);
      name.resize(colon);
    }
  }
  std::string arn = ParameterArn(ctx, name);
  if (!IsAllowed(ctx.caller, "ssm:GetParameter", "")) {
    return AccessDenied(Service::kSsm, ctx.caller, "ssm:GetParameter", arn);
  }
  auto it = ctx.state.parameters.find(name);
  if (it == ctx.state.parameters.end()) {
    return ApiError(400, "ParameterNotFound", "Parameter " + name + " not found.");
  }
  const ParameterVersion* version = &it->second.versions.back();
  if (selected) {
    version = nullptr;
    for (const ParameterVersion& v : it->second.versions) {
      if (v.version == *selected) version = &v;
    }
    if (!version) {
      return ApiError(400, "ParameterVersionNotFound",
                      "Systems Manager could not find version " + std::to_string(*selected) + " of " + name +
                          ". Verify the version and try again.");
    }
  }
  bool secure = version->type == "SecureString";
  nlohmann::json parameter = {
      {"Name", name},
      {"Type", version->type},
      {"Value", secure && !decrypt.value_or(false) ? version->ciphertext : version->value.reveal()},
      {"Version", version->version},
      {"LastModifiedDate", EpochSeconds(version->modified)},
      {"ARN", arn},
      {"DataType", "text"},
  };
  if (!selector.empty()) parameter["Selector"] = selector;
  return Reply::Json({{"Parameter", std::move(parameter)}});
}

}  // namespace

Operation FindSsmOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"PutParameter", PutParameter},
      {"GetParameter", GetParameter},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
