// keyrotor rotate --user NAME
#include <fmt/core.h>

#include "cli/common.h"
#include "cli/engine_flags.h"

namespace keyrotor::cli {
namespace {

struct RotateFlags {
  GlobalFlags global;
  EngineFlags engine;
  std::vector<std::string> users;
  bool force = false;
  bool dry_run = false;
};

int RunRotate(const RotateFlags& flags) {
  EnvMap env = ProcessEnvironment();
  for (const std::string& user : flags.users) {
    if (!aws::IsValidUserName(user)) {
      PrintError(Status::InvalidArgument("--user: not a valid IAM user name (1-128 of letters, digits and +=,.@_-)"));
      return kExitUsage;
    }
  }
  credentials::Settings settings;
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true, &settings);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  Result<engine::EngineOptions> options = BuildEngineOptions(flags.engine, env, *factory);
  if (!options.ok()) {
    PrintError(options.status());
    return kExitUsage;
  }
  options->dry_run = flags.dry_run;
  std::string state = flags.engine.state.empty() ? DefaultStatePath(env) : flags.engine.state;
  Result<std::unique_ptr<engine::Journal>> journal = OpenJournal(state, env);
  if (!journal.ok()) {
    PrintError(journal.status());
    return kExitUsage;
  }
  engine::Rotator rotator(*factory, journal->get(), *options);
  engine::StepOverrides overrides;
  overrides.force_rotate = flags.force;
  int failed = 0;
  for (const std::string& user : flags.users) {
    engine::UserOutcome outcome = rotator.RotateUser(user, overrides);
    PrintOutcome(outcome, flags.engine.json);
    // An owed notification fails the run too: its owners have not heard of it.
    if (outcome.failed() || outcome.result == engine::UserOutcome::Result::kLocked ||
        !outcome.notifications_owed.empty()) {
      ++failed;
    }
  }
  return failed ? kExitPartialFailure : kExitOk;
}

}  // namespace

void RegisterRotateCommand(CLI::App& app) {
  auto flags = std::make_shared<RotateFlags>();
  auto* cmd = app.add_subcommand(
      "rotate",
      "Rotate IAM users' access keys through the crash-safe engine: the next due step of each user's rotation "
      "(create, verify, hand over, deactivate, delete), resuming whatever an interrupted run left");
  cmd->add_option("--user", flags->users, "IAM user name (repeatable)")->required();
  cmd->add_flag("--force", flags->force, "Start a rotation now even if the key is not due");
  cmd->add_flag("--dry-run", flags->dry_run, "Say what would be done; change nothing");
  AddEngineFlags(*cmd, flags->engine);
  AddGlobalFlags(*cmd, flags->global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunRotate(*flags)); });
}

}  // namespace keyrotor::cli
