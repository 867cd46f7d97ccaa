// keyrotor report: every user's access keys, their age and last use, and the
// CIS AWS Foundations checks on them, as text, JSON, CSV or a self-contained
// HTML page. Read-only: it calls List*/Get* only.
//
// Exit status: 0 no findings, 1 findings (so cron or CI can alert on it),
// 2 bad input or the report could not be built (nothing written).
#include "report/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <set>

#include "base/file_util.h"
#include "cli/common.h"
#include "cli/fleet.h"
#include "fleet/discovery.h"
#include "report/render.h"

namespace keyrotor::cli {
namespace {

struct ReportFlags {
  GlobalFlags global;
  std::string format = "text";
  std::string output;  // empty: stdout
  std::vector<std::string> users;
  int concurrency = 8;
  std::string config;                 // a fleet config: report on each of its accounts
  std::vector<std::string> accounts;  // with config: only these account names
};

// One account to report on: its name for output (the account id) and the
// clients signing for it (with --config, the account's assumed role).
struct ReportAccount {
  std::string name;  // empty: asked from STS GetCallerIdentity
  aws::ClientFactory clients;
};

int RunReportForAccounts(const std::vector<ReportAccount>& accounts, const ReportFlags& flags) {
  Result<report::ReportFormat> format = report::ParseReportFormat(flags.format);
  if (!format.ok()) {
    PrintError(format.status());
    return kExitUsage;
  }
  if (flags.concurrency < 1 || flags.concurrency > 64) {
    PrintError(Status::InvalidArgument("--concurrency must be between 1 and 64"));
    return kExitUsage;
  }
  for (const std::string& user : flags.users) {
    if (!aws::IsValidUserName(user)) {
      PrintError(Status::InvalidArgument("'" + user + "' is not a valid IAM user name"));
      return kExitUsage;
    }
  }
  std::vector<report::Report> reports;
  for (const ReportAccount& account : accounts) {
    std::string name = account.name;
    if (name.empty()) {
      auto sts = account.clients.Sts();
      Result<aws::CallerIdentity> who = sts.ok() ? sts->GetCallerIdentity() : Result<aws::CallerIdentity>(sts.status());
      if (!who.ok()) {
        PrintError(who.status().WithContext("asking STS for the account"));
        return kExitUsage;
      }
      name = who->account;
    }
    auto iam = account.clients.Iam();
    if (!iam.ok()) {
      PrintError(iam.status());
      return kExitUsage;
    }
    report::ReportOptions options;
    options.users = flags.users;
    options.concurrency = flags.concurrency;
    options.clients = &account.clients;
    Result<report::Report> r = report::BuildReport(*iam, name, account.clients.context().clock, options);
    if (!r.ok()) {
      PrintError(r.status().WithContext("account " + name));
      return kExitUsage;
    }
    reports.push_back(std::move(r).value());
  }
  std::string out = report::Render(reports, *format);
  if (flags.output.empty() || flags.output == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    // Not secret, but it names every user and key: not world-readable.
    Status written = AtomicWriteFile(flags.output, out, {0640, false});
    if (!written.ok()) {
      PrintError(written);
      return kExitUsage;
    }
    fmt::print(stderr, "keyrotor: report written to {}\n", flags.output);
  }
  size_t findings = 0;
  for (const report::Report& r : reports) findings += r.summary.total_findings();
  return findings ? kExitPartialFailure : kExitOk;
}

// Every account of a fleet config (or the --account ones), each with the
// clients a run would use there: the assumed role, the region, the rate
// limit. Compliance wants every user of an account, so the selections do not
// narrow the report. Two config accounts that are one AWS account (two roles
// into it) are reported once.
int RunFleetReport(const ReportFlags& flags, const EnvMap& env) {
  Result<Fleet> fleet = LoadFleet(flags.global, flags.config, env, /*open_journal=*/false);
  if (!fleet.ok()) {
    PrintFleetError(fleet.status(), flags.config);
    return kExitUsage;
  }
  FleetFlags filters;
  filters.accounts = flags.accounts;
  if (Status s = CheckRunFilters(filters, fleet->config); !s.ok()) {
    PrintError(s);
    return kExitUsage;
  }
  // The accounts a pass would work in: configured, and discovered with [organization].
  Result<fleet::AccountPlan> plan = fleet::PlanAccountsForAdmin(fleet->config, *fleet->admin);
  if (!plan.ok() || !plan->discovery.ok()) {
    PrintError(plan.ok() ? plan->discovery : plan.status());
    return kExitUsage;
  }
  std::deque<fleet::AccountLimiters> limiters;  // the clients keep pointers: stable addresses
  std::vector<ReportAccount> accounts;
  std::set<std::string> ids;
  for (const fleet::Account& account : plan->accounts) {
    auto named = [&](const std::string& n) { return n == account.name || (!account.id.empty() && n == account.id); };
    if (!flags.accounts.empty() && std::none_of(flags.accounts.begin(), flags.accounts.end(), named)) continue;
    limiters.emplace_back(fleet->admin->context().clock, account.rate_limit);
    aws::ClientFactory clients = fleet::AccountClientFactory(*fleet->admin, account, &limiters.back());
    Result<std::string> id = fleet::IdentifyAccount(clients, account);
    if (!id.ok()) {
      PrintError(id.status().WithContext("account " + account.name));
      return kExitUsage;
    }
    if (!ids.insert(*id).second) continue;
    accounts.push_back(ReportAccount{*id, std::move(clients)});
  }
  return RunReportForAccounts(accounts, flags);
}

int RunReport(const ReportFlags& flags) {
  EnvMap env = ProcessEnvironment();
  if (!flags.config.empty()) return RunFleetReport(flags, env);
  if (!flags.accounts.empty()) {
    PrintError(Status::InvalidArgument("--account names an account of a fleet config: give --config too"));
    return kExitUsage;
  }
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  return RunReportForAccounts({ReportAccount{"", std::move(factory).value()}}, flags);
}

}  // namespace

void RegisterReportCommand(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  auto* cmd = app.add_subcommand(
      "report",
      "Report every user's access keys (age, last use) and the CIS AWS Foundations checks 1.12, 1.13 and 1.14. "
      "Exit status: 0 no findings, 1 findings, 2 bad input or the report could not be built");
  AddGlobalFlags(*cmd, flags->global);
  cmd->add_option("--format", flags->format, "text (default), json, csv or html (one self-contained file)")
      ->check(CLI::IsMember({"text", "json", "csv", "html"}));
  cmd->add_option("--output", flags->output, "write the report to this file instead of stdout");
  cmd->add_option("--user", flags->users, "only this IAM user (repeatable); default: every user");
  cmd->add_option("--concurrency", flags->concurrency, "users whose keys are fetched at once (default 8)");
  cmd->add_option("--config", flags->config,
                  "a fleet config (keyrotor.toml): report on every user of each of its accounts, through the "
                  "account's role");
  cmd->add_option("--account", flags->accounts, "with --config: only this configured account (repeatable)");
  cmd->callback([flags] { throw CLI::RuntimeError(RunReport(*flags)); });
}

}  // namespace keyrotor::cli
