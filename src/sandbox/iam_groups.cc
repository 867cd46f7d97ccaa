// IAM groups and membership: enough for fleet selection by group.
#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox::iam {
namespace {

std::string GroupArn(OpContext& ctx, const std::string& path, const std::string& name) {
  return "arn:aws:iam::" + ctx.state.account_id + ":group" + path + name;
}

// GroupName (1-128, the name pattern), then the admin-only authorization,
// then existence, in the order AWS applies them.
Result<GroupRecord*> AuthorizedExistingGroup(OpContext& ctx, const Params& params, std::string_view action) {
  const std::string* name = FindParam(params, "GroupName");
  KR_RETURN_IF_ERROR(ValidateName(name, "groupName", 128));
  GroupRecord* group = ctx.state.FindGroup(*name);
  if (!IsAllowed(ctx.caller, action, "")) {
    return Deny(ctx, action, group ? group->arn : GroupArn(ctx, "/", *name));
  }
  if (!group) return NoSuchGroup(*name);
  return group;
}

// Both members of a membership change, authorized and existing.
Result<std::pair<GroupRecord*, UserRecord*>> Membership(OpContext& ctx, const Params& params, std::string_view action) {
  const std::string* user_name = FindParam(params, "UserName");
  KR_RETURN_IF_ERROR(ValidateName(user_name, "userName", 128));
  KR_ASSIGN_OR_RETURN(GroupRecord * group, AuthorizedExistingGroup(ctx, params, action));
  UserRecord* user = ctx.state.FindUser(*user_name);
  if (!user) return NoSuchUser(*user_name);
  return std::make_pair(group, user);
}

}  // namespace

Result<Reply> CreateGroup(OpContext& ctx, const RoutedRequest& request) {
  const Params& p = request.params;
  const std::string* name = FindParam(p, "GroupName");
  KR_RETURN_IF_ERROR(ValidateName(name, "groupName", 128));
  std::string path = "/";
  if (const std::string* given = FindParam(p, "Path")) path = *given;
  KR_RETURN_IF_ERROR(ValidatePath(path, "path"));
  if (!IsAllowed(ctx.caller, "iam:CreateGroup", "")) return Deny(ctx, "iam:CreateGroup", GroupArn(ctx, path, *name));
  if (ctx.state.FindGroup(*name)) {
    return ApiError(409, "EntityAlreadyExists", "Group with name " + *name + " already exists.");
  }
  GroupRecord group;
  group.name = *name;
  group.id = NewUniqueId("AGPA", 17);
  group.path = path;
  group.arn = GroupArn(ctx, path, *name);
  group.created = ctx.now;
  GroupRecord& stored = ctx.state.groups.insert_or_assign(ToLower(*name), std::move(group)).first->second;
  XmlWriter xml;
  xml.Open("Group");
  WriteGroup(xml, stored);
  xml.Close("Group");
  return Reply::Xml(xml.Take());
}

Result<Reply> GetGroup(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(request.params));
  KR_ASSIGN_OR_RETURN(GroupRecord * group, AuthorizedExistingGroup(ctx, request.params, "iam:GetGroup"));
  std::vector<std::string> keys;
  std::vector<const UserRecord*> members;
  for (const std::string& key : group->members) {  // a std::set: already in marker order
    if (const UserRecord* user = ctx.state.FindUser(key)) {
      keys.push_back(key);
      members.push_back(user);
    }
  }
  Page page = Paginate(keys, page_request);
  XmlWriter xml;
  xml.Open("Group");
  WriteGroup(xml, *group);
  xml.Close("Group").Open("Users");
  for (size_t i = page.begin; i < page.end; ++i) {
    xml.Open("member");
    WriteUser(xml, *members[i], /*with_tags=*/false);
    xml.Close("member");
  }
  xml.Close("Users");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

Result<Reply> DeleteGroup(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(GroupRecord * group, AuthorizedExistingGroup(ctx, request.params, "iam:DeleteGroup"));
  if (!group->members.empty()) {
    return ApiError(409, "DeleteConflict", "Cannot delete entity, must remove users from group first.");
  }
  ctx.state.groups.erase(ToLower(group->name));
  return Reply::NoResult();
}

Result<Reply> AddUserToGroup(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(auto pair, Membership(ctx, request.params, "iam:AddUserToGroup"));
  auto [group, user] = pair;
  group->members.insert(ToLower(user->name));
  user->groups.insert(ToLower(group->name));
  return Reply::NoResult();
}

Result<Reply> RemoveUserFromGroup(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(auto pair, Membership(ctx, request.params, "iam:RemoveUserFromGroup"));
  auto [group, user] = pair;
  if (!group->members.erase(ToLower(user->name))) return NoSuchUser(user->name);
  user->groups.erase(ToLower(group->name));
  return Reply::NoResult();
}

Result<Reply> ListGroupsForUser(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(request.params));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:ListGroupsForUser"));
  std::vector<std::string> keys;
  std::vector<const GroupRecord*> groups;
  for (const std::string& key : user->groups) {
    if (GroupRecord* group = ctx.state.FindGroup(key)) {
      keys.push_back(key);
      groups.push_back(group);
    }
  }
  Page page = Paginate(keys, page_request);
  XmlWriter xml;
  xml.Open("Groups");
  for (size_t i = page.begin; i < page.end; ++i) {
    xml.Open("member");
    WriteGroup(xml, *groups[i]);
    xml.Close("member");
  }
  xml.Close("Groups");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

}  // namespace keyrotor::sandbox::iam
