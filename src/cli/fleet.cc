#include "cli/fleet.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "cli/engine_flags.h"

namespace keyrotor::cli {

void AddFleetFlags(CLI::App& app, FleetFlags& flags) {
  app.add_option("--config", flags.config, "The fleet config file, e.g. /etc/keyrotor/keyrotor.toml")->required();
  app.add_option("--concurrency", flags.concurrency, "Users processed at once (default: the config's concurrency)");
  app.add_option("--account", flags.accounts, "Only this account: its config name, or with [organization] its id (repeatable)");
  app.add_option("--user", flags.users, "Only this IAM user, if the config selects it (repeatable)");
  app.add_flag("--json", flags.json, "JSON lines even on a terminal");
  AddGlobalFlags(app, flags.global);
}

Result<Fleet> LoadFleet(const GlobalFlags& global, const std::string& config_path, const EnvMap& env,
                        bool open_journal) {
  Fleet fleet;
  KR_ASSIGN_OR_RETURN(aws::ClientFactory admin, BuildClientFactory(global, env, /*with_credentials=*/true));
  KR_ASSIGN_OR_RETURN(fleet.config, fleet::CheckFleetConfig(config_path, env, admin));
  fleet.admin = std::make_unique<aws::ClientFactory>(std::move(admin));
  if (open_journal) {
    KR_ASSIGN_OR_RETURN(fleet.journal, OpenJournal(fleet.config.state, env));
  }
  return fleet;
}

void PrintFleetError(const Status& status, const std::string& config_path) {
  if (status.code() != StatusCode::kInvalidArgument) {
    PrintError(status);
    return;
  }
  std::vector<std::string> problems = Split(status.message(), '\n');
  for (const std::string& p : problems) fmt::print(stderr, "{}\n", p);
  fmt::print(stderr, "keyrotor: error: {} problem{} in {}\n", problems.size(), problems.size() == 1 ? "" : "s",
             config_path);
}

Status CheckRunFilters(const FleetFlags& flags, const fleet::FleetConfig& config) {
  if (flags.concurrency < 0 || flags.concurrency > 256) {
    return Status::InvalidArgument("--concurrency must be between 1 and 256");
  }
  for (const std::string& name : flags.accounts) {
    bool id = name.size() == 12 && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!config.FindAccount(name) && !(config.organization.enabled && id)) {
      return Status::InvalidArgument("--account " + name + ": no such account in " + config.path +
                                     (config.organization.enabled ? " (or give a discovered account's id)" : ""));
    }
  }
  for (const std::string& user : flags.users) {
    if (!aws::IsValidUserName(user)) {
      return Status::InvalidArgument("--user: '" + user + "' is not a valid IAM user name");
    }
  }
  return Status::Ok();
}

RunPrinter::RunPrinter(bool json, bool verbose)
    : json_(json || !::isatty(STDOUT_FILENO)), verbose_(verbose), tty_(::isatty(STDOUT_FILENO) != 0),
      started_(Clock::Real()->Now()) {}

RunPrinter::~RunPrinter() = default;

void RunPrinter::OnTotal(size_t total) {
  total_ = total;
  DrawBar(false);
}

void RunPrinter::DrawBar(bool force) {
  if (json_ || !tty_) return;
  TimePoint now = Clock::Real()->Now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr size_t kWidth = 30;
  size_t filled = total_ ? std::min(kWidth, done_ * kWidth / total_) : 0;
  double seconds = std::chrono::duration<double>(now - started_).count();
  double rate = seconds > 0 ? done_ / seconds : 0;
  std::string eta = rate > 0 && total_ > done_ ? fmt::format("  eta {:.0f}s", (total_ - done_) / rate) : "";
  fmt::print("\r\033[K[{}{}] {}/{} users  {} failed  {:.1f}/s{}", std::string(filled, '#'),
             std::string(kWidth - filled, '.'), done_, total_, failed_, rate, eta);
  std::fflush(stdout);
}

void RunPrinter::OnResult(const fleet::UserResult& r) {
  ++done_;
  if (r.outcome.failed()) ++failed_;
  if (json_) {
    PrintUserResultLine(r);
    return;
  }
  if (verbose_ || r.outcome.failed() || r.outcome.result == engine::UserOutcome::Result::kLocked ||
      !r.outcome.notifications_owed.empty()) {
    if (tty_) fmt::print("\r\033[K");
    fmt::print("{}/", r.account_name);
    PrintOutcome(r.outcome, false);
  }
  DrawBar(false);
}

void RunPrinter::Finish(const fleet::RunSummary& s) {
  if (json_) {
    fmt::print("{}\n", SummaryLine(s));
    std::fflush(stdout);
    return;
  }
  DrawBar(true);
  if (tty_) fmt::print("\n");
  double seconds = std::chrono::duration<double>(s.finished - s.started).count();
  fmt::print("{} {} users in {:.1f} s{}\n", s.plan ? "planned" : "processed", s.users, seconds,
             s.interrupted ? fmt::format(" (stopped: {} users left for the next run)", s.not_started) : "");
  for (const auto& [result, count] : s.results) fmt::print("  {:<12} {}\n", result, count);
  if (s.notifications_owed > 0 || s.notification_failures > 0) {
    fmt::print("notifications owed: {} ({} failed deliveries in this run); the next run retries them\n",
               s.notifications_owed, s.notification_failures);
  }
  for (const fleet::AccountResult& a : s.accounts) {
    if (!a.skipped.empty()) {
      fmt::print("account {}: {}\n", a.name, a.skipped);
      continue;
    }
    fmt::print("account {} ({}): {} users selected{}\n", a.name, a.id.empty() ? "id unknown" : a.id, a.selected,
               a.status.ok() ? "" : "; error: " + a.status.ToString());
    for (const std::string& w : a.warnings) fmt::print("  warning: {}\n", w);
  }
  std::fflush(stdout);
}

void PrintUserResultLine(const fleet::UserResult& r) {
  nlohmann::json j = engine::OutcomeToJson(r.outcome);
  j["account_name"] = r.account_name;
  j["selection"] = r.selection;
  fmt::print("{}\n", j.dump());
  std::fflush(stdout);
}

std::string SummaryLine(const fleet::RunSummary& summary) {
  return nlohmann::json{{"summary", summary.ToJson()}}.dump();
}

int RunExitStatus(const fleet::RunSummary& summary) { return summary.ok() ? kExitOk : kExitPartialFailure; }

}  // namespace keyrotor::cli
