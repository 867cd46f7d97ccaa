// The process environment as a value: read once, passed down, replaced by a
// plain map in tests. Nothing below the CLI calls getenv().
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace keyrotor {

using EnvMap = std::map<std::string, std::string, std::less<>>;

EnvMap ProcessEnvironment();
// The value of `name`, or nullopt when unset or empty (as the SDKs treat empty).
std::optional<std::string> EnvValue(const EnvMap& env, std::string_view name);
// "true"/"1"/"yes" (case-insensitive).
bool EnvFlag(const EnvMap& env, std::string_view name);

}  // namespace keyrotor
