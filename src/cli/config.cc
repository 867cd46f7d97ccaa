// keyrotor config check --config keyrotor.toml
#include "fleet/config.h"

#include <fmt/core.h>

#include "base/conninfo_redact.h"
#include "base/strings.h"
#include "cli/common.h"
#include "cli/fleet.h"
#include "engine/policy.h"

namespace keyrotor::cli {
namespace {

struct ConfigCheckFlags {
  GlobalFlags global;
  std::string config;
  std::string now;  // tests fix "now" for the next run times
};

// A postgresql:// URL may carry a password: show it without its user info.
std::string PrintableState(const std::string& state) { return RedactConnectionSecrets(state, state); }

std::string DescribeAccount(const fleet::Account& a) {
  std::vector<std::string> parts;
  if (!a.id.empty()) parts.push_back("id " + a.id);
  parts.push_back(a.role_arn.empty() ? "the admin credentials' own account" : "assumes " + a.role_arn);
  if (!a.external_id.empty()) parts.push_back("with an external id");
  if (!a.session_name.empty()) parts.push_back("session " + a.session_name);
  if (!a.region.empty()) parts.push_back("region " + a.region);
  parts.push_back(a.rate_limit > 0 ? fmt::format("at most {:g} requests/s", a.rate_limit) : "no rate limit");
  return Join(parts);
}

std::string DescribeCriteria(const fleet::Selection& s) {
  std::vector<std::string> any;
  if (s.all_users) any.push_back("every user");
  if (!s.users.empty()) any.push_back("users " + Join(s.users));
  if (s.user_regex) any.push_back("names matching /" + s.user_regex_text + "/");
  if (!s.path_prefix.empty()) any.push_back("path " + s.path_prefix + "*");
  if (!s.groups.empty()) any.push_back("members of " + Join(s.groups));
  std::vector<std::string> tags;
  for (const aws::Tag& t : s.tags) tags.push_back(t.key + "=" + t.value);
  if (!tags.empty()) any.push_back("tagged " + Join(tags, " or "));
  std::string out = Join(any, "; or ");
  std::vector<std::string> except;
  if (!s.exclude_users.empty()) except.push_back(Join(s.exclude_users));
  if (s.exclude_regex) except.push_back("names matching /" + s.exclude_regex_text + "/");
  if (!except.empty()) out += "; except " + Join(except, " and ");
  return out;
}

std::string DescribePolicy(const engine::EngineOptions& o) {
  const engine::Policy& p = o.policy;
  std::string out =
      fmt::format("mode {}, rotate after {}", engine::ModeName(p.mode), engine::FormatDuration(p.rotate_after));
  if (p.mode == engine::RotationMode::kStaged) {
    out += fmt::format(", deactivate after {}, delete after {}", engine::FormatDuration(p.deactivate_after),
                       engine::FormatDuration(p.delete_after));
  }
  if (p.max_age.count() != 0) out += ", max age " + engine::FormatDuration(p.max_age);
  return out;
}

std::string DescribeNotify(const std::vector<std::string>& specs) {
  // Only the kind: the rest of a webhook URL may be a credential.
  std::vector<std::string> kinds;
  for (const std::string& spec : specs) kinds.push_back(spec.substr(0, spec.find(':')));
  return Join(kinds);
}

int RunConfigCheck(const ConfigCheckFlags& flags) {
  EnvMap env = ProcessEnvironment();
  TimePoint now = Clock::Real()->Now();
  if (!flags.now.empty()) {
    Result<TimePoint> t = ParseIso8601(flags.now);
    if (!t.ok()) {
      PrintError(t.status().WithContext("--now"));
      return kExitUsage;
    }
    now = *t;
  }
  // Destination and notify specs are checked by building their clients,
  // which sends nothing: no credentials are needed to check a file.
  Result<aws::ClientFactory> clients = BuildClientFactory(flags.global, env, /*with_credentials=*/false);
  if (!clients.ok()) {
    PrintError(clients.status());
    return kExitUsage;
  }
  Result<fleet::FleetConfig> config = fleet::CheckFleetConfig(flags.config, env, *clients);
  if (!config.ok()) {
    PrintFleetError(config.status(), flags.config);
    return kExitUsage;
  }
  const fleet::FleetConfig& c = *config;
  fmt::print("{}: OK\n", c.path);
  fmt::print("state:       {}\n", PrintableState(c.state));
  fmt::print("concurrency: {} users at once\n", c.concurrency);
  fmt::print("schedule:    {} (UTC)\n", c.schedule.text());
  TimePoint next = now;
  for (int i = 0; i < 3; ++i) {
    next = c.schedule.NextRun(next);
    fmt::print("  next run:  {}\n", FormatIso8601(next));
  }
  fmt::print("accounts ({}):\n", c.accounts.size());
  for (const fleet::Account& a : c.accounts) fmt::print("  {}: {}\n", a.name, DescribeAccount(a));
  fmt::print("selections ({}; a user takes the first that matches):\n", c.selections.size());
  for (const fleet::Selection& s : c.selections) {
    fmt::print("  [{}] line {}, {}: {}\n", s.index, s.line,
               s.accounts.empty() ? "every account" : "accounts " + Join(s.accounts), DescribeCriteria(s));
    fmt::print("      {}\n", DescribePolicy(s.options));
    if (!s.options.destinations.empty()) fmt::print("      to {}\n", Join(s.options.destinations));
    if (!s.options.notify.empty()) fmt::print("      notify {}\n", DescribeNotify(s.options.notify));
  }
  return kExitOk;
}

}  // namespace

void RegisterConfigCommand(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Work with the fleet config file (keyrotor.toml)");
  config->require_subcommand(1);
  auto flags = std::make_shared<ConfigCheckFlags>();
  auto* check = config->add_subcommand(
      "check",
      "Check a fleet config file without touching AWS: print what it selects and when it runs (exit 0), or "
      "every problem as FILE:LINE: SETTING: what is wrong (exit 2)");
  check->add_option("--config", flags->config, "The fleet config file, e.g. /etc/keyrotor/keyrotor.toml")->required();
  check->add_option("--now", flags->now)->group("");
  AddGlobalFlags(*check, flags->global);
  check->callback([flags] { throw CLI::RuntimeError(RunConfigCheck(*flags)); });
}

}  // namespace keyrotor::cli
