// keyrotor accounts --config: the accounts a fleet pass would work in, and
// for an [organization], every account discovery finds with why it is in
// or out. Lists only: no role is assumed, no key is touched.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "cli/fleet.h"
#include "fleet/discovery.h"

namespace keyrotor::cli {
namespace {

struct AccountsFlags {
  GlobalFlags global;
  std::string config;
  bool json = false;
};

int RunAccounts(const AccountsFlags& flags) {
  EnvMap env = ProcessEnvironment();
  Result<Fleet> fleet = LoadFleet(flags.global, flags.config, env, /*open_journal=*/false);
  if (!fleet.ok()) {
    PrintFleetError(fleet.status(), flags.config);
    return kExitUsage;
  }
  Result<fleet::AccountPlan> planned = fleet::PlanAccountsForAdmin(fleet->config, *fleet->admin);
  if (!planned.ok()) {
    PrintError(planned.status());
    return kExitPartialFailure;
  }
  const fleet::AccountPlan& plan = *planned;
  if (flags.json) {
    nlohmann::json out = {{"accounts", nlohmann::json::array()}, {"discovered", nlohmann::json::array()}};
    for (const fleet::Account& a : plan.accounts) {
      out["accounts"].push_back({{"name", a.name}, {"id", a.id}, {"role_arn", a.role_arn}, {"region", a.region}});
    }
    for (const fleet::DiscoveredAccount& d : plan.discovered) {
      out["discovered"].push_back({{"id", d.id},
                                   {"name", d.name},
                                   {"state", d.state},
                                   {"path", d.path()},
                                   {"management", d.management},
                                   {"included", d.included},
                                   {"reason", d.reason}});
    }
    if (!plan.discovery.ok()) out["error"] = plan.discovery.ToString();
    fmt::print("{}\n", out.dump(2));
  } else {
    if (!plan.discovered.empty()) {
      fmt::print("{:<14} {:<4} {:<16} {:<30} {}\n", "ACCOUNT", "IN", "STATE", "OU PATH", "NAME / REASON");
      for (const fleet::DiscoveredAccount& d : plan.discovered) {
        fmt::print("{:<14} {:<4} {:<16} {:<30} {}: {}\n", d.id, d.included ? "yes" : "no", d.state, d.path(), d.name,
                   d.reason);
      }
      fmt::print("\n");
    }
    fmt::print("{} account{} to work in:\n", plan.accounts.size(), plan.accounts.size() == 1 ? "" : "s");
    for (const fleet::Account& a : plan.accounts) {
      fmt::print("  {}{}{}\n", a.name, a.id.empty() || a.id == a.name ? "" : " (" + a.id + ")",
                 a.role_arn.empty() ? ": the admin credentials' own account" : ": " + a.role_arn);
    }
  }
  if (!plan.discovery.ok()) {
    PrintError(plan.discovery);
    return kExitPartialFailure;
  }
  return kExitOk;
}

}  // namespace

void RegisterAccountsCommand(CLI::App& app) {
  auto flags = std::make_shared<AccountsFlags>();
  auto* cmd = app.add_subcommand(
      "accounts",
      "List the accounts a fleet config works in: [[accounts]], and with [organization] every account of the "
      "Organization with why it is in or out (lists only: no role is assumed)");
  cmd->add_option("--config", flags->config, "The fleet config file, e.g. /etc/keyrotor/keyrotor.toml")->required();
  cmd->add_flag("--json", flags->json, "JSON instead of a table");
  AddGlobalFlags(*cmd, flags->global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunAccounts(*flags)); });
}

}  // namespace keyrotor::cli
