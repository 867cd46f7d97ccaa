// keyrotor policy: prints the least-privilege IAM policy for the admin
// identity, given the destinations, notifiers, roles and KMS key a rotation
// is configured with. Offline: it calls no AWS API.
#include <fmt/core.h>

#include "cli/common.h"
#include "report/iam_policy.h"

namespace keyrotor::cli {

void RegisterPolicyCommand(CLI::App& app) {
  auto features = std::make_shared<report::PolicyFeatures>();
  auto* cmd = app.add_subcommand(
      "policy",
      "Print the least-privilege IAM policy keyrotor needs for the given destinations, notifiers, roles and KMS key");
  cmd->add_option("--to", features->destinations, "a destination spec as given to rotate (repeatable)");
  cmd->add_option("--notify", features->notify, "a notifier spec as given to rotate (repeatable)");
  cmd->add_option("--assume-role", features->assume_roles, "a role ARN keyrotor assumes (repeatable)");
  cmd->add_option("--kms-key-id", features->kms_key_id, "the KMS key Secrets Manager / SSM values are encrypted with");
  cmd->callback([features] {
    Status valid = report::ValidatePolicyFeatures(*features);
    if (!valid.ok()) {
      PrintError(valid);
      throw CLI::RuntimeError(kExitUsage);
    }
    fmt::print("{}", report::BuildPolicyJson(*features));
    throw CLI::RuntimeError(kExitOk);
  });
}

}  // namespace keyrotor::cli
