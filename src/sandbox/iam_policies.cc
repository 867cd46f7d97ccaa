// Managed policies attached to users: AttachUserPolicy, DetachUserPolicy,
// ListAttachedUserPolicies (IAM API Reference). The sandbox evaluates no
// policy documents; it knows the AWS managed policies AWS attaches to a user
// whose key it found exposed (AWSCompromisedKeyQuarantine, V2, V3, V4 in the
// AWS Managed Policy Reference), and what they deny: the user's own keys are
// refused those actions with an explicit deny naming the policy, whatever
// else the user may do. Other principals (keyrotor's admin) are unaffected.
#include <algorithm>

#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox {
namespace {

constexpr std::string_view kAwsPolicyPrefix = "arn:aws:iam::aws:policy/";

// The actions of the quarantine policies the sandbox serves, as listed in the
// AWS Managed Policy Reference (AWSCompromisedKeyQuarantineV2/V3: the
// services the sandbox speaks; EC2, Lambda, Lightsail and the rest are not
// served here).
const std::vector<std::string_view>& QuarantineV3Actions() {
  static const std::vector<std::string_view> kActions = {
      "cloudtrail:LookupEvents",       "iam:AddUserToGroup",        "iam:AttachGroupPolicy",
      "iam:AttachRolePolicy",          "iam:AttachUserPolicy",      "iam:ChangePassword",
      "iam:CreateAccessKey",           "iam:CreateInstanceProfile", "iam:CreateLoginProfile",
      "iam:CreatePolicyVersion",       "iam:CreateRole",            "iam:CreateUser",
      "iam:DetachUserPolicy",          "iam:PassRole",              "iam:PutGroupPolicy",
      "iam:PutRolePolicy",             "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy",
      "iam:SetDefaultPolicyVersion",   "iam:UpdateAccessKey",       "iam:UpdateAccountPasswordPolicy",
      "iam:UpdateAssumeRolePolicy",    "iam:UpdateLoginProfile",    "iam:UpdateUser",
      "organizations:CreateAccount",   "organizations:CreateOrganization",
      "organizations:InviteAccountToOrganization"};
  return kActions;
}

// AWSCompromisedKeyQuarantine (the first version): no cloudtrail:LookupEvents.
const std::vector<std::string_view>& QuarantineV1Actions() {
  static const std::vector<std::string_view> kActions = {
      "iam:AttachGroupPolicy",  "iam:AttachRolePolicy",           "iam:AttachUserPolicy", "iam:ChangePassword",
      "iam:CreateAccessKey",    "iam:CreateInstanceProfile",      "iam:CreateLoginProfile", "iam:CreateRole",
      "iam:CreateUser",         "iam:DetachUserPolicy",           "iam:PutUserPermissionsBoundary",
      "iam:PutUserPolicy",      "iam:UpdateAccessKey",            "iam:UpdateAccountPasswordPolicy",
      "iam:UpdateUser",         "organizations:CreateAccount",    "organizations:CreateOrganization",
      "organizations:InviteAccountToOrganization"};
  return kActions;
}

// The AWS managed policies the sandbox knows, and what each denies (null: nothing).
const std::vector<std::string_view>* KnownAwsPolicy(std::string_view name, bool* known) {
  *known = true;
  if (name == "AWSCompromisedKeyQuarantine") return &QuarantineV1Actions();
  if (name == "AWSCompromisedKeyQuarantineV2" || name == "AWSCompromisedKeyQuarantineV3" ||
      name == "AWSCompromisedKeyQuarantineV4") {
    return &QuarantineV3Actions();
  }
  if (name == "AdministratorAccess" || name == "ReadOnlyAccess" || name == "IAMUserChangePassword") return nullptr;
  *known = false;
  return nullptr;
}

Status NoSuchPolicy(std::string_view arn) {
  return ApiError(404, "NoSuchEntity", "Policy " + std::string(arn) + " does not exist or is not attachable.");
}

Result<std::string> PolicyArnParam(const RoutedRequest& request) {
  const std::string* arn = FindParam(request.params, "PolicyArn");
  if (!arn) return ApiError(400, "ValidationError", NullValidationMessage("policyArn"));
  if (arn->size() < 20 || arn->size() > 2048 || !StartsWith(*arn, "arn:")) {
    return ApiError(400, "InvalidInput", "ARN " + *arn + " is not valid.");
  }
  return *arn;
}

}  // namespace

std::string QuarantineDenial(const State& state, const Principal& caller, const std::string& action) {
  if (!caller.IsUser()) return "";
  const UserRecord* user = state.FindUser(caller.user_name);
  if (!user) return "";
  for (const std::string& arn : user->attached_policies) {
    if (!StartsWith(arn, kAwsPolicyPrefix)) continue;
    bool known = false;
    const std::vector<std::string_view>* denied = KnownAwsPolicy(std::string_view(arn).substr(kAwsPolicyPrefix.size()), &known);
    if (!denied) continue;
    if (std::any_of(denied->begin(), denied->end(), [&](std::string_view a) { return EqualsIgnoreCase(a, action); })) {
      return arn;
    }
  }
  return "";
}

Status AttachPolicyToUser(UserRecord& user, const std::string& arn) {
  bool known = false;
  if (!StartsWith(arn, kAwsPolicyPrefix)) return NoSuchPolicy(arn);
  KnownAwsPolicy(std::string_view(arn).substr(kAwsPolicyPrefix.size()), &known);
  if (!known) return NoSuchPolicy(arn);
  if (std::find(user.attached_policies.begin(), user.attached_policies.end(), arn) == user.attached_policies.end()) {
    user.attached_policies.push_back(arn);
  }
  return Status::Ok();
}

namespace iam {

Result<Reply> AttachUserPolicy(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(std::string arn, PolicyArnParam(request));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:AttachUserPolicy"));
  KR_RETURN_IF_ERROR(AttachPolicyToUser(*user, arn));
  return Reply::NoResult();
}

Result<Reply> DetachUserPolicy(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(std::string arn, PolicyArnParam(request));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:DetachUserPolicy"));
  auto it = std::find(user->attached_policies.begin(), user->attached_policies.end(), arn);
  if (it == user->attached_policies.end()) {
    return ApiError(404, "NoSuchEntity", "Policy " + arn + " was not found.");
  }
  user->attached_policies.erase(it);
  return Reply::NoResult();
}

Result<Reply> ListAttachedUserPolicies(OpContext& ctx, const RoutedRequest& request) {
  KR_RETURN_IF_ERROR(ValidateName(FindParam(request.params, "UserName"), "userName", 128));
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(request.params));
  KR_ASSIGN_OR_RETURN(UserRecord * user, AuthorizedExistingUser(ctx, request.params, "iam:ListAttachedUserPolicies"));
  Page page = PaginatePositions(user->attached_policies.size(), page_request);
  XmlWriter xml;
  xml.Open("AttachedPolicies");
  for (size_t i = page.begin; i < page.end; ++i) {
    const std::string& arn = user->attached_policies[i];
    xml.Open("member")
        .Leaf("PolicyName", arn.substr(arn.rfind('/') + 1))
        .Leaf("PolicyArn", arn)
        .Close("member");
  }
  xml.Close("AttachedPolicies");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

}  // namespace iam
}  // namespace keyrotor::sandbox
