// keyrotor history: the audit trail, one JSON line per action.
#include <fmt/core.h>

#include "cli/common.h"
#include "cli/engine_flags.h"

namespace keyrotor::cli {
namespace {

struct HistoryFlags {
  std::string state;
  std::string user;
  std::string since;
  size_t limit = 0;
};

int RunHistory(const HistoryFlags& flags) {
  EnvMap env = ProcessEnvironment();
  engine::AuditFilter filter;
  filter.user = flags.user;
  filter.limit = flags.limit;
  if (!flags.since.empty()) {
    Result<Duration> ago = engine::ParseDuration(flags.since);
    if (!ago.ok()) {
      PrintError(Status::InvalidArgument("--since: " + ago.status().message()));
      return kExitUsage;
    }
    filter.since = Clock::Real()->Now() - *ago;
  }
  std::string state = flags.state.empty() ? DefaultStatePath(env) : flags.state;
  Result<std::unique_ptr<engine::Journal>> journal = OpenJournal(state, env);
  if (!journal.ok()) {
    PrintError(journal.status());
    return kExitUsage;
  }
  Result<std::vector<engine::AuditRecord>> records = (*journal)->ReadAudit(filter);
  if (!records.ok()) {
    PrintError(records.status());
    return kExitPartialFailure;
  }
  for (const engine::AuditRecord& r : *records) fmt::print("{}\n", engine::AuditToJson(r).dump());
  return kExitOk;
}

}  // namespace

void RegisterHistoryCommand(CLI::App& app) {
  auto flags = std::make_shared<HistoryFlags>();
  auto* cmd = app.add_subcommand("history", "Show the audit trail: one JSON line per action, oldest first");
  cmd->add_option(
      "--state", flags->state,
      "Journal: SQLite file or postgresql:// URL (default: KEYROTOR_STATE or ~/.local/state/keyrotor/journal.db)");
  cmd->add_option("--user", flags->user, "Only this IAM user");
  cmd->add_option("--since", flags->since, "Only actions this recent (e.g. 7d, 36h)");
  cmd->add_option("--limit", flags->limit, "Only the most recent N actions");
  cmd->callback([flags] { throw CLI::RuntimeError(RunHistory(*flags)); });
}

}  // namespace keyrotor::cli
