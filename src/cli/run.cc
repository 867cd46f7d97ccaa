// keyrotor plan / keyrotor run: one pass over the fleet keyrotor.toml names.
//
// `run` drives every selected user's rotation one step further, many users
// at once, each account paced by its own rate limiter. SIGINT or SIGTERM
// lets the steps in flight finish and starts no new user (a second SIGINT
// kills at once; the journal makes that safe too). `plan` decides the same
// way and changes nothing.
//
// Exit status: 0 every user fine, 1 a user or an account failed, 2 bad input.
#include <signal.h>

#include <atomic>

#include "cli/fleet.h"

namespace keyrotor::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) {
  g_stop.store(true);
  // The next one is not caught: a person pressing ^C twice means it.
  ::signal(SIGINT, SIG_DFL);
}

int RunFleetOnce(const FleetFlags& flags, bool plan) {
  EnvMap env = ProcessEnvironment();
  Result<Fleet> fleet = LoadFleet(flags.global, flags.config, env);
  if (!fleet.ok()) {
    PrintFleetError(fleet.status(), flags.config);
    return kExitUsage;
  }
  if (Status s = CheckRunFilters(flags, fleet->config); !s.ok()) {
    PrintError(s);
    return kExitUsage;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  fleet::FleetRunner runner(fleet->config, *fleet->admin, fleet->journal.get());
  RunPrinter printer(flags.json, /*verbose=*/plan);
  fleet::RunOptions options;
  options.plan = plan;
  options.concurrency = flags.concurrency;
  options.accounts = flags.accounts;
  options.users = flags.users;
  options.stop = &g_stop;
  options.on_total = [&](size_t total) { printer.OnTotal(total); };
  options.on_result = [&](const fleet::UserResult& r) { printer.OnResult(r); };
  fleet::RunSummary summary = runner.Run(options);
  printer.Finish(summary);
  return RunExitStatus(summary);
}

}  // namespace

void RegisterRunCommands(CLI::App& app) {
  auto plan_flags = std::make_shared<FleetFlags>();
  auto* plan = app.add_subcommand(
      "plan",
      "Say what a run would do to each user the fleet config selects, and why; change nothing. "
      "Exit status: 0 fine, 1 a user or an account would fail, 2 bad input");
  AddFleetFlags(*plan, *plan_flags);
  plan->callback([plan_flags] { throw CLI::RuntimeError(RunFleetOnce(*plan_flags, /*plan=*/true)); });

  auto run_flags = std::make_shared<FleetFlags>();
  auto* run = app.add_subcommand(
      "run",
      "One pass over the fleet config: every selected user's rotation goes one step further, users in parallel, each "
      "account rate-limited. Progress bar on a terminal, JSON lines otherwise. "
      "Exit status: 0 fine, 1 a user or an account failed, 2 bad input");
  AddFleetFlags(*run, *run_flags);
  run->callback([run_flags] { throw CLI::RuntimeError(RunFleetOnce(*run_flags, /*plan=*/false)); });
}

}  // namespace keyrotor::cli
