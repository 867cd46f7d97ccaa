// keyrotor.toml from text (fleet/config.h: ParseFleetConfig), toml++ included.
//
// Properties:
//  - no exception escapes (toml++ throws parse_error; std::regex throws on a
//    bad user_regex; both must become problems in the Status);
//  - a refused file is InvalidArgument whose every problem starts with the
//    path, "PATH:LINE: SETTING: ..." (or "PATH: ..." for a default that
//    cannot be located), with LINE >= 1;
//  - an accepted file has at least one account (or an [organization] with a
//    role to discover them), unique account names, every selection's accounts
//    resolve (or, with [organization], are account ids), selections are
//    numbered in file order, and a regex exists exactly when its text was
//    given.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fleet/config.h"
#include "fuzz_check.h"

namespace {

constexpr char kPath[] = "/fuzz/keyrotor.toml";

void Run(std::string_view text) {
  keyrotor::EnvMap env{{"HOME", "/home/fuzz"}};
  keyrotor::Result<keyrotor::fleet::FleetConfig> config = keyrotor::fleet::ParseFleetConfig(text, kPath, env);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == keyrotor::StatusCode::kInvalidArgument);
    const std::string& message = config.status().message();
    // Problems are one per line; a value quoted in one may hold a newline of
    // its own, so only lines that start a problem are checked for the line number.
    FUZZ_CHECK(message.substr(0, sizeof(kPath)) == std::string(kPath) + ":");
    size_t start = 0;
    while (start <= message.size()) {
      size_t end = message.find('\n', start);
      std::string_view line = std::string_view(message).substr(start, end == std::string::npos ? end : end - start);
      if (line.substr(0, sizeof(kPath)) == std::string(kPath) + ":" && line.size() > sizeof(kPath) &&
          line[sizeof(kPath)] != ' ') {
        FUZZ_CHECK(keyrotor::fuzz::NamesALine(line, kPath));
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return;
  }
  FUZZ_CHECK(!config->accounts.empty() || config->organization.enabled);
  if (config->organization.enabled) FUZZ_CHECK(!config->organization.role_name.empty());
  FUZZ_CHECK(config->concurrency >= 1 && config->concurrency <= 256);
  std::set<std::string> names;
  for (const auto& account : config->accounts) {
    FUZZ_CHECK(names.insert(account.name).second);
    FUZZ_CHECK(config->FindAccount(account.name) == &account);
  }
  for (size_t i = 0; i < config->selections.size(); ++i) {
    const keyrotor::fleet::Selection& sel = config->selections[i];
    FUZZ_CHECK(sel.index == i);
    for (const std::string& a : sel.accounts) {
      bool id = a.size() == 12 && a.find_first_not_of("0123456789") == std::string::npos;
      FUZZ_CHECK(config->FindAccount(a) != nullptr || (config->organization.enabled && id));
    }
    FUZZ_CHECK(sel.user_regex.has_value() || sel.user_regex_text.empty());
    FUZZ_CHECK(sel.exclude_regex.has_value() || sel.exclude_regex_text.empty());
    FUZZ_CHECK(sel.to_origins.size() == sel.options.destinations.size());
    FUZZ_CHECK(sel.notify_origins.size() == sel.options.notify.size());
    // Matching a name against the user's patterns must not throw (std::regex
    // can throw error_complexity / error_stack at match time).
    if (sel.user_regex) (void)std::regex_search("alice-ci", *sel.user_regex);
    if (sel.exclude_regex) (void)std::regex_search("alice-ci", *sel.exclude_regex);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
