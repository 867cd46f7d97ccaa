#include "fleet/discovery.h"

#include <algorithm>
#include <functional>

#include "base/strings.h"
#include "fleet/runner.h"

namespace keyrotor::fleet {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The first id of `path` (root and OUs, then the account itself) named in `list`.
std::string FirstIn(const std::vector<std::string>& list, const DiscoveredAccount& a) {
  for (const std::string& id : a.path_ids) {
    if (Contains(list, id)) return id;
  }
  return "";
}

void Decide(const OrganizationSettings& s, DiscoveredAccount& a) {
  a.included = false;
  if (a.state != "ACTIVE") {
    a.reason = "skipped: the account is " + a.state;
    return;
  }
  if (Contains(s.exclude_accounts, a.id)) {
    a.reason = "excluded: exclude_accounts names it";
    return;
  }
  if (std::string ou = FirstIn(s.exclude_ous, a); !ou.empty()) {
    a.reason = "excluded: under " + ou + " (exclude_ous)";
    return;
  }
  if (a.management && !s.include_management_account) {
    a.reason = "excluded: the management account (include_management_account = false)";
    return;
  }
  if (s.include_ous.empty() && s.include_accounts.empty()) {
    a.included = true;
    a.reason = "included: every account";
    return;
  }
  if (Contains(s.include_accounts, a.id)) {
    a.included = true;
    a.reason = "included: include_accounts names it";
    return;
  }
  if (std::string ou = FirstIn(s.include_ous, a); !ou.empty()) {
    a.included = true;
    a.reason = "included: under " + ou + " (include_ous)";
    return;
  }
  a.reason = "excluded: in no include_ous subtree and not in include_accounts";
}

}  // namespace

std::string DiscoveredAccount::path() const { return Join(path_names, "/"); }

Result<std::vector<DiscoveredAccount>> DiscoverOrganization(aws::OrganizationsClient& organizations,
                                                            const OrganizationSettings& settings) {
  KR_ASSIGN_OR_RETURN(aws::OrganizationInfo org, organizations.DescribeOrganization());
  KR_ASSIGN_OR_RETURN(std::vector<std::string> roots, organizations.ListRoots());
  std::vector<DiscoveredAccount> out;
  std::function<Status(const std::string&, std::vector<std::string>, std::vector<std::string>)> walk =
      [&](const std::string& parent, std::vector<std::string> ids, std::vector<std::string> names) -> Status {
    if (ids.size() > 6) return Status::ParseError("Organizations: OUs nest deeper than AWS allows");  // root + 5 levels
    KR_ASSIGN_OR_RETURN(std::vector<aws::OrgAccountInfo> accounts, organizations.ListAccountsForParent(parent));
    for (const aws::OrgAccountInfo& info : accounts) {
      DiscoveredAccount a;
      a.id = info.id;
      a.name = info.name;
      a.state = info.state;
      a.path_ids = ids;
      a.path_ids.push_back(info.id);  // so include/exclude lists may name the account's own id too
      a.path_names = names;
      a.management = info.id == org.management_account_id;
      Decide(settings, a);
      a.path_ids.pop_back();
      out.push_back(std::move(a));
    }
    KR_ASSIGN_OR_RETURN(std::vector<aws::OrgUnitInfo> units, organizations.ListOrganizationalUnitsForParent(parent));
    for (const aws::OrgUnitInfo& unit : units) {
      std::vector<std::string> child_ids = ids, child_names = names;
      child_ids.push_back(unit.id);
      child_names.push_back(unit.name);
      KR_RETURN_IF_ERROR(walk(unit.id, std::move(child_ids), std::move(child_names)));
    }
    return Status::Ok();
  };
  for (const std::string& root : roots) KR_RETURN_IF_ERROR(walk(root, {root}, {"Root"}));
  std::sort(out.begin(), out.end(), [](const DiscoveredAccount& a, const DiscoveredAccount& b) { return a.id < b.id; });
  return out;
}

Account AccountForDiscovered(const OrganizationSettings& settings, const DiscoveredAccount& discovered,
                             const std::string& caller_account) {
  Account a;
  a.name = discovered.id;
  a.id = discovered.id;
  if (discovered.id != caller_account) {
    a.role_arn = "arn:aws:iam::" + discovered.id + ":role/" + settings.role_name;
    a.external_id = settings.external_id;
    a.session_name = settings.session_name;
  }
  a.region = settings.region;
  a.rate_limit = settings.rate_limit;
  return a;
}

AccountPlan PlanAccounts(const FleetConfig& config, const aws::ClientFactory& admin, const std::string& caller_account) {
  AccountPlan plan;
  plan.accounts = config.accounts;
  if (!config.organization.enabled) return plan;
  Result<aws::OrganizationsClient> client = admin.Organizations();
  Result<std::vector<DiscoveredAccount>> found =
      client.ok() ? DiscoverOrganization(*client, config.organization)
                  : Result<std::vector<DiscoveredAccount>>(client.status());
  if (!found.ok()) {
    plan.discovery = found.status().WithContext("discovering the organization's accounts");
    return plan;
  }
  plan.discovered = std::move(found).value();
  for (DiscoveredAccount& d : plan.discovered) {
    bool configured = std::any_of(config.accounts.begin(), config.accounts.end(),
                                  [&](const Account& a) { return a.id == d.id; });
    if (configured) {
      d.reason += d.included ? " (settings from [[accounts]])" : "; worked on all the same: [[accounts]] names it";
      d.included = true;
      continue;
    }
    if (d.included) plan.accounts.push_back(AccountForDiscovered(config.organization, d, caller_account));
  }
  return plan;
}

Result<AccountPlan> PlanAccountsForAdmin(const FleetConfig& config, const aws::ClientFactory& admin) {
  std::string caller;
  if (config.organization.enabled) {
    KR_ASSIGN_OR_RETURN(caller, IdentifyAccount(admin, Account{}));
  }
  return PlanAccounts(config, admin, caller);
}

}  // namespace keyrotor::fleet
