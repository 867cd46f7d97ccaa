#include <cctype>
#include <unordered_map>

#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox {
namespace iam {
namespace {

constexpr char kNamePattern[] = "Member must satisfy regular expression pattern: [\\w+=,.@-]+";
constexpr char kPathPattern[] =
    "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)";
constexpr char kTagPattern[] = "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*";

bool IsNameChar(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-';
}

// Tag characters are letters, separators and numbers in any script plus
// _.:/=+-@. Any byte of a multi-byte UTF-8 sequence is let through: the
// sandbox does not carry Unicode tables, and non-ASCII tags are rare here.
bool IsTagChar(unsigned char c) {
  return c >= 0x80 || std::isalnum(c) || c == ' ' || c == '_' || c == '.' || c == ':' || c == '/' || c == '=' ||
         c == '+' || c == '-' || c == '@';
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Status Validation(std::string message) { return ApiError(400, "ValidationError", std::move(message)); }

}  // namespace

Status ValidateName(const std::string* value, std::string_view member, size_t max_len) {
  if (!value) return Validation(NullValidationMessage(member));
  if (value->empty()) {
    return Validation(ValidationMessage(*value, member, "Member must have length greater than or equal to 1"));
  }
  if (value->size() > max_len) {
    return Validation(
        ValidationMessage(*value, member, "Member must have length less than or equal to " + std::to_string(max_len)));
  }
  for (unsigned char c : *value) {
    if (!IsNameChar(c)) return Validation(ValidationMessage(*value, member, kNamePattern));
  }
  return Status::Ok();
}

Status ValidatePath(const std::string& path, std::string_view member) {
  if (path.size() > 512) {
    return Validation(ValidationMessage(path, member, "Member must have length less than or equal to 512"));
  }
  bool ok = path == "/" || (path.size() >= 3 && path.front() == '/' && path.back() == '/');
  for (unsigned char c : path) ok = ok && c >= 0x21 && c <= 0x7E;
  return ok ? Status::Ok() : Validation(ValidationMessage(path, member, kPathPattern));
}

Result<std::vector<Tag>> ParseTags(const Params& params) {
  std::vector<Tag> tags;
  auto structs = MemberStructs(params, "Tags");
  for (size_t i = 0; i < structs.size(); ++i) {
    std::string at = "tags." + std::to_string(i + 1) + ".member.";
    auto key = structs[i].find("Key");
    auto value = structs[i].find("Value");
    if (key == structs[i].end()) return Validation(NullValidationMessage(at + "key"));
    if (value == structs[i].end()) return Validation(NullValidationMessage(at + "value"));
    if (key->second.empty() || CodePoints(key->second) > 128) {
      return Validation(ValidationMessage(key->second, at + "key",
                                          key->second.empty() ? "Member must have length greater than or equal to 1"
                                                              : "Member must have length less than or equal to 128"));
    }
    if (CodePoints(value->second) > 256) {
      return Validation(
          ValidationMessage(value->second, at + "value", "Member must have length less than or equal to 256"));
    }
    for (unsigned char c : key->second) {
      if (!IsTagChar(c)) return Validation(ValidationMessage(key->second, at + "key", kTagPattern));
    }
    for (unsigned char c : value->second) {
      if (!IsTagChar(c)) return Validation(ValidationMessage(value->second, at + "value", kTagPattern));
    }
    if (StartsWith(ToLower(key->second), "aws:")) {
      return ApiError(400, "InvalidInput", "User and group tags beginning with 'aws:' are reserved for AWS use.");
    }
    for (const Tag& t : tags) {
      if (EqualsIgnoreCase(t.key, key->second)) {
        return ApiError(400, "InvalidInput",
                        "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
      }
    }
    tags.push_back({key->second, value->second});
  }
  if (tags.size() > kTagsPerUser) {
    return ApiError(400, "LimitExceeded", "Cannot exceed quota for TagsPerUser: 50");
  }
  return tags;
}

Status NoSuchUser(std::string_view name) {
  return ApiError(404, "NoSuchEntity", "The user with name " + std::string(name) + " cannot be found.");
}

Status NoSuchGroup(std::string_view name) {
  return ApiError(404, "NoSuchEntity", "The group with name " + std::string(name) + " cannot be found.");
}

Status NoSuchAccessKey(std::string_view id) {
  return ApiError(404, "NoSuchEntity", "The Access Key with id " + std::string(id) + " cannot be found");
}

std::string UserResource(OpContext& ctx, std::string_view user_name) {
  if (const UserRecord* user = ctx.state.FindUser(user_name)) return user->arn;
  return ctx.state.UserArn("/", std::string(user_name));
}

Status Deny(OpContext& ctx, std::string_view action, std::string_view resource) {
  return AccessDenied(Service::kIam, ctx.caller, action, resource);
}

Result<std::string> AuthorizedTargetUser(OpContext& ctx, const Params& params, std::string_view action) {
  std::string name;
  if (const std::string* given = FindParam(params, "UserName")) {
    KR_RETURN_IF_ERROR(ValidateName(given, "userName", 128));
    name = *given;
  } else if (ctx.caller.IsUser()) {
    name = ctx.caller.user_name;
  } else {
    return Validation("Must specify userName when calling with non-User credentials");
  }
  if (!IsAllowed(ctx.caller, action, name)) return Deny(ctx, action, UserResource(ctx, name));
  return name;
}

Result<UserRecord*> AuthorizedExistingUser(OpContext& ctx, const Params& params, std::string_view action) {
  KR_ASSIGN_OR_RETURN(std::string name, AuthorizedTargetUser(ctx, params, action));
  UserRecord* user = ctx.state.FindUser(name);
  if (!user) return NoSuchUser(name);
  return user;
}

void ApplyPermissionsTag(UserRecord& user) {
  user.permissions = UserPermissions::kSelfManageKeys;
  for (const Tag& tag : user.tags) {
    if (tag.key != kPermissionsTag) continue;
    if (EqualsIgnoreCase(tag.value, "admin")) user.permissions = UserPermissions::kAdmin;
    if (EqualsIgnoreCase(tag.value, "none")) user.permissions = UserPermissions::kNone;
  }
}

void WriteUser(XmlWriter& xml, const UserRecord& user, bool with_tags) {
  xml.Leaf("Path", user.path)
      .Leaf("UserName", user.name)
      .Leaf("UserId", user.id)
      .Leaf("Arn", user.arn)
      .Leaf("CreateDate", FormatIso8601(user.created));
  if (with_tags && !user.tags.empty()) {
    xml.Open("Tags");
    for (const Tag& tag : user.tags) xml.Open("member").Leaf("Key", tag.key).Leaf("Value", tag.value).Close("member");
    xml.Close("Tags");
  }
}

void WriteGroup(XmlWriter& xml, const GroupRecord& group) {
  xml.Leaf("Path", group.path)
      .Leaf("GroupName", group.name)
      .Leaf("GroupId", group.id)
      .Leaf("Arn", group.arn)
      .Leaf("CreateDate", FormatIso8601(group.created));
}

}  // namespace iam

Operation FindIamOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"CreateUser", iam::CreateUser},
      {"GetUser", iam::GetUser},
      {"ListUsers", iam::ListUsers},
      {"DeleteUser", iam::DeleteUser},
      {"TagUser", iam::TagUser},
      {"UntagUser", iam::UntagUser},
      {"ListUserTags", iam::ListUserTags},
      {"CreateGroup", iam::CreateGroup},
      {"GetGroup", iam::GetGroup},
      {"DeleteGroup", iam::DeleteGroup},
      {"AddUserToGroup", iam::AddUserToGroup},
      {"RemoveUserFromGroup", iam::RemoveUserFromGroup},
      {"ListGroupsForUser", iam::ListGroupsForUser},
      {"CreateAccessKey", iam::CreateAccessKey},
      {"ListAccessKeys", iam::ListAccessKeys},
      {"UpdateAccessKey", iam::UpdateAccessKey},
      {"DeleteAccessKey", iam::DeleteAccessKey},
      {"GetAccessKeyLastUsed", iam::GetAccessKeyLastUsed},
      {"SimulatePrincipalPolicy", iam::SimulatePrincipalPolicy},
      {"GenerateCredentialReport", iam::GenerateCredentialReport},
      {"GetCredentialReport", iam::GetCredentialReport},
      {"GetAccountAuthorizationDetails", iam::GetAccountAuthorizationDetails},
      {"AttachUserPolicy", iam::AttachUserPolicy},
      {"DetachUserPolicy", iam::DetachUserPolicy},
      {"ListAttachedUserPolicies", iam::ListAttachedUserPolicies},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
