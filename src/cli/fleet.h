// What the fleet commands (plan, run, daemon, lambda's scheduled runs, report
// and policy with --config) share: loading keyrotor.toml with its admin
// clients and journal, and printing a run as it goes.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "engine/journal.h"
#include "fleet/config.h"
#include "fleet/daemon.h"
#include "fleet/respond.h"
#include "fleet/runner.h"

namespace keyrotor::cli {

struct FleetFlags {
  GlobalFlags global;
  std::string config;
  int concurrency = 0;                // 0: the config's
  std::vector<std::string> accounts;  // --account: only these
  std::vector<std::string> users;     // --user: only these
  bool json = false;
};

// --config (required), --concurrency, --account, --user, --json and the global flags.
void AddFleetFlags(CLI::App& app, FleetFlags& flags);

using Fleet = fleet::LoadedFleet;

// Reads and checks the config (every problem at once, as `config check`),
// resolves the admin credentials and opens the config's journal. Nothing is
// printed; a config problem is InvalidArgument with one problem per line.
Result<Fleet> LoadFleet(const GlobalFlags& global, const std::string& config_path, const EnvMap& env,
                        bool open_journal = true);

// Prints a LoadFleet failure: each config problem on its own line, then a count.
void PrintFleetError(const Status& status, const std::string& config_path);

// Checks --concurrency, --account and --user against the config.
Status CheckRunFilters(const FleetFlags& flags, const fleet::FleetConfig& config);

// Shows a run: on a terminal (and without --json) a progress bar with the
// failures above it and a summary table; otherwise one JSON line per user
// and a final {"summary": ...} line. `verbose` (plan) prints every user.
class RunPrinter {
 public:
  RunPrinter(bool json, bool verbose);
  ~RunPrinter();
  void OnTotal(size_t total);
  void OnResult(const fleet::UserResult& result);
  void Finish(const fleet::RunSummary& summary);

 private:
  void DrawBar(bool force);
  bool json_;
  bool verbose_;
  bool tty_;
  size_t total_ = 0;
  size_t done_ = 0;
  size_t failed_ = 0;
  TimePoint started_;
  TimePoint last_draw_{};
};

// The JSON lines every fleet command prints (run --json, daemon, lambda):
// one per user (the engine's outcome, its account_name and selection), and
// {"summary": ...} at the end. A user's line is printed and flushed at once.
void PrintUserResultLine(const fleet::UserResult& result);

// Responses to exposed keys (keyrotor respond, the Lambda's AWS Health
// events): each key's result, or why its account could not be worked in.
struct ResponseBatch {
  std::vector<fleet::ResponseResult> results;
  std::vector<Status> errors;
  bool failed = false;  // an error, a failed or locked user, or a notification owed
};
ResponseBatch RespondToKeys(fleet::Responder& responder, const std::vector<std::string>& keys,
                            const std::string& account, const engine::ExposureRequest& base);
std::string SummaryLine(const fleet::RunSummary& summary);

// The exit status of a run: 0 ok, 1 a user or an account failed, or a
// notification is owed (RunSummary::ok()).
int RunExitStatus(const fleet::RunSummary& summary);

}  // namespace keyrotor::cli
