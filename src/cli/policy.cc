// keyrotor policy: prints the least-privilege IAM policy for the admin
// identity, given the destinations, notifiers, roles and KMS keys a rotation
// is configured with, by flags or by a fleet config (every selection's
// destinations and notifiers, every account's role). Offline: it calls no
// AWS API.
#include <fmt/core.h>

#include "cli/common.h"
#include "cli/fleet.h"
#include "destinations/destination.h"
#include "report/iam_policy.h"

namespace keyrotor::cli {
namespace {

struct PolicyFlags {
  report::PolicyFeatures features;
  std::string config;
  bool member_role = false;
};

int RunPolicy(const PolicyFlags& flags) {
  report::PolicyFeatures features = flags.features;
  if (!flags.config.empty()) {
    EnvMap env = ProcessEnvironment();
    // Clients only to check the specs: nothing is sent, no credentials needed.
    Result<aws::ClientFactory> clients = BuildClientFactory(GlobalFlags{}, env, /*with_credentials=*/false);
    if (!clients.ok()) {
      PrintError(clients.status());
      return kExitUsage;
    }
    Result<fleet::FleetConfig> config = fleet::CheckFleetConfig(flags.config, env, *clients);
    if (!config.ok()) {
      PrintFleetError(config.status(), flags.config);
      return kExitUsage;
    }
    for (const fleet::Selection& selection : config->selections) {
      report::MergeFeatures(features, report::FeaturesFromEngineOptions(selection.options));
    }
    report::PolicyFeatures roles;
    for (const fleet::Account& account : config->accounts) {
      if (!account.role_arn.empty()) roles.assume_roles.push_back(account.role_arn);
    }
    if (config->organization.enabled && !flags.member_role) {
      // The caller lists the organization and assumes the role in every member account.
      roles.organization_discovery = true;
      roles.assume_roles.push_back("arn:aws:iam::*:role/" + config->organization.role_name);
    }
    if (flags.member_role) roles.assume_roles.clear();
    report::MergeFeatures(features, roles);
  }
  Status valid = report::ValidatePolicyFeatures(features);
  if (!valid.ok()) {
    PrintError(valid);
    return kExitUsage;
  }
  fmt::print("{}", report::BuildPolicyJson(features));
  // What no IAM policy can grant: stdout stays the policy document alone.
  std::string outside;
  for (const std::string& spec : features.destinations) {
    Result<std::vector<std::string>> needs = destinations::TemplateRequirements(spec, {});
    if (!needs.ok() || needs->empty()) continue;
    outside += "  " + spec + "\n";
    for (const std::string& line : *needs) outside += "    " + line + "\n";
  }
  if (!outside.empty()) fmt::print(stderr, "Outside AWS, the destinations need (docs/destinations.md):\n{}", outside);
  return kExitOk;
}

}  // namespace

void RegisterPolicyCommand(CLI::App& app) {
  auto flags = std::make_shared<PolicyFlags>();
  auto* cmd = app.add_subcommand(
      "policy",
      "Print the least-privilege IAM policy keyrotor needs for the given destinations, notifiers, roles and KMS keys, "
      "or for everything a fleet config uses (--config); flags add to the config's. What destinations outside AWS "
      "need (GitHub, GitLab, Kubernetes, Vault permissions) goes to stderr");
  cmd->add_option("--config", flags->config,
                  "a fleet config (keyrotor.toml): every selection's destinations and notifiers, every account's role");
  cmd->add_flag("--member-role", flags->member_role,
               "with --config and [organization]: the policy of the role assumed in each member account (no "
               "Organizations or sts:AssumeRole statements)");
  cmd->add_option("--to", flags->features.destinations, "a destination spec as given to rotate (repeatable)");
  cmd->add_option("--notify", flags->features.notify, "a notifier spec as given to rotate (repeatable)");
  cmd->add_option("--assume-role", flags->features.assume_roles, "a role ARN keyrotor assumes (repeatable)");
  cmd->add_option("--kms-key-id", flags->features.kms_key_ids,
                  "the KMS key Secrets Manager / SSM values are encrypted with (repeatable)");
  cmd->callback([flags] { throw CLI::RuntimeError(RunPolicy(*flags)); });
}

}  // namespace keyrotor::cli
