#include "base/environment.h"

#include "base/strings.h"

extern char** environ;

namespace keyrotor {

EnvMap ProcessEnvironment() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string> EnvValue(const EnvMap& env, std::string_view name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

bool EnvFlag(const EnvMap& env, std::string_view name) {
  auto v = EnvValue(env, name);
  if (!v) return false;
  std::string lower = ToLower(Trim(*v));
  return lower == "true" || lower == "1" || lower == "yes";
}

}  // namespace keyrotor
