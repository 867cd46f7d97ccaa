// Ready-made worlds for `keyrotor sandbox --accounts N`, the demo and the
// benchmarks: an Organization with OUs and member accounts.
#pragma once

#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace keyrotor::sandbox {

struct OrganizationLayout {
  std::string root;
  std::string workloads_ou, prod_ou, dev_ou, sandbox_ou;  // Root/Workloads/{Prod,Dev}, Root/Sandbox
  std::vector<std::string> members;                       // account ids, creation order
};

// Makes the home account an Organization's management account with
// `member_accounts` ACTIVE members, each with OrganizationAccountAccessRole
// (trusting the management account), placed in turn in Prod, Dev and
// Sandbox.
Result<OrganizationLayout> SeedOrganization(Sandbox& sandbox, int member_accounts);

}  // namespace keyrotor::sandbox
