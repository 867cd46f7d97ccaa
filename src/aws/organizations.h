// AWS Organizations (JSON 1.1, target prefix "AWSOrganizationsV20161128"):
// the read calls that discover an organization's accounts. Shapes from the
// Organizations API Reference (Account, OrganizationalUnit, Root; NextToken
// pagination with at most 20 items a page).
#pragma once

#include <string>
#include <vector>

#include "aws/client.h"

namespace keyrotor::aws {

struct OrgAccountInfo {
  std::string id;
  std::string arn;
  std::string name;
  std::string email;
  // The account's State (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED,
  // PENDING_ACTIVATION), or the deprecated Status when State is absent.
  std::string state;
};

struct OrgUnitInfo {
  std::string id;
  std::string arn;
  std::string name;
};

struct OrganizationInfo {
  std::string id;
  std::string management_account_id;
};

class OrganizationsClient : public JsonClient {
 public:
  OrganizationsClient(ClientContext context, ServiceEndpoint endpoint);

  Result<OrganizationInfo> DescribeOrganization();
  Result<std::vector<std::string>> ListRoots();  // root ids
  Result<std::vector<OrgAccountInfo>> ListAccounts();
  Result<std::vector<OrgAccountInfo>> ListAccountsForParent(const std::string& parent_id);
  Result<std::vector<OrgUnitInfo>> ListOrganizationalUnitsForParent(const std::string& parent_id);

 private:
  // Calls `operation` page by page, handing each page's `member` array over.
  Status Paginate(const std::string& operation, nlohmann::json body, const char* member,
                  const std::function<Status(const nlohmann::json&)>& on_item);
};

}  // namespace keyrotor::aws
