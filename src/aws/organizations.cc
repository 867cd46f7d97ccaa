#include "aws/organizations.h"

namespace keyrotor::aws {
namespace {

std::string StringMember(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<OrgAccountInfo> ParseAccount(const nlohmann::json& j) {
  OrgAccountInfo a;
  a.id = StringMember(j, "Id");
  a.arn = StringMember(j, "Arn");
  a.name = StringMember(j, "Name");
  a.email = StringMember(j, "Email");
  a.state = StringMember(j, "State");
  if (a.state.empty()) a.state = StringMember(j, "Status");
  if (a.id.empty()) return Status::ParseError("Organizations: an account without Id");
  return a;
}

}  // namespace

OrganizationsClient::OrganizationsClient(ClientContext context, ServiceEndpoint endpoint)
    : JsonClient(std::move(context), std::move(endpoint), "AWSOrganizationsV20161128") {}

Status OrganizationsClient::Paginate(const std::string& operation, nlohmann::json body, const char* member,
                                     const std::function<Status(const nlohmann::json&)>& on_item) {
  // A service that kept answering with a token would loop forever; no organization has this many pages.
  for (int page = 0; page < 100000; ++page) {
    KR_ASSIGN_OR_RETURN(nlohmann::json reply, Call(operation, body));
    auto items = reply.find(member);
    if (items != reply.end() && !items->is_array()) {
      return Status::ParseError(operation + ": " + member + " is not a list");
    }
    if (items != reply.end()) {
      for (const nlohmann::json& item : *items) KR_RETURN_IF_ERROR(on_item(item));
    }
    std::string next = StringMember(reply, "NextToken");
    if (next.empty()) return Status::Ok();
    body["NextToken"] = next;
  }
  return Status::ParseError(operation + ": the service never stopped paginating");
}

Result<OrganizationInfo> OrganizationsClient::DescribeOrganization() {
  KR_ASSIGN_OR_RETURN(nlohmann::json reply, Call("DescribeOrganization", nlohmann::json::object()));
  auto org = reply.find("Organization");
  if (org == reply.end() || !org->is_object()) return Status::ParseError("DescribeOrganization: no Organization");
  OrganizationInfo out;
  out.id = StringMember(*org, "Id");
  out.management_account_id = StringMember(*org, "MasterAccountId");
  return out;
}

Result<std::vector<std::string>> OrganizationsClient::ListRoots() {
  std::vector<std::string> out;
  KR_RETURN_IF_ERROR(Paginate("ListRoots", nlohmann::json::object(), "Roots", [&](const nlohmann::json& j) {
    std::string id = StringMember(j, "Id");
    if (id.empty()) return Status::ParseError("ListRoots: a root without Id");
    out.push_back(std::move(id));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<OrgAccountInfo>> OrganizationsClient::ListAccounts() {
  std::vector<OrgAccountInfo> out;
  KR_RETURN_IF_ERROR(Paginate("ListAccounts", nlohmann::json::object(), "Accounts", [&](const nlohmann::json& j) {
    KR_ASSIGN_OR_RETURN(OrgAccountInfo a, ParseAccount(j));
    out.push_back(std::move(a));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<OrgAccountInfo>> OrganizationsClient::ListAccountsForParent(const std::string& parent_id) {
  std::vector<OrgAccountInfo> out;
  KR_RETURN_IF_ERROR(
      Paginate("ListAccountsForParent", {{"ParentId", parent_id}}, "Accounts", [&](const nlohmann::json& j) {
        KR_ASSIGN_OR_RETURN(OrgAccountInfo a, ParseAccount(j));
        out.push_back(std::move(a));
        return Status::Ok();
      }));
  return out;
}

Result<std::vector<OrgUnitInfo>> OrganizationsClient::ListOrganizationalUnitsForParent(const std::string& parent_id) {
  std::vector<OrgUnitInfo> out;
  KR_RETURN_IF_ERROR(Paginate("ListOrganizationalUnitsForParent", {{"ParentId", parent_id}}, "OrganizationalUnits",
                              [&](const nlohmann::json& j) {
                                OrgUnitInfo u{StringMember(j, "Id"), StringMember(j, "Arn"), StringMember(j, "Name")};
                                if (u.id.empty()) return Status::ParseError("an organizational unit without Id");
                                out.push_back(std::move(u));
                                return Status::Ok();
                              }));
  return out;
}

}  // namespace keyrotor::aws
