// When fleet runs happen: a 5-field cron expression (UTC) or "every
// DURATION". Pure arithmetic on time points, so tests need no clock.
//
//   minute hour day-of-month month day-of-week
//   each: *  N  N-M  N,M,...  */S  N-M/S  N/S   (months JAN-DEC, days SUN-SAT, 7 = Sunday)
//   @hourly @daily @weekly @monthly @yearly as in cron(8)
//
// As in Vixie cron, when both day-of-month and day-of-week are restricted (do
// not start with '*') a day matches if either does: "0 3 1 * MON" runs on the
// 1st and on every Monday.
#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace keyrotor::fleet {

// What the config file means when it says nothing: daily at 03:00 UTC.
inline constexpr char kDefaultSchedule[] = "0 3 * * *";

class Schedule {
 public:
  Schedule();  // kDefaultSchedule
  // InvalidArgument saying which field is wrong and why.
  static Result<Schedule> Parse(std::string_view text);

  // The first run strictly after `after`. "every D" runs at the multiples of
  // D since 1970-01-01T00:00Z, so a restarted scheduler keeps the same beat
  // ("every 24h" is midnight UTC, "every 6h" 00:00, 06:00, ...).
  TimePoint NextRun(TimePoint after) const;

  const std::string& text() const { return text_; }

 private:
  struct Unparsed {};
  explicit Schedule(Unparsed) {}
  bool DayMatches(int day_of_month, int month, int weekday) const;

  std::string text_;
  Duration every_{0};  // > 0 for "every D"; then the fields below are unused
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> weekdays_;        // 0 = Sunday
  bool day_of_month_star_ = false;
  bool weekday_star_ = false;
};

}  // namespace keyrotor::fleet
