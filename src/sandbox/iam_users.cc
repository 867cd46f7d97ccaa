// IAM users and their tags (aws-wire.md §2.1, §2.2).
#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox::iam {

Result<Reply> CreateUser(OpContext& ctx, const RoutedRequest& request) {
  const Params& p = request.params;
  const std::string* name = FindParam(p, "UserName");
  KR_RETURN_IF_ERROR(ValidateName(name, "userName", 64));
  std::string path = "/";
  if (const std::string* given = FindParam(p, "Path")) path = *given;
  KR_RETURN_IF_ERROR(ValidatePath(path, "path"));
  if (!IsAllowed(ctx.caller, "iam:CreateUser", "")) {
    return Deny(ctx, "iam:CreateUser", ctx.state.UserArn(path, *name));
  }
  KR_ASSIGN_OR_RETURN(std::vector<Tag> tags, ParseTags(p));
  if (ctx.state.FindUser(*name)) {
    return ApiError(409, "EntityAlreadyExists", "User with name " + *name + " already exists.");
  }
  UserRecord& user = ctx.state.AddUser(*name, path, ctx.now);
  user.tags = std::move(tags);
  ApplyPermissionsTag(user);
  XmlWriter xml;
  xml.Open("User");
  WriteUser(xml, user, /*with_tags=*/true);
  xml.Close("User");
  return Reply::Xml(xml.Take());
}

Result<Reply> GetUser(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:GetUser"));
  XmlWriter xml;
  xml.Open("User");
  WriteUser(xml, *user, /*with_tags=*/true);
  xml.Close("User");
  return Reply::Xml(xml.Take());
}

Result<Reply> ListUsers(OpContext& ctx, const RoutedRequest& request) {
  const Params& p = request.params;
  std::string prefix = "/";
  if (const std::string* given = FindParam(p, "PathPrefix")) prefix = *given;
  if (prefix.empty() || prefix.front() != '/' || prefix.size() > 512) {
    return ApiError(400, "ValidationError",
                    ValidationMessage(prefix, "pathPrefix",
                                      "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"));
  }
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(p));
  if (!IsAllowed(ctx.caller, "iam:ListUsers", "")) {
    return Deny(ctx, "iam:ListUsers", "arn:aws:iam::" + ctx.state.account_id + ":user/");
  }
  // Users are kept by lower-cased name, which is also the listing order and the marker's sort key.
  std::vector<const UserRecord*> matching;
  std::vector<std::string> keys;
  for (const auto& [key, user] : ctx.state.users) {
    if (!StartsWith(user.path, prefix)) continue;
    matching.push_back(&user);
    keys.push_back(key);
  }
  Page page = Paginate(keys, page_request);
  XmlWriter xml;
  xml.Open("Users");
  for (size_t i = page.begin; i < page.end; ++i) {
    xml.Open("member");
    WriteUser(xml, *matching[i], /*with_tags=*/false);  // ListUsers omits Tags (aws-wire.md §2.2)
    xml.Close("member");
  }
  xml.Close("Users");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

Result<Reply> DeleteUser(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:DeleteUser"));
  // IAM refuses to delete a user that still owns subsidiary entities.
  if (!user->key_ids.empty()) {
    return ApiError(409, "DeleteConflict", "Cannot delete entity, must delete access keys first.");
  }
  if (!user->groups.empty()) {
    return ApiError(409, "DeleteConflict", "Cannot delete entity, must remove users from group first.");
  }
  ctx.state.users.erase(ToLower(user->name));
  return Reply::NoResult();
}

Result<Reply> TagUser(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(std::vector<Tag> tags, ParseTags(request.params));
  if (tags.empty()) return ApiError(400, "ValidationError", NullValidationMessage("tags"));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:TagUser"));
  std::vector<Tag> merged = user->tags;
  for (Tag& tag : tags) {
    bool replaced = false;
    for (Tag& existing : merged) {
      if (EqualsIgnoreCase(existing.key, tag.key)) {
        existing.value = tag.value;
        replaced = true;
      }
    }
    if (!replaced) merged.push_back(std::move(tag));
  }
  if (merged.size() > kTagsPerUser) {
    return ApiError(409, "LimitExceeded", "Cannot exceed quota for TagsPerUser: 50");
  }
  user->tags = std::move(merged);
  ApplyPermissionsTag(*user);
  return Reply::NoResult();
}

Result<Reply> UntagUser(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  std::vector<std::string> keys = MemberList(request.params, "TagKeys");
  if (keys.empty()) return ApiError(400, "ValidationError", NullValidationMessage("tagKeys"));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:UntagUser"));
  std::erase_if(user->tags, [&](const Tag& tag) {
    for (const std::string& k : keys) {
      if (EqualsIgnoreCase(k, tag.key)) return true;
    }
    return false;
  });
  ApplyPermissionsTag(*user);
  return Reply::NoResult();
}

Result<Reply> ListUserTags(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(request.params));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:ListUserTags"));
  Page page = PaginatePositions(user->tags.size(), page_request);
  XmlWriter xml;
  xml.Open("Tags");
  for (size_t i = page.begin; i < page.end; ++i) {
    xml.Open("member").Leaf("Key", user->tags[i].key).Leaf("Value", user->tags[i].value).Close("member");
  }
  xml.Close("Tags");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

}  // namespace keyrotor::sandbox::iam
