// Wiping a parsed JSON document that held secrets. nlohmann::json keeps its
// own copy of every string it parses, so a response body that is wiped after
// parsing still leaves the secret key or token in the document.
#pragma once

#include <nlohmann/json.hpp>

namespace keyrotor {

// Overwrites every string value in `j` (nested in objects and arrays, at any
// depth) in place, as WipeString does, and leaves it empty. Object keys are
// names, not secrets, and are kept.
void WipeJson(nlohmann::json& j);

// Wipes a document when it goes out of scope, so every return path of a
// parser wipes it, the early error returns included.
class WipeJsonOnExit {
 public:
  explicit WipeJsonOnExit(nlohmann::json& j) : j_(j) {}
  WipeJsonOnExit(const WipeJsonOnExit&) = delete;
  WipeJsonOnExit& operator=(const WipeJsonOnExit&) = delete;
  ~WipeJsonOnExit() { WipeJson(j_); }

 private:
  nlohmann::json& j_;
};

}  // namespace keyrotor
