#include "sandbox/seed.h"

namespace keyrotor::sandbox {

Result<OrganizationLayout> SeedOrganization(Sandbox& sandbox, int member_accounts) {
  OrganizationLayout out;
  sandbox.CreateOrganization();
  out.root = sandbox.OrganizationRootId();
  KR_ASSIGN_OR_RETURN(out.workloads_ou, sandbox.CreateOrganizationalUnit(out.root, "Workloads"));
  KR_ASSIGN_OR_RETURN(out.prod_ou, sandbox.CreateOrganizationalUnit(out.workloads_ou, "Prod"));
  KR_ASSIGN_OR_RETURN(out.dev_ou, sandbox.CreateOrganizationalUnit(out.workloads_ou, "Dev"));
  KR_ASSIGN_OR_RETURN(out.sandbox_ou, sandbox.CreateOrganizationalUnit(out.root, "Sandbox"));
  const std::string parents[] = {out.prod_ou, out.dev_ou, out.sandbox_ou};
  const char* kinds[] = {"prod", "dev", "sandbox"};
  for (int i = 0; i < member_accounts; ++i) {
    std::string name = std::string(kinds[i % 3]) + "-" + std::to_string(i + 1);
    KR_ASSIGN_OR_RETURN(std::string id, sandbox.CreateMemberAccount(name, parents[i % 3]));
    out.members.push_back(std::move(id));
  }
  return out;
}

}  // namespace keyrotor::sandbox
