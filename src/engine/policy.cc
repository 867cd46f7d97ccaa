#include "engine/policy.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "base/strings.h"

namespace keyrotor::engine {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t millis;
};
// Largest first: FormatDuration picks the first unit that divides evenly.
// "ms" precedes "m" so that ParseDuration's prefix match takes the longer one.
constexpr Unit kUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"ms", 1}, {"m", 60'000}, {"s", 1'000}};
constexpr Unit kFormatUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}};

Status BadDuration(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\": " + std::string(why));
}

Status RequireNonNegative(const char* name, Duration d) {
  if (d.count() >= 0) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + " must not be negative (got " + FormatDuration(d) + ")");
}

}  // namespace

std::string ModeName(RotationMode mode) {
  switch (mode) {
    case RotationMode::kStaged:
      return "staged";
    case RotationMode::kImmediate:
      return "immediate";
    case RotationMode::kDeleteFirst:
      return "delete-first";
  }
  return "unknown";
}

std::string ExposureOrderName(ExposureOrder order) {
  return order == ExposureOrder::kDeactivateFirst ? "deactivate-first" : "rotate-first";
}

Result<ExposureOrder> ParseExposureOrder(std::string_view name) {
  for (ExposureOrder o : {ExposureOrder::kRotateFirst, ExposureOrder::kDeactivateFirst}) {
    if (ExposureOrderName(o) == name) return o;
  }
  return Status::InvalidArgument("unknown on_exposure \"" + std::string(name) +
                                 "\" (expected rotate-first or deactivate-first)");
}

Result<RotationMode> ParseMode(std::string_view name) {
  for (RotationMode m : {RotationMode::kStaged, RotationMode::kImmediate, RotationMode::kDeleteFirst}) {
    if (ModeName(m) == name) return m;
  }
  return Status::InvalidArgument("unknown rotation mode \"" + std::string(name) +
                                 "\" (expected staged, immediate or delete-first)");
}

// Accepts one or more <digits><unit> groups ("90d", "1d12h", "250ms") or a
// bare "0". A bare non-zero number is refused: "90" could mean days or
// seconds, and guessing wrong retires keys at the wrong time.
Result<Duration> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return BadDuration(text, "empty");
  if (s == "0") return Duration(0);
  if (s[0] == '-') return BadDuration(text, "must not be negative");
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] < '0' || s[i] > '9') {
      return BadDuration(text, "expected a number and a unit, e.g. 90d, 36h, 15m, 30s or 250ms");
    }
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      int digit = s[i] - '0';
      if (n > (kMax - digit) / 10) return BadDuration(text, "too large");
      n = n * 10 + digit;
      ++i;
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (s.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return BadDuration(text, "missing or unknown unit (use d, h, m, s or ms)");
    i += unit->suffix.size();
    if (n > kMax / unit->millis) return BadDuration(text, "too large");
    int64_t part = n * unit->millis;
    if (total > kMax - part) return BadDuration(text, "too large");
    total += part;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t count = d.count();
  if (count == 0) return "0";
  // The magnitude as unsigned, so that the most negative value does not overflow.
  uint64_t magnitude = count < 0 ? uint64_t{0} - static_cast<uint64_t>(count) : static_cast<uint64_t>(count);
  std::string sign = count < 0 ? "-" : "";
  for (const Unit& u : kFormatUnits) {
    auto unit = static_cast<uint64_t>(u.millis);
    if (magnitude % unit == 0) return sign + std::to_string(magnitude / unit) + std::string(u.suffix);
  }
  return sign + std::to_string(magnitude) + "ms";
}

Status Policy::Validate() const {
  KR_RETURN_IF_ERROR(RequireNonNegative("rotate_after", rotate_after));
  KR_RETURN_IF_ERROR(RequireNonNegative("deactivate_after", deactivate_after));
  KR_RETURN_IF_ERROR(RequireNonNegative("delete_after", delete_after));
  KR_RETURN_IF_ERROR(RequireNonNegative("max_age", max_age));
  KR_RETURN_IF_ERROR(RequireNonNegative("quiet_period", quiet_period));
  KR_RETURN_IF_ERROR(RequireNonNegative("force_after", force_after));
  KR_RETURN_IF_ERROR(RequireNonNegative("verify_timeout", verify_timeout));
  KR_RETURN_IF_ERROR(RequireNonNegative("exposed_delete_after", exposed_delete_after));
  KR_RETURN_IF_ERROR(RequireNonNegative("exposure_lookup_window", exposure_lookup_window));
  // CloudTrail's event history reaches back 90 days.
  if (exposure_lookup_window > Days(90)) {
    return Status::InvalidArgument("exposure_lookup_window (" + FormatDuration(exposure_lookup_window) +
                                   ") must be at most 90d: CloudTrail keeps 90 days of events");
  }
  // The old key stays active for deactivate_after after its successor exists,
  // so a max_age not above it could never be honoured.
  if (max_age.count() != 0 && max_age <= deactivate_after) {
    return Status::InvalidArgument("max_age (" + FormatDuration(max_age) + ") must be greater than deactivate_after (" +
                                   FormatDuration(deactivate_after) + ")");
  }
  return Status::Ok();
}

Duration Policy::RotationThreshold() const {
  if (max_age.count() == 0) return rotate_after;
  // Start early enough that the old key, retired deactivate_after after its
  // successor is created, is never older than max_age.
  return std::min(rotate_after, max_age - deactivate_after);
}

TimePoint Policy::ForcedDeactivationAt(TimePoint new_key_created, TimePoint old_key_created) const {
  TimePoint forced = new_key_created + force_after;
  if (max_age.count() != 0) forced = std::min(forced, old_key_created + max_age);
  return forced;
}

}  // namespace keyrotor::engine
