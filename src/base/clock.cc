#include "base/clock.h"

#include <cstdio>
#include <ctime>
#include <thread>

namespace keyrotor {
namespace {

class RealClock : public Clock {
 public:
  TimePoint Now() override { return std::chrono::system_clock::now(); }
  void SleepFor(Duration d) override { std::this_thread::sleep_for(d); }
};

std::tm ToUtc(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

// The last year a TimePoint (int64 nanoseconds since 1970) can hold whole:
// from_time_t of a later date overflows, which is undefined behaviour.
constexpr int kMaxYear = 2261;

Result<TimePoint> FromFields(int y, int mo, int d, int h, int mi, int s, std::string_view text) {
  // sscanf's %2d also reads "-1", so the lower bounds matter too.
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60 || y < 1970 ||
      y > kMaxYear) {
    return Status::ParseError("invalid timestamp '" + std::string(text) + "'");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

Clock* Clock::Real() {
  static RealClock clock;
  return &clock;
}

std::string FormatAmzDate(TimePoint t) {
  std::tm tm = ToUtc(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string FormatIso8601(TimePoint t) {
  std::tm tm = ToUtc(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<TimePoint> ParseIso8601(std::string_view text) {
  int y, mo, d, h, mi, s, consumed = 0;
  std::string str(text);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6) {
    return Status::ParseError("invalid timestamp '" + str + "'");
  }
  KR_ASSIGN_OR_RETURN(TimePoint t, FromFields(y, mo, d, h, mi, s, text));
  std::string_view rest = std::string_view(str).substr(static_cast<size_t>(consumed));
  Duration frac{0};
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    long ms = 0;
    int digits = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (rest[i] - '0'), ++digits;
      ++i;
    }
    while (digits < 3) ms *= 10, ++digits;
    frac = Duration(ms);
    rest = rest.substr(i);
  }
  if (rest == "Z" || rest == "z" || rest.empty()) return t + frac;
  int oh = 0, om = 0;
  char sign = rest[0];
  if ((sign == '+' || sign == '-') && std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
    auto offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    return sign == '+' ? t + frac - offset : t + frac + offset;
  }
  return Status::ParseError("invalid timestamp '" + str + "'");
}

Result<TimePoint> ParseAmzDate(std::string_view text) {
  int y, mo, d, h, mi, s;
  std::string str(text);
  if (str.size() != 16 || str[8] != 'T' || str[15] != 'Z' ||
      std::sscanf(str.c_str(), "%4d%2d%2dT%2d%2d%2dZ", &y, &mo, &d, &h, &mi, &s) != 6) {
    return Status::ParseError("invalid X-Amz-Date '" + str + "'");
  }
  return FromFields(y, mo, d, h, mi, s, text);
}

}  // namespace keyrotor
