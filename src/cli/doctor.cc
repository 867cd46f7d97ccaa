// keyrotor doctor: can the admin identity do what rotation needs? Resolves
// the credentials, asks IAM's policy simulator about every action, and names
// each missing permission; says plainly what it could not check.
#include <fmt/core.h>

#include "cli/common.h"

namespace keyrotor::cli {
namespace {

struct DoctorFlags {
  GlobalFlags global;
  std::string principal;  // check this IAM user/role instead of the caller
  std::vector<std::string> features = {"iam"};
};

std::vector<std::string> ActionsFor(const std::string& feature) {
  if (feature == "iam") {
    return {"iam:GetUser",         "iam:ListUsers",     "iam:ListAccessKeys",       "iam:CreateAccessKey",
            "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListUserTags",
            "iam:ListGroupsForUser", "iam:GetGroup",
            // A fleet pass's bulk reads (docs/fleet.md): without them it falls back to per-user calls.
            "iam:GetAccountAuthorizationDetails", "iam:GenerateCredentialReport", "iam:GetCredentialReport"};
  }
  if (feature == "respond") {
    // keyrotor respond (docs/leak-response.md): the owner of a key, AWS's quarantine, CloudTrail's record.
    return {"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey",
            "iam:DeleteAccessKey", "iam:ListAttachedUserPolicies", "cloudtrail:LookupEvents"};
  }
  if (feature == "organizations") {
    return {"organizations:DescribeOrganization", "organizations:ListRoots",
            "organizations:ListOrganizationalUnitsForParent", "organizations:ListAccountsForParent"};
  }
  if (feature == "secretsmanager") {
    return {"secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"};
  }
  if (feature == "ssm") return {"ssm:PutParameter", "ssm:GetParameter"};
  if (feature == "sns") return {"sns:Publish"};
  return {};
}

int RunDoctor(const DoctorFlags& flags) {
  EnvMap env = ProcessEnvironment();
  std::string source;
  credentials::Settings settings;
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, true, &settings, &source);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  fmt::print("credentials: {}\n", source);
  // TLS: the certificates every https call verifies against (aws/ca_bundle.h).
  Result<aws::CaCertificates> ca = aws::FindCaCertificates(settings.ca_bundle, env);
  if (ca.ok()) {
    fmt::print("ok       CA certificates: {} ({})\n", ca->file.empty() ? ca->dir : ca->file, ca->source);
  } else {
    fmt::print("FAILED   {}\n", ca.status().message());
  }
  auto sts = factory->Sts();
  auto who = sts.ok() ? sts->GetCallerIdentity() : Result<aws::CallerIdentity>(sts.status());
  if (!who.ok()) {
    fmt::print("FAILED   the credentials do not work: {}\n", who.status().ToString());
    return kExitPartialFailure;
  }
  fmt::print("ok       credentials work: {}\n", who->arn);
  std::vector<std::string> actions;
  for (const auto& feature : flags.features) {
    auto more = ActionsFor(feature);
    actions.insert(actions.end(), more.begin(), more.end());
  }
  std::string policy_source = flags.principal.empty() ? aws::PolicySourceArn(who->arn) : flags.principal;
  auto iam = factory->Iam();
  Result<std::vector<aws::SimulatedDecision>> decisions =
      policy_source.empty() ? Result<std::vector<aws::SimulatedDecision>>(
                                  Status::FailedPrecondition("no IAM policy source for " + who->arn))
      : iam.ok()            ? iam->SimulatePrincipalPolicy(policy_source, actions)
                            : Result<std::vector<aws::SimulatedDecision>>(iam.status());
  if (!decisions.ok()) {
    fmt::print("UNCHECKED could not simulate the policies of {}: {}\n", policy_source.empty() ? who->arn : policy_source,
               decisions.status().ToString());
    fmt::print("          keyrotor needs: ");
    for (size_t i = 0; i < actions.size(); ++i) fmt::print("{}{}", i ? ", " : "", actions[i]);
    fmt::print("\n");
    return kExitPartialFailure;
  }
  int missing = 0;
  for (const auto& d : *decisions) {
    if (d.allowed()) {
      fmt::print("ok       {}\n", d.action);
    } else {
      ++missing;
      fmt::print("MISSING  {} ({})\n", d.action, d.decision);
    }
  }
  fmt::print("{} of {} permissions missing\n", missing, decisions->size());
  return missing ? kExitPartialFailure : kExitOk;
}

}  // namespace

void RegisterDoctorCommand(CLI::App& app) {
  auto flags = std::make_shared<DoctorFlags>();
  auto* cmd = app.add_subcommand("doctor",
                                 "Check that the admin credentials work and may perform every action rotation needs "
                                 "(IAM policy simulator), naming each missing permission");
  AddGlobalFlags(*cmd, flags->global);
  cmd->add_option("--principal", flags->principal,
                  "Check this IAM user or role ARN (e.g. the one a scheduled run will use) instead of the caller");
  cmd->add_option("--check", flags->features,
                  "Features to check: iam, secretsmanager, ssm, sns, organizations, respond (repeatable)")
      ->check(CLI::IsMember({"iam", "secretsmanager", "ssm", "sns", "organizations", "respond"}))
      ->capture_default_str();
  cmd->callback([flags] { throw CLI::RuntimeError(RunDoctor(*flags)); });
}

}  // namespace keyrotor::cli
