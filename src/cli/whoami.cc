// keyrotor whoami: which credentials keyrotor would use, and where it would
// send each call. Never prints a secret.
#include <fmt/core.h>

#include "cli/common.h"

namespace keyrotor::cli {
namespace {

int RunWhoami(const GlobalFlags& flags) {
  EnvMap env = ProcessEnvironment();
  credentials::Settings settings;
  std::string source;
  Result<aws::ClientFactory> factory = BuildClientFactory(flags, env, /*with_credentials=*/true, &settings, &source);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  fmt::print("credentials: {}\n", source);
  auto sts = factory->Sts();
  Result<aws::CallerIdentity> who = sts.ok() ? sts->GetCallerIdentity() : Result<aws::CallerIdentity>(sts.status());
  if (who.ok()) {
    fmt::print("account:     {}\narn:         {}\n", who->account, who->arn);
  } else {
    fmt::print("account:     ? ({})\n", who.status().ToString());
  }
  fmt::print("profile:     {}{}\n", settings.profile, settings.profile_explicit ? " (--profile)" : "");
  fmt::print("region:      {}{}\n", settings.region.empty() ? "(none)" : settings.region,
             settings.region_source.empty() ? "" : " (" + settings.region_source + ")");
  fmt::print("endpoints:\n");
  for (aws::Service service : {aws::Service::kIam, aws::Service::kSts, aws::Service::kSecretsManager,
                               aws::Service::kSsm, aws::Service::kSns}) {
    auto e = factory->Endpoint(service);
    const char* name = aws::InfoFor(service).signing_name;
    if (e.ok()) {
      fmt::print("  {:<15} {} (signing {}/{}; {})\n", name, e->url, e->scope.region, e->scope.service, e->source);
    } else {
      fmt::print("  {:<15} - ({})\n", name, e.status().ToString());
    }
  }
  return who.ok() ? kExitOk : kExitPartialFailure;
}

}  // namespace

void RegisterWhoamiCommand(CLI::App& app) {
  auto flags = std::make_shared<GlobalFlags>();
  auto* cmd = app.add_subcommand(
      "whoami", "Show which provider supplies keyrotor's credentials, the account and ARN, the region, and each "
                "service's endpoint");
  AddGlobalFlags(*cmd, *flags);
  cmd->callback([flags] { throw CLI::RuntimeError(RunWhoami(*flags)); });
}

}  // namespace keyrotor::cli
