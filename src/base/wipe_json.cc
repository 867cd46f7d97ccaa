#include "base/wipe_json.h"

#include <vector>

#include "base/secret.h"

namespace keyrotor {

void WipeJson(nlohmann::json& j) {
  // An explicit stack, not recursion: the documents come from outside (a
  // secret's value, a credentials endpoint) and may nest deeper than the
  // call stack would allow.
  std::vector<nlohmann::json*> pending{&j};
  while (!pending.empty()) {
    nlohmann::json* next = pending.back();
    pending.pop_back();
    if (next->is_string()) {
      WipeString(next->get_ref<std::string&>());
    } else if (next->is_structured()) {
      for (auto& item : *next) pending.push_back(&item);
    }
  }
}

}  // namespace keyrotor
