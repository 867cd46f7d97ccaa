// IAM inside the sandbox: the operations (split by resource across
// iam_users.cc, iam_groups.cc, iam_access_keys.cc, iam_simulate.cc) and the
// validation, lookup and XML helpers they share. Limits, names and messages
// follow shared/reference/aws-wire.md §2.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sandbox/services.h"

namespace keyrotor::sandbox::iam {

inline constexpr size_t kAccessKeysPerUser = 2;  // hard quota (aws-wire.md §2.1)
inline constexpr size_t kTagsPerUser = 50;

// Users
Result<Reply> CreateUser(OpContext& ctx, const RoutedRequest& request);
Result<Reply> GetUser(OpContext& ctx, const RoutedRequest& request);
Result<Reply> ListUsers(OpContext& ctx, const RoutedRequest& request);
Result<Reply> DeleteUser(OpContext& ctx, const RoutedRequest& request);
Result<Reply> TagUser(OpContext& ctx, const RoutedRequest& request);
Result<Reply> UntagUser(OpContext& ctx, const RoutedRequest& request);
Result<Reply> ListUserTags(OpContext& ctx, const RoutedRequest& request);
// Groups
Result<Reply> CreateGroup(OpContext& ctx, const RoutedRequest& request);
Result<Reply> GetGroup(OpContext& ctx, const RoutedRequest& request);
Result<Reply> DeleteGroup(OpContext& ctx, const RoutedRequest& request);
Result<Reply> AddUserToGroup(OpContext& ctx, const RoutedRequest& request);
Result<Reply> RemoveUserFromGroup(OpContext& ctx, const RoutedRequest& request);
Result<Reply> ListGroupsForUser(OpContext& ctx, const RoutedRequest& request);
// Access keys
Result<Reply> CreateAccessKey(OpContext& ctx, const RoutedRequest& request);
Result<Reply> ListAccessKeys(OpContext& ctx, const RoutedRequest& request);
Result<Reply> UpdateAccessKey(OpContext& ctx, const RoutedRequest& request);
Result<Reply> DeleteAccessKey(OpContext& ctx, const RoutedRequest& request);
Result<Reply> GetAccessKeyLastUsed(OpContext& ctx, const RoutedRequest& request);
// Account-wide reports (iam_reports.cc)
Result<Reply> GenerateCredentialReport(OpContext& ctx, const RoutedRequest& request);
Result<Reply> GetCredentialReport(OpContext& ctx, const RoutedRequest& request);
Result<Reply> GetAccountAuthorizationDetails(OpContext& ctx, const RoutedRequest& request);
// Managed policies on users (iam_policies.cc)
Result<Reply> AttachUserPolicy(OpContext& ctx, const RoutedRequest& request);
Result<Reply> DetachUserPolicy(OpContext& ctx, const RoutedRequest& request);
Result<Reply> ListAttachedUserPolicies(OpContext& ctx, const RoutedRequest& request);
// Policy simulation
Result<Reply> SimulatePrincipalPolicy(OpContext& ctx, const RoutedRequest& request);

// --- Shared helpers ----------------------------------------------------------

// `[\w+=,.@-]+` of 1..max_len characters; a missing value is "null".
Status ValidateName(const std::string* value, std::string_view member, size_t max_len);
// "/" or "/.../" of printable ASCII, up to 512.
Status ValidatePath(const std::string& path, std::string_view member);
// Tags.member.N.{Key,Value} -> tags, checking lengths and characters.
Result<std::vector<Tag>> ParseTags(const Params& params);

Status NoSuchUser(std::string_view name);
Status NoSuchGroup(std::string_view name);
Status NoSuchAccessKey(std::string_view id);

// The UserName parameter (checked as existingUserNameType), or the calling
// user's name when it is omitted; then the caller's right to `action` on that
// user. AWS authorizes before it looks, so a caller without rights gets
// AccessDenied even for a user that does not exist.
Result<std::string> AuthorizedTargetUser(OpContext& ctx, const Params& params, std::string_view action);
// The same, then the user itself (NoSuchEntity when absent).
Result<UserRecord*> AuthorizedExistingUser(OpContext& ctx, const Params& params, std::string_view action);
// The ARN an AccessDenied message names for a user, existing or not.
std::string UserResource(OpContext& ctx, std::string_view user_name);
Status Deny(OpContext& ctx, std::string_view action, std::string_view resource);

// Re-reads the kPermissionsTag after tags change.
void ApplyPermissionsTag(UserRecord& user);

void WriteUser(XmlWriter& xml, const UserRecord& user, bool with_tags);
void WriteGroup(XmlWriter& xml, const GroupRecord& group);

}  // namespace keyrotor::sandbox::iam
