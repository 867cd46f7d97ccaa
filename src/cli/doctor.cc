// keyrotor doctor: can the admin identity do what rotation needs? Resolves
// the credentials, asks IAM's policy simulator about every action, and names
// each missing permission; asks each destination outside AWS (--to) whether
// its credentials may write it; says plainly what it could not check.
#include <fmt/core.h>

#include <algorithm>

#include "cli/common.h"
#include "cli/engine_flags.h"
#include "destinations/destination.h"
#include "destinations/destination_util.h"

namespace keyrotor::cli {
namespace {

struct DoctorFlags {
  GlobalFlags global;
  std::string principal;  // check this IAM user/role instead of the caller
  std::vector<std::string> features = {"iam"};
  std::vector<std::string> to;       // destinations whose access to check
  std::string user;                  // fills {user} in them
  engine::EngineSettings settings;   // the destinations' settings (--github-token-file, ...)
};

// Each --to destination's own access check (Destination::CheckAccess), with
// {user} from --user and {account} from the caller. Returns how many failed.
int CheckDestinations(const DoctorFlags& flags, const EnvMap& env, const aws::ClientFactory& factory,
                      const std::string& account) {
  auto name = [](std::string_view key) {
    std::string flag = "--" + std::string(key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    return flag;
  };
  Result<engine::EngineOptions> options = engine::ResolveEngineSettings(flags.settings, env, name);
  if (!options.ok()) {
    fmt::print("FAILED   destination settings: {}\n", options.status().message());
    return static_cast<int>(flags.to.size());
  }
  int failed = 0;
  for (const std::string& spec : flags.to) {
    if (spec.find("{user}") != std::string::npos && flags.user.empty()) {
      ++failed;
      fmt::print("UNCHECKED {}: it names {{user}}; give --user USER to check one user's\n", spec);
      continue;
    }
    Result<std::string> expanded = destinations::ExpandSpec(spec, flags.user, account.empty() ? "{account}" : account);
    Result<std::unique_ptr<destinations::Destination>> dest =
        expanded.ok() ? destinations::MakeDestination(*expanded, factory, options->destination_options)
                      : Result<std::unique_ptr<destinations::Destination>>(expanded.status());
    Result<std::string> checked = dest.ok() ? (*dest)->CheckAccess() : Result<std::string>(dest.status());
    if (checked.ok()) {
      fmt::print("ok       {}: {}\n", spec, checked->empty() ? "nothing to check without writing" : *checked);
      continue;
    }
    ++failed;
    fmt::print("FAILED   {}: {}\n", spec, checked.status().ToString());
    Result<std::vector<std::string>> needs = destinations::TemplateRequirements(spec, options->destination_options);
    if (needs.ok()) {
      for (const std::string& line : *needs) fmt::print("         needs: {}\n", line);
    }
  }
  return failed;
}

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
    if (!flags.to.empty()) CheckDestinations(flags, env, *factory, "");
    return kExitPartialFailure;
  }
  fmt::print("ok       credentials work: {}\n", who->arn);
  int destinations_failed = flags.to.empty() ? 0 : CheckDestinations(flags, env, *factory, who->account);
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
  if (!flags.to.empty()) fmt::print("{} of {} destinations failed their check\n", destinations_failed, flags.to.size());
  return missing || destinations_failed ? kExitPartialFailure : kExitOk;
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
  cmd->add_option("--to", flags->to,
                  "Also ask this destination (a --to spec of rotate, repeatable) whether its credentials may write "
                  "it, without writing: GitHub, GitLab, Kubernetes and Vault answer that");
  cmd->add_option("--user", flags->user, "The IAM user {user} stands for in --to specs");
  AddDestinationSettingFlags(*cmd, flags->settings);
  cmd->callback([flags] { throw CLI::RuntimeError(RunDoctor(*flags)); });
}

}  // namespace keyrotor::cli
