// AWS Health events about exposed keys (engine/exposure.h: ParseExposureEvent),
// read by `keyrotor respond --event` and the Lambda runtime from EventBridge:
// outside input, whatever its shape.
//
// Properties:
//  - no exception escapes; a refused event is InvalidArgument starting "not
//    an exposure event";
//  - an accepted event names a known RISK event type, a 12-digit account and
//    at least one distinct key id, each of which ValidateExposedKeyId accepts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "engine/exposure.h"
#include "fuzz_check.h"

namespace {

void Run(std::string_view text) {
  keyrotor::Result<keyrotor::engine::ExposureEvent> event = keyrotor::engine::ParseExposureEvent(text);
  if (!event.ok()) {
    FUZZ_CHECK(event.status().code() == keyrotor::StatusCode::kInvalidArgument);
    FUZZ_CHECK(event.status().message().rfind("not an exposure event", 0) == 0);
    return;
  }
  FUZZ_CHECK(std::any_of(std::begin(keyrotor::engine::kExposureEventTypes),
                         std::end(keyrotor::engine::kExposureEventTypes),
                         [&](const char* t) { return event->event_type == t; }));
  FUZZ_CHECK(event->account.size() == 12);
  FUZZ_CHECK(!event->access_key_ids.empty());
  std::set<std::string> distinct(event->access_key_ids.begin(), event->access_key_ids.end());
  FUZZ_CHECK(distinct.size() == event->access_key_ids.size());
  for (const std::string& id : event->access_key_ids) FUZZ_CHECK(keyrotor::engine::ValidateExposedKeyId(id).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
