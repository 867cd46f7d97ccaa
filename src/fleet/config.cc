#include "fleet/config.h"

#include <algorithm>
#include <set>

#include "base/file_util.h"
#include "fleet/config_parser.h"

namespace keyrotor::fleet {
namespace {

// Problems one per line, in the order found.
Status Problems(const std::vector<std::string>& errors) {
  if (errors.empty()) return Status::Ok();
  std::string all;
  for (const std::string& e : errors) all += (all.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(all);
}

std::vector<std::string> SpecProblems(const FleetConfig& config, const aws::ClientFactory& clients) {
  std::vector<std::string> errors;
  std::set<std::string> seen;  // a [policy] spec comes back with every selection
  auto check = [&](const Selection& sel, const std::string& spec, const SettingOrigin& origin, bool notify) {
    engine::EngineOptions one = sel.options;
    one.destinations.clear();
    one.notify.clear();
    (notify ? one.notify : one.destinations).push_back(spec);
    one.notifier_options.transport = clients.context().transport;
    Status s = engine::ValidateEngineOptions(one, clients);
    if (s.ok()) return;
    std::string message = config.Locate(origin) + ": " + s.message();
    if (seen.insert(message).second) errors.push_back(std::move(message));
  };
  for (const Selection& sel : config.selections) {
    for (size_t i = 0; i < sel.options.destinations.size(); ++i) {
      check(sel, sel.options.destinations[i], i < sel.to_origins.size() ? sel.to_origins[i] : SettingOrigin{}, false);
    }
    for (size_t i = 0; i < sel.options.notify.size(); ++i) {
      check(sel, sel.options.notify[i], i < sel.notify_origins.size() ? sel.notify_origins[i] : SettingOrigin{}, true);
    }
  }
  return errors;
}

}  // namespace

bool Selection::AppliesTo(std::string_view account_name, std::string_view account_id) const {
  return accounts.empty() || std::find(accounts.begin(), accounts.end(), account_name) != accounts.end() ||
         (!account_id.empty() && std::find(accounts.begin(), accounts.end(), account_id) != accounts.end());
}

const Account* FleetConfig::FindAccount(std::string_view name) const {
  for (const Account& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string FleetConfig::Locate(const SettingOrigin& origin) const {
  return path + (origin.line > 0 ? ":" + std::to_string(origin.line) : "") + ": " + origin.setting;
}

Result<FleetConfig> ParseFleetConfig(std::string_view text, const std::string& path_for_messages, const EnvMap& env) {
  ParsedConfig parsed = ParseConfigText(text, path_for_messages, env);
  KR_RETURN_IF_ERROR(Problems(parsed.errors));
  return std::move(parsed.config).value();
}

Result<FleetConfig> LoadFleetConfig(const std::string& path, const EnvMap& env) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseFleetConfig(*text, path, env);
}

Status ValidateSpecs(const FleetConfig& config, const aws::ClientFactory& clients) {
  return Problems(SpecProblems(config, clients));
}

Result<FleetConfig> CheckFleetConfig(const std::string& path, const EnvMap& env, const aws::ClientFactory& clients) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  ParsedConfig parsed = ParseConfigText(*text, path, env);
  std::vector<std::string> errors = std::move(parsed.errors);
  if (parsed.config) {
    for (std::string& e : SpecProblems(*parsed.config, clients)) errors.push_back(std::move(e));
  }
  KR_RETURN_IF_ERROR(Problems(errors));
  return std::move(parsed.config).value();
}

}  // namespace keyrotor::fleet
