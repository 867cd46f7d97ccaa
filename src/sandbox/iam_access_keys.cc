// IAM access keys: the operations keyrotor's rotation is built on
// (aws-wire.md §2.1 limits, §2.2 shapes, §2.3 errors).
#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox::iam {
namespace {

// accessKeyIdType: 16-128 characters of [\w].
Status ValidateAccessKeyId(const std::string* id) {
  if (!id) return ApiError(400, "ValidationError", NullValidationMessage("accessKeyId"));
  if (id->size() < 16 || id->size() > 128) {
    return ApiError(400, "ValidationError",
                    ValidationMessage(*id, "accessKeyId",
                                      id->size() < 16 ? "Member must have length greater than or equal to 16"
                                                      : "Member must have length less than or equal to 128"));
  }
  for (unsigned char c : *id) {
    if (!std::isalnum(c) && c != '_') {
      return ApiError(400, "ValidationError",
                      ValidationMessage(*id, "accessKeyId", "Member must satisfy regular expression pattern: [\\w]+"));
    }
  }
  return Status::Ok();
}

// UpdateAccessKey and DeleteAccessKey name the key and, optionally, its
// user (default: the caller). A key of some other user is "not found" for
// this user, as in AWS.
Result<AccessKeyRecord*> AuthorizedUserKey(OpContext& ctx, const Params& params, std::string_view action) {
  const std::string* id = FindParam(params, "AccessKeyId");
  KR_RETURN_IF_ERROR(ValidateAccessKeyId(id));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, params, action));
  AccessKeyRecord* key = ctx.state.FindLiveKey(*id);
  if (!key || key->user_id != user->id) return NoSuchAccessKey(*id);
  return key;
}

}  // namespace

Result<Reply> CreateAccessKey(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:CreateAccessKey"));
  if (user->key_ids.size() >= kAccessKeysPerUser) {
    return ApiError(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2");
  }
  AccessKeyRecord& key = ctx.state.AddKey(*user, ctx.now);
  XmlWriter xml;
  xml.Open("AccessKey")
      .Leaf("UserName", user->name)
      .Leaf("AccessKeyId", key.id)
      .Leaf("Status", "Active")
      .Leaf("SecretAccessKey", key.secret.reveal())  // the only time IAM ever returns it
      .Leaf("CreateDate", FormatIso8601(key.created))
      .Close("AccessKey");
  return Reply::Xml(xml.Take());
}

Result<Reply> ListAccessKeys(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(request.params));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:ListAccessKeys"));
  Page page = PaginatePositions(user->key_ids.size(), page_request);
  XmlWriter xml;
  xml.Open("AccessKeyMetadata");
  for (size_t i = page.begin; i < page.end; ++i) {
    const AccessKeyRecord& key = ctx.state.keys.at(user->key_ids[i]);
    xml.Open("member")
        .Leaf("UserName", user->name)
        .Leaf("AccessKeyId", key.id)
        .Leaf("Status", key.active ? "Active" : "Inactive")
        .Leaf("CreateDate", FormatIso8601(key.created))
        .Close("member");
  }
  xml.Close("AccessKeyMetadata");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

Result<Reply> UpdateAccessKey(OpContext& ctx, const RoutedRequest& request) {
  const std::string* status = FindParam(request.params, "Status");
  if (!status) return ApiError(400, "ValidationError", NullValidationMessage("status"));
  if (*status != "Active" && *status != "Inactive" && *status != "Expired") {
    return ApiError(
        400, "ValidationError",
        ValidationMessage(*status, "status", "Member must satisfy enum value set: [Active, Inactive, Expired]"));
  }
  // The model's enum lists Expired, but only IAM itself sets it.
  if (*status == "Expired") return ApiError(400, "InvalidInput", "Invalid value for Status: Expired");
  KR_ASSIGN_OR_RETURN(AccessKeyRecord * key, AuthorizedUserKey(ctx, request.params, "iam:UpdateAccessKey"));
  ctx.state.SetKeyActive(*key, *status == "Active", ctx.now);
  return Reply::NoResult();
}

Result<Reply> DeleteAccessKey(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(AccessKeyRecord * key, AuthorizedUserKey(ctx, request.params, "iam:DeleteAccessKey"));
  ctx.state.DeleteKey(*key, ctx.now);
  return Reply::NoResult();
}

Result<Reply> GetAccessKeyLastUsed(OpContext& ctx, const RoutedRequest& request) {
  const std::string* id = FindParam(request.params, "AccessKeyId");
  KR_RETURN_IF_ERROR(ValidateAccessKeyId(id));
  AccessKeyRecord* key = ctx.state.FindLiveKey(*id);
  const UserRecord* owner = key ? ctx.state.FindUser(key->user_key) : nullptr;
  // The resource is the key's owner; an unknown key is judged as the caller's own.
  std::string owner_name = owner ? owner->name : ctx.caller.user_name;
  if (!IsAllowed(ctx.caller, "iam:GetAccessKeyLastUsed", owner_name)) {
    return Deny(ctx, "iam:GetAccessKeyLastUsed", UserResource(ctx, owner_name));
  }
  if (!key || !owner) return NoSuchAccessKey(*id);
  XmlWriter xml;
  xml.Leaf("UserName", owner->name).Open("AccessKeyLastUsed");
  if (key->last_used) {
    xml.Leaf("LastUsedDate", FormatIso8601(key->last_used->when))
        .Leaf("ServiceName", key->last_used->service)
        .Leaf("Region", key->last_used->region);
  } else {
    // Never used: no LastUsedDate and "N/A" strings (aws-wire.md §2.2).
    xml.Leaf("ServiceName", "N/A").Leaf("Region", "N/A");
  }
  xml.Close("AccessKeyLastUsed");
  return Reply::Xml(xml.Take());
}

}  // namespace keyrotor::sandbox::iam
