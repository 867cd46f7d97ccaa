// The accounts a fleet pass works in: the config's [[accounts]] and, with
// [organization], every account discovery finds and the rules let in
// (docs/fleet.md, "Organizations").
//
// Discovery walks the organization from its root: ListRoots, then per parent
// ListOrganizationalUnitsForParent and ListAccountsForParent (each
// paginated), which gives every account its OU path for include_ous and
// exclude_ous; DescribeOrganization names the management account. It runs
// from the management account or a delegated administrator.
#pragma once

#include <string>
#include <vector>

#include "aws/clients.h"
#include "base/status.h"
#include "fleet/config.h"

namespace keyrotor::fleet {

struct DiscoveredAccount {
  std::string id;
  std::string name;   // the organization's name for it
  std::string state;  // ACTIVE, SUSPENDED, ...
  std::vector<std::string> path_ids;    // root first, then each OU down to its parent
  std::vector<std::string> path_names;  // "Root", then the OU names
  bool management = false;
  bool included = false;
  std::string reason;  // why it is in or out, for people
  std::string path() const;  // "Root/Prod/Payments"
};

// Lists the organization's accounts and decides each one (no role is assumed).
Result<std::vector<DiscoveredAccount>> DiscoverOrganization(aws::OrganizationsClient& organizations,
                                                            const OrganizationSettings& settings);

struct AccountPlan {
  std::vector<Account> accounts;              // to work in: configured, then discovered
  std::vector<DiscoveredAccount> discovered;  // every account discovery saw (empty without [organization])
  Status discovery;                           // why discovery failed; the configured accounts still run
};

// The accounts of one pass. `caller_account` is the admin credentials' own
// account: the management account, when included and the caller's own, is
// worked in without a role. A discovered account with an [[accounts]] entry of
// the same id takes that entry's settings and name.
AccountPlan PlanAccounts(const FleetConfig& config, const aws::ClientFactory& admin, const std::string& caller_account);

// PlanAccounts for the admin credentials themselves: with [organization],
// STS names their account first (an error when they do not work).
Result<AccountPlan> PlanAccountsForAdmin(const FleetConfig& config, const aws::ClientFactory& admin);

// The Account to work in for a discovered one: the role from [organization]
// (or none for the caller's own account), its region and rate limit.
Account AccountForDiscovered(const OrganizationSettings& settings, const DiscoveredAccount& discovered,
                             const std::string& caller_account);

}  // namespace keyrotor::fleet
