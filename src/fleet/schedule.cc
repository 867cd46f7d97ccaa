#include "fleet/schedule.h"

#include <array>
#include <charconv>
#include <optional>
#include <sstream>
#include <vector>

#include "base/strings.h"
#include "engine/policy.h"

namespace keyrotor::fleet {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::sys_days;

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  const std::array<std::string_view, 12>* names;  // names[i] means min + i; nullptr: numbers only
};

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 12> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// Day of week allows 7 for Sunday (cron(5)); folded onto 0 after parsing.
constexpr std::array<FieldSpec, 5> kFields = {{{"minute", 0, 59, nullptr},
                                               {"hour", 0, 23, nullptr},
                                               {"day-of-month", 1, 31, nullptr},
                                               {"month", 1, 12, &kMonthNames},
                                               {"day-of-week", 0, 7, &kDayNames}}};

Status BadField(const FieldSpec& f, std::string_view text, const std::string& why) {
  return Status::InvalidArgument(std::string(f.name) + " field '" + std::string(text) + "': " + why);
}

Result<int> ParseValue(const FieldSpec& f, std::string_view field, std::string_view v) {
  if (f.names) {
    std::string lower = ToLower(v);
    for (size_t i = 0; i < f.names->size(); ++i) {
      if (!(*f.names)[i].empty() && lower == (*f.names)[i]) return f.min + static_cast<int>(i);
    }
  }
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    return BadField(f, field, "'" + std::string(v) + "' is not a number" + (f.names ? " or a name" : ""));
  }
  if (n < f.min || n > f.max) {
    return BadField(f, field,
                    std::to_string(n) + " is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
  }
  return n;
}

// One field: a comma-separated list of *, N, N-M, each optionally /STEP.
Result<std::vector<bool>> ParseField(const FieldSpec& f, std::string_view field) {
  std::vector<bool> set(f.max + 1, false);
  for (const std::string& item : Split(field, ',')) {
    std::string_view range = item;
    int step = 1;
    bool has_step = false;
    if (size_t slash = range.find('/'); slash != std::string_view::npos) {
      std::string_view s = range.substr(slash + 1);
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (s.empty() || ec != std::errc() || end != s.data() + s.size() || step < 1) {
        return BadField(f, field, "step '" + std::string(s) + "' is not a positive number");
      }
      if (step > f.max - f.min + 1) {
        return BadField(f, field, "step " + std::to_string(step) + " is larger than the field's range");
      }
      range = range.substr(0, slash);
      has_step = true;
    }
    int lo = f.min, hi = f.max;
    if (range.empty()) return BadField(f, field, "empty list item");
    if (range != "*") {
      size_t dash = range.find('-');
      KR_ASSIGN_OR_RETURN(lo, ParseValue(f, field, range.substr(0, dash)));
      if (dash != std::string_view::npos) {
        KR_ASSIGN_OR_RETURN(hi, ParseValue(f, field, range.substr(dash + 1)));
        if (hi < lo) {
          return BadField(f, field, "range " + std::string(range) + " runs backwards (ranges do not wrap around)");
        }
      } else if (!has_step) {
        hi = lo;  // a single value; "N/S" means N, N+S, ... up to the maximum
      }
    }
    for (int v = lo; v <= hi; v += step) set[v] = true;
  }
  return set;
}

int DaysInMonth(int month) {
  static constexpr std::array<int, 13> kDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[month];  // February counts 29: the 29th does come, in leap years
}

std::optional<std::string_view> Macro(std::string_view text) {
  if (text == "@hourly") return "0 * * * *";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  return std::nullopt;
}

}  // namespace

Schedule::Schedule() : Schedule(std::move(Parse(kDefaultSchedule)).value()) {}

Result<Schedule> Schedule::Parse(std::string_view text) {
  Schedule s{Unparsed{}};
  s.text_ = std::string(Trim(text));
  std::string_view t = s.text_;
  if (t.empty()) return Status::InvalidArgument("empty: expected a cron expression or \"every DURATION\"");

  if (StartsWith(t, "every ") || t == "every") {
    std::string_view d = Trim(t.substr(5));
    Result<Duration> every = engine::ParseDuration(d);
    if (!every.ok()) return Status::InvalidArgument("\"every\": " + every.status().message());
    // Below a minute the runs would overlap and hammer IAM; cron's own
    // granularity is the minute too.
    if (*every < minutes(1)) return Status::InvalidArgument("\"every\": the interval must be at least 1m");
    s.every_ = *every;
    return s;
  }

  if (t[0] == '@') {
    std::optional<std::string_view> expansion = Macro(t);
    if (!expansion) {
      return Status::InvalidArgument("unknown '" + s.text_ +
                                     "': expected @hourly, @daily, @weekly, @monthly or @yearly");
    }
    t = *expansion;
  }
  std::vector<std::string> fields;
  std::istringstream in{std::string(t)};
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5) {
    return Status::InvalidArgument(
        "expected 5 fields (minute hour day-of-month month day-of-week) or \"every "
        "DURATION\", got " +
        std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s"));
  }
  std::array<std::vector<bool>, 5> sets;
  for (size_t i = 0; i < 5; ++i) {
    KR_ASSIGN_OR_RETURN(sets[i], ParseField(kFields[i], fields[i]));
  }
  for (int m = 0; m < 60; ++m) s.minutes_[m] = sets[0][m];
  for (int h = 0; h < 24; ++h) s.hours_[h] = sets[1][h];
  for (int d = 1; d <= 31; ++d) s.days_of_month_[d] = sets[2][d];
  for (int m = 1; m <= 12; ++m) s.months_[m] = sets[3][m];
  for (int d = 0; d <= 7; ++d) {
    if (sets[4][d]) s.weekdays_[d % 7] = true;
  }
  // Vixie cron's rule: a field that starts with '*' does not restrict the day.
  s.day_of_month_star_ = fields[2][0] == '*';
  s.weekday_star_ = fields[4][0] == '*';

  // "0 0 31 2 *" would never run: refuse it rather than wait forever.
  if (!s.day_of_month_star_ && s.weekday_star_) {
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      for (int d = 1; d <= DaysInMonth(m) && !possible; ++d) possible = s.months_[m] && s.days_of_month_[d];
    }
    if (!possible) return Status::InvalidArgument("day-of-month and month never coincide: it would never run");
  }
  return s;
}

bool Schedule::DayMatches(int day_of_month, int month, int weekday) const {
  if (!months_[month]) return false;
  bool dom = days_of_month_[day_of_month];
  bool dow = weekdays_[weekday];
  if (day_of_month_star_ || weekday_star_) return dom && dow;
  return dom || dow;
}

TimePoint Schedule::NextRun(TimePoint after) const {
  if (every_.count() > 0) {
    auto since_epoch = floor<Duration>(after.time_since_epoch());
    auto periods = since_epoch / every_;
    return TimePoint(every_ * (periods + 1));
  }
  TimePoint t = floor<minutes>(after) + minutes(1);
  // Each step moves to the next month, day, hour or minute that can match;
  // Parse() ruled out expressions that never match, and a 29 February one
  // matches within 8 years: far below this bound.
  for (int i = 0; i < 200000; ++i) {
    sys_days day = floor<days>(t);
    std::chrono::year_month_day ymd(day);
    int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    if (!months_[month]) {
      std::chrono::year_month next = std::chrono::year_month(ymd.year(), ymd.month()) + std::chrono::months(1);
      t = sys_days(next / 1);
      continue;
    }
    int weekday = static_cast<int>(std::chrono::weekday(day).c_encoding());
    if (!DayMatches(static_cast<int>(static_cast<unsigned>(ymd.day())), month, weekday)) {
      t = day + days(1);
      continue;
    }
    auto hour = floor<hours>(t - day);
    if (!hours_[hour.count()]) {
      t = day + hour + hours(1);
      continue;
    }
    auto minute = floor<minutes>(t - day - hour);
    if (!minutes_[minute.count()]) {
      t = day + hour + minute + minutes(1);
      continue;
    }
    return t;
  }
  return TimePoint::max();
}

}  // namespace keyrotor::fleet
