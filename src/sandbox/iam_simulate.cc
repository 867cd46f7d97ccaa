// SimulatePrincipalPolicy over the sandbox's permission shapes, so keyrotor's
// pre-flight "may this user rotate its own keys?" check has something real to
// ask. Shape per aws-wire.md §2.2 (one EvaluationResult per action,
// per-resource decisions in ResourceSpecificResults).
#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox::iam {
namespace {

struct SourcePrincipal {
  Principal principal;
  std::string policy_id;  // what MatchedStatements names for an allow
};

// arn:aws:iam::ACCT:user/[path/]NAME or arn:aws:iam::ACCT:role/[path/]NAME.
Result<SourcePrincipal> ResolvePolicySource(OpContext& ctx, const std::string& arn) {
  std::string prefix = "arn:aws:iam::" + ctx.state.account_id + ":";
  std::string_view rest(arn);
  if (!StartsWith(rest, prefix)) return ApiError(400, "InvalidInput", "Invalid ARN: " + arn);
  rest.remove_prefix(prefix.size());
  std::string_view name = rest.substr(rest.rfind('/') + 1);
  SourcePrincipal out;
  if (StartsWith(rest, "user/")) {
    const UserRecord* user = ctx.state.FindUser(name);
    if (!user) return NoSuchUser(name);
    out.principal.kind = Principal::Kind::kUser;
    out.principal.user_name = user->name;
    out.principal.arn = user->arn;
    out.principal.permissions = user->permissions;
    out.policy_id = user->permissions == UserPermissions::kAdmin ? "keyrotor-sandbox-admin"
                                                                 : "keyrotor-sandbox-manage-own-access-keys";
    return out;
  }
  if (StartsWith(rest, "role/") && !name.empty()) {
    // Roles are as permissive as admins in the sandbox (see Principal).
    out.principal.kind = Principal::Kind::kAssumedRole;
    out.principal.arn = arn;
    out.principal.permissions = UserPermissions::kAdmin;
    out.policy_id = "keyrotor-sandbox-role";
    return out;
  }
  return ApiError(400, "InvalidInput", "Invalid ARN: " + arn);
}

// The user a resource ARN names, or "" for anything else. "*" stands for the
// principal itself, so a self-managing user simulated without ResourceArns
// is told what it may do to its own keys.
std::string ResourceUser(const Principal& principal, const std::string& resource) {
  if (resource == "*") return principal.user_name;
  size_t user = resource.find(":user/");
  if (!StartsWith(resource, "arn:aws:iam::") || user == std::string::npos) return "";
  return resource.substr(resource.rfind('/') + 1);
}

void WriteMatched(XmlWriter& xml, bool allowed, const std::string& policy_id) {
  if (!allowed) {
    xml.Empty("MatchedStatements");
    return;
  }
  xml.Open("MatchedStatements")
      .Open("member")
      .Leaf("SourcePolicyId", policy_id)
      .Leaf("SourcePolicyType", "IAM Policy")
      .Close("member")
      .Close("MatchedStatements");
}

}  // namespace

Result<Reply> SimulatePrincipalPolicy(OpContext& ctx, const RoutedRequest& request) {
  const Params& p = request.params;
  const std::string* source = FindParam(p, "PolicySourceArn");
  if (!source) return ApiError(400, "ValidationError", NullValidationMessage("policySourceArn"));
  std::vector<std::string> actions = MemberList(p, "ActionNames");
  if (actions.empty()) return ApiError(400, "ValidationError", NullValidationMessage("actionNames"));
  std::vector<std::string> resources = MemberList(p, "ResourceArns");
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(p));
  if (!IsAllowed(ctx.caller, "iam:SimulatePrincipalPolicy", "")) {
    return Deny(ctx, "iam:SimulatePrincipalPolicy", *source);
  }
  KR_ASSIGN_OR_RETURN(SourcePrincipal subject, ResolvePolicySource(ctx, *source));
  bool explicit_resources = !resources.empty();
  if (!explicit_resources) resources.push_back("*");

  Page page = PaginatePositions(actions.size(), page_request);
  XmlWriter xml;
  xml.Open("EvaluationResults");
  for (size_t i = page.begin; i < page.end; ++i) {
    const std::string& action = actions[i];
    std::vector<bool> decisions;
    bool all_allowed = true;
    for (const std::string& resource : resources) {
      decisions.push_back(IsAllowed(subject.principal, action, ResourceUser(subject.principal, resource)));
      all_allowed = all_allowed && decisions.back();
    }
    const char* decision = all_allowed ? "allowed" : "implicitDeny";
    xml.Open("member")
        .Leaf("EvalActionName", action)
        .Leaf("EvalResourceName", resources.size() == 1 ? resources[0] : "*")
        .Leaf("EvalDecision", decision);
    WriteMatched(xml, all_allowed, subject.policy_id);
    xml.Empty("MissingContextValues");
    xml.Open("EvalDecisionDetails")
        .Open("entry")
        .Leaf("key", "IAM Policy")
        .Leaf("value", decision)
        .Close("entry")
        .Close("EvalDecisionDetails");
    if (explicit_resources) {
      xml.Open("ResourceSpecificResults");
      for (size_t r = 0; r < resources.size(); ++r) {
        xml.Open("member")
            .Leaf("EvalResourceName", resources[r])
            .Leaf("EvalResourceDecision", decisions[r] ? "allowed" : "implicitDeny");
        WriteMatched(xml, decisions[r], subject.policy_id);
        xml.Empty("MissingContextValues").Close("member");
      }
      xml.Close("ResourceSpecificResults");
    }
    xml.Close("member");
  }
  xml.Close("EvaluationResults");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

}  // namespace keyrotor::sandbox::iam
