#include "aws/iam.h"

#include <algorithm>
#include <set>

#include "base/crypto.h"

namespace keyrotor::aws {
namespace {

constexpr char kIamVersion[] = "2010-05-08";

Result<IamUser> ParseUser(pugi::xml_node node) {
  IamUser user;
  user.path = ChildText(node, "Path");
  user.user_name = ChildText(node, "UserName");
  user.user_id = ChildText(node, "UserId");
  user.arn = ChildText(node, "Arn");
  if (user.user_name.empty()) return Status::ParseError("IAM user element lacks <UserName>");
  KR_ASSIGN_OR_RETURN(user.create_date, ChildTime(node, "CreateDate"));
  for (pugi::xml_node t : node.child("Tags").children("member")) {
    user.tags.push_back({ChildText(t, "Key"), ChildText(t, "Value")});
  }
  return user;
}

Result<AccessKeyMetadata> ParseKeyMetadata(pugi::xml_node node) {
  AccessKeyMetadata key;
  key.user_name = ChildText(node, "UserName");
  key.access_key_id = ChildText(node, "AccessKeyId");
  key.status = ChildText(node, "Status");
  if (key.access_key_id.empty()) return Status::ParseError("access key element lacks <AccessKeyId>");
  if (key.status != "Active" && key.status != "Inactive" && key.status != "Expired") {
    return Status::ParseError("access key " + key.access_key_id + " has unexpected status '" + key.status + "'");
  }
  KR_ASSIGN_OR_RETURN(key.create_date, ChildTime(node, "CreateDate"));
  return key;
}

void AddUser(QueryParams& params, const std::string& user) {
  if (!user.empty()) params.emplace_back("UserName", user);
}

}  // namespace

bool IsValidUserName(std::string_view name, size_t max_len) {
  if (name.empty() || name.size() > max_len) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '=' || c == ',' || c == '.' ||
           c == '@' || c == '-';
  });
}

IamClient::IamClient(ClientContext context, ServiceEndpoint endpoint)
    : QueryClient(std::move(context), std::move(endpoint), kIamVersion) {}

Result<IamUser> IamClient::GetUser(const std::string& user) {
  QueryParams params;
  AddUser(params, user);
  KR_ASSIGN_OR_RETURN(Reply reply, Call("GetUser", params));
  return ParseUser(reply.result.child("User"));
}

Result<std::vector<IamUser>> IamClient::ListUsers(const std::string& path_prefix) {
  QueryParams params;
  if (!path_prefix.empty()) params.emplace_back("PathPrefix", path_prefix);
  params.emplace_back("MaxItems", "1000");
  std::vector<IamUser> users;
  KR_RETURN_IF_ERROR(Paginate("ListUsers", params, "Users", [&](pugi::xml_node m) -> Status {
    KR_ASSIGN_OR_RETURN(IamUser u, ParseUser(m));
    users.push_back(std::move(u));
    return Status::Ok();
  }));
  return users;
}

Result<std::vector<AccessKeyMetadata>> IamClient::ListAccessKeys(const std::string& user) {
  QueryParams params;
  AddUser(params, user);
  std::vector<AccessKeyMetadata> keys;
  KR_RETURN_IF_ERROR(Paginate("ListAccessKeys", params, "AccessKeyMetadata", [&](pugi::xml_node m) -> Status {
    KR_ASSIGN_OR_RETURN(AccessKeyMetadata k, ParseKeyMetadata(m));
    keys.push_back(std::move(k));
    return Status::Ok();
  }));
  return keys;
}

Result<NewAccessKey> IamClient::CreateAccessKeyOnce(const std::string& user) {
  QueryParams params;
  AddUser(params, user);
  KR_ASSIGN_OR_RETURN(Reply reply, Call("CreateAccessKey", params, {.idempotency = Idempotency::kNotIdempotent}));
  pugi::xml_node key = reply.result.child("AccessKey");
  NewAccessKey out;
  out.metadata.user_name = ChildText(key, "UserName");
  out.metadata.access_key_id = ChildText(key, "AccessKeyId");
  out.metadata.status = ChildText(key, "Status");
  out.secret_access_key = TakeSecretText(key, "SecretAccessKey");
  if (out.metadata.access_key_id.empty() || out.secret_access_key.empty()) {
    return Status::ParseError("CreateAccessKey: response lacks AccessKeyId or SecretAccessKey");
  }
  // The API reference's sample omits CreateDate; the service sends it.
  Result<TimePoint> created = ChildTime(key, "CreateDate");
  out.metadata.create_date = created.ok() ? *created : context_.clock->Now();
  return out;
}

Result<AuthorizationDetails> IamClient::GetUsersAndGroups() {
  QueryParams params = {{"Filter.member.1", "User"}, {"Filter.member.2", "Group"}, {"MaxItems", "1000"}};
  AuthorizationDetails out;
  // Paginated by hand: one page carries two lists (users, then groups).
  for (int page = 0; page < 100000; ++page) {
    KR_ASSIGN_OR_RETURN(Reply reply, Call("GetAccountAuthorizationDetails", params));
    for (pugi::xml_node m : reply.result.child("UserDetailList").children("member")) {
      IamUserDetail d;
      KR_ASSIGN_OR_RETURN(d.user, ParseUser(m));
      for (pugi::xml_node g : m.child("GroupList").children("member")) d.groups.push_back(g.text().get());
      out.users.push_back(std::move(d));
    }
    for (pugi::xml_node m : reply.result.child("GroupDetailList").children("member")) {
      out.group_names.push_back(ChildText(m, "GroupName"));
    }
    if (ChildText(reply.result, "IsTruncated") != "true") return out;
    std::string marker = ChildText(reply.result, "Marker");
    if (marker.empty()) return Status::ParseError("GetAccountAuthorizationDetails: truncated without a Marker");
    std::erase_if(params, [](const auto& p) { return p.first == "Marker"; });
    params.emplace_back("Marker", marker);
  }
  return Status::ParseError("GetAccountAuthorizationDetails: the service never stopped paginating");
}

Result<ReportState> IamClient::GenerateCredentialReport() {
  KR_ASSIGN_OR_RETURN(Reply reply, Call("GenerateCredentialReport", {}));
  std::string state = ChildText(reply.result, "State");
  if (state == "STARTED") return ReportState::kStarted;
  if (state == "INPROGRESS") return ReportState::kInProgress;
  if (state == "COMPLETE") return ReportState::kComplete;
  return Status::ParseError("GenerateCredentialReport: unexpected State '" + state + "'");
}

Result<CredentialReport> IamClient::GetCredentialReport() {
  KR_ASSIGN_OR_RETURN(Reply reply, Call("GetCredentialReport", {}));
  std::string format = ChildText(reply.result, "ReportFormat");
  if (format != "text/csv") return Status::ParseError("GetCredentialReport: unexpected ReportFormat '" + format + "'");
  std::optional<std::string> csv = Base64Decode(ChildText(reply.result, "Content"));
  if (!csv) return Status::ParseError("GetCredentialReport: Content is not base64");
  CredentialReport out;
  out.csv = std::move(*csv);
  KR_ASSIGN_OR_RETURN(out.generated, ChildTime(reply.result, "GeneratedTime"));
  return out;
}

Result<NewAccessKey> IamClient::CreateAccessKey(const std::string& user) {
  KR_ASSIGN_OR_RETURN(std::vector<AccessKeyMetadata> before, ListAccessKeys(user));
  std::vector<std::string> ids;
  for (const auto& k : before) ids.push_back(k.access_key_id);
  return CreateAccessKey(user, ids);
}

Result<NewAccessKey> IamClient::CreateAccessKey(const std::string& user, const std::vector<std::string>& keys_before) {
  std::set<std::string> known(keys_before.begin(), keys_before.end());
  int max_attempts = std::max(1, context_.retry.max_attempts);
  Status last;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    Result<NewAccessKey> created = CreateAccessKeyOnce(user);
    if (created.ok() || !created.status().IsUnknownOutcome()) return created;
    last = created.status();
    // The key may exist, but its secret is lost with the response: find it
    // and delete it before trying again.
    KR_ASSIGN_OR_RETURN(std::vector<AccessKeyMetadata> after, ListAccessKeys(user));
    for (const auto& k : after) {
      if (known.count(k.access_key_id)) continue;
      Status deleted = DeleteAccessKey(user, k.access_key_id);
      if (!deleted.ok() && !deleted.IsAws("NoSuchEntity")) {
        return deleted.WithContext("CreateAccessKey: could not remove key " + k.access_key_id +
                                   " whose creation response was lost");
      }
    }
  }
  return last;
}

Status IamClient::UpdateAccessKey(const std::string& user, const std::string& access_key_id, bool active) {
  QueryParams params;
  AddUser(params, user);
  params.emplace_back("AccessKeyId", access_key_id);
  params.emplace_back("Status", active ? "Active" : "Inactive");
  return Call("UpdateAccessKey", params).status();
}

Status IamClient::DeleteAccessKey(const std::string& user, const std::string& access_key_id) {
  QueryParams params;
  AddUser(params, user);
  params.emplace_back("AccessKeyId", access_key_id);
  bool may_have_applied = false;
  Status s = Call("DeleteAccessKey", params, {.earlier_attempt_may_have_applied = &may_have_applied}).status();
  // A retry that finds the key gone means our earlier attempt deleted it.
  if (may_have_applied && s.IsAws("NoSuchEntity")) return Status::Ok();
  return s;
}

Result<AccessKeyLastUsed> IamClient::GetAccessKeyLastUsed(const std::string& access_key_id) {
  KR_ASSIGN_OR_RETURN(Reply reply, Call("GetAccessKeyLastUsed", {{"AccessKeyId", access_key_id}}));
  AccessKeyLastUsed out;
  out.user_name = ChildText(reply.result, "UserName");
  pugi::xml_node used = reply.result.child("AccessKeyLastUsed");
  out.service_name = ChildText(used, "ServiceName");
  out.region = ChildText(used, "Region");
  if (!ChildText(used, "LastUsedDate").empty()) {
    KR_ASSIGN_OR_RETURN(TimePoint t, ChildTime(used, "LastUsedDate"));
    out.last_used_date = t;
  }
  return out;
}

Result<std::vector<Tag>> IamClient::ListUserTags(const std::string& user) {
  std::vector<Tag> tags;
  KR_RETURN_IF_ERROR(Paginate("ListUserTags", {{"UserName", user}}, "Tags", [&](pugi::xml_node m) {
    tags.push_back({ChildText(m, "Key"), ChildText(m, "Value")});
    return Status::Ok();
  }));
  return tags;
}

Result<std::vector<AttachedPolicy>> IamClient::ListAttachedUserPolicies(const std::string& user) {
  std::vector<AttachedPolicy> policies;
  KR_RETURN_IF_ERROR(
      Paginate("ListAttachedUserPolicies", {{"UserName", user}}, "AttachedPolicies", [&](pugi::xml_node m) {
        policies.push_back({ChildText(m, "PolicyName"), ChildText(m, "PolicyArn")});
        return Status::Ok();
      }));
  return policies;
}

Result<std::vector<IamGroup>> IamClient::ListGroupsForUser(const std::string& user) {
  std::vector<IamGroup> groups;
  KR_RETURN_IF_ERROR(Paginate("ListGroupsForUser", {{"UserName", user}}, "Groups", [&](pugi::xml_node m) {
    groups.push_back({ChildText(m, "Path"), ChildText(m, "GroupName"), ChildText(m, "GroupId"), ChildText(m, "Arn")});
    return Status::Ok();
  }));
  return groups;
}

Result<std::vector<IamUser>> IamClient::GetGroup(const std::string& group) {
  std::vector<IamUser> users;
  KR_RETURN_IF_ERROR(Paginate("GetGroup", {{"GroupName", group}}, "Users", [&](pugi::xml_node m) -> Status {
    KR_ASSIGN_OR_RETURN(IamUser u, ParseUser(m));
    users.push_back(std::move(u));
    return Status::Ok();
  }));
  return users;
}

Result<std::vector<SimulatedDecision>> IamClient::SimulatePrincipalPolicy(const std::string& policy_source_arn,
                                                                        const std::vector<std::string>& actions) {
  QueryParams params{{"PolicySourceArn", policy_source_arn}};
  for (size_t i = 0; i < actions.size(); ++i) {
    params.emplace_back("ActionNames.member." + std::to_string(i + 1), actions[i]);
  }
  std::vector<SimulatedDecision> out;
  KR_RETURN_IF_ERROR(Paginate("SimulatePrincipalPolicy", params, "EvaluationResults", [&](pugi::xml_node m) {
    out.push_back({ChildText(m, "EvalActionName"), ChildText(m, "EvalDecision")});
    return Status::Ok();
  }));
  return out;
}

Result<IamUser> IamClient::CreateUser(const std::string& user, const std::string& path, const std::vector<Tag>& tags) {
  // The model's member order (Path, UserName, ..., Tags), as botocore sends it.
  QueryParams params{{"Path", path}, {"UserName", user}};
  for (size_t i = 0; i < tags.size(); ++i) {
    params.emplace_back("Tags.member." + std::to_string(i + 1) + ".Key", tags[i].key);
    params.emplace_back("Tags.member." + std::to_string(i + 1) + ".Value", tags[i].value);
  }
  KR_ASSIGN_OR_RETURN(Reply reply, Call("CreateUser", params, {.idempotency = Idempotency::kNotIdempotent}));
  return ParseUser(reply.result.child("User"));
}

}  // namespace keyrotor::aws
