// Time as a seam: the engine and the clients ask a Clock, never time(), so
// tests can let days pass instantly and sleeps cost nothing.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keyrotor {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

// Milliseconds since the Unix epoch, as the journals store time.
inline int64_t ToMillis(TimePoint t) { return std::chrono::duration_cast<Duration>(t.time_since_epoch()).count(); }
inline TimePoint FromMillis(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Duration(ms)));
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
  virtual void SleepFor(Duration d) = 0;
  // The process-wide real clock.
  static Clock* Real();
};

// A clock for tests: Now() moves only when told to, and SleepFor() advances it.
// Safe to share between threads (a fleet run's workers sleep on it).
class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start) {}
  TimePoint Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void SleepFor(Duration d) override { Advance(d); }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  TimePoint now_;
};

// "20150830T123600Z", the X-Amz-Date form.
std::string FormatAmzDate(TimePoint t);
// "2015-08-30T12:36:00Z" (whole seconds), as IAM and STS write timestamps.
std::string FormatIso8601(TimePoint t);
// "2026-12-02": the UTC date of `t`.
inline std::string FormatIsoDate(TimePoint t) { return FormatIso8601(t).substr(0, 10); }
// Accepts "2015-08-30T12:36:00Z", fractional seconds and "+00:00"-style offsets.
Result<TimePoint> ParseIso8601(std::string_view text);
// Parses X-Amz-Date's compact form.
Result<TimePoint> ParseAmzDate(std::string_view text);

}  // namespace keyrotor
