// keyrotor.toml's text into a FleetConfig: the TOML tables, every key
// checked against what it may hold, every problem collected as
// "FILE:LINE: SETTING: what is wrong". Internal to fleet/ (config.h is the
// interface).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/environment.h"
#include "fleet/config.h"

namespace keyrotor::fleet {

struct ParsedConfig {
  std::optional<FleetConfig> config;  // as far as it could be read; nullopt when the text is not TOML
  std::vector<std::string> errors;    // every problem, in the order found
};

ParsedConfig ParseConfigText(std::string_view text, const std::string& path, const EnvMap& env);

}  // namespace keyrotor::fleet
