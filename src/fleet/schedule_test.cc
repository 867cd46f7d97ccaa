#include "fleet/schedule.h"

#include <gtest/gtest.h>

namespace keyrotor::fleet {
namespace {

TimePoint At(std::string_view iso) { return std::move(ParseIso8601(iso)).value(); }

// The next `n` runs after `from`, as ISO strings.
std::vector<std::string> Runs(std::string_view expression, std::string_view from, int n = 3) {
  Result<Schedule> s = Schedule::Parse(expression);
  EXPECT_TRUE(s.ok()) << expression << ": " << s.status().message();
  if (!s.ok()) return {};
  std::vector<std::string> out;
  TimePoint t = At(from);
  for (int i = 0; i < n; ++i) out.push_back(FormatIso8601(t = s->NextRun(t)));
  return out;
}

std::string ParseError(std::string_view expression) {
  Result<Schedule> s = Schedule::Parse(expression);
  return s.ok() ? "(parsed)" : s.status().message();
}

TEST(CronScheduleTest, DailyAtThree) {
  EXPECT_EQ(Runs("0 3 * * *", "2026-11-25T02:37:12Z"),
            (std::vector<std::string>{"2026-11-25T03:00:00Z", "2026-11-26T03:00:00Z", "2026-11-27T03:00:00Z"}));
  // Strictly after: a run at exactly 03:00 is followed by the next day's.
  EXPECT_EQ(Runs("0 3 * * *", "2026-11-25T03:00:00Z", 1), std::vector<std::string>{"2026-11-26T03:00:00Z"});
  EXPECT_EQ(Schedule().text(), "0 3 * * *");  // the default
}

TEST(CronScheduleTest, StepsAndLists) {
  EXPECT_EQ(Runs("*/15 * * * *", "2026-01-01T10:07:30Z"),
            (std::vector<std::string>{"2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z", "2026-01-01T10:45:00Z"}));
  EXPECT_EQ(Runs("5,35 */6 * * *", "2026-01-01T06:40:00Z"),
            (std::vector<std::string>{"2026-01-01T12:05:00Z", "2026-01-01T12:35:00Z", "2026-01-01T18:05:00Z"}));
  // N/S: from N up to the maximum.
  EXPECT_EQ(Runs("0 20/2 * * *", "2026-01-01T00:00:00Z"),
            (std::vector<std::string>{"2026-01-01T20:00:00Z", "2026-01-01T22:00:00Z", "2026-01-02T20:00:00Z"}));
}

TEST(CronScheduleTest, RangesWithSteps) {
  EXPECT_EQ(Runs("30 9-17/4 * * *", "2026-03-10T12:00:00Z"),
            (std::vector<std::string>{"2026-03-10T13:30:00Z", "2026-03-10T17:30:00Z", "2026-03-11T09:30:00Z"}));
}

TEST(CronScheduleTest, DayOfWeek) {
  // 2026-11-25 is a Wednesday.
  EXPECT_EQ(Runs("0 4 * * 1-5", "2026-11-27T05:00:00Z"),  // Friday after the run
            (std::vector<std::string>{"2026-11-30T04:00:00Z", "2026-12-01T04:00:00Z", "2026-12-02T04:00:00Z"}));
  EXPECT_EQ(Runs("0 0 * * sun", "2026-11-25T00:00:00Z", 2),
            (std::vector<std::string>{"2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"}));
  // 7 is Sunday too; names are case-insensitive.
  EXPECT_EQ(Runs("0 0 * * 7", "2026-11-25T00:00:00Z", 1), Runs("0 0 * * SUN", "2026-11-25T00:00:00Z", 1));
  EXPECT_EQ(Runs("@weekly", "2026-11-25T00:00:00Z", 1), std::vector<std::string>{"2026-11-29T00:00:00Z"});
}

TEST(CronScheduleTest, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // Vixie cron: the 1st of the month, and every Monday.
  EXPECT_EQ(Runs("0 3 1 * mon", "2026-11-25T00:00:00Z"),
            (std::vector<std::string>{"2026-11-30T03:00:00Z", "2026-12-01T03:00:00Z", "2026-12-07T03:00:00Z"}));
  // A day-of-month starting with '*' does not restrict: every Monday only.
  EXPECT_EQ(Runs("0 3 */1 * mon", "2026-11-25T00:00:00Z", 2),
            (std::vector<std::string>{"2026-11-30T03:00:00Z", "2026-12-07T03:00:00Z"}));
}

TEST(CronScheduleTest, MonthBoundariesAndShortMonths) {
  EXPECT_EQ(Runs("0 0 31 * *", "2026-01-31T00:00:00Z"),
            (std::vector<std::string>{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"}));
  EXPECT_EQ(Runs("59 23 * * *", "2026-12-31T23:59:00Z", 1), std::vector<std::string>{"2027-01-01T23:59:00Z"});
  EXPECT_EQ(Runs("0 12 1 jan,jul *", "2026-02-01T00:00:00Z", 2),
            (std::vector<std::string>{"2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z"}));
  // The 29th of February waits for a leap year.
  EXPECT_EQ(Runs("0 0 29 2 *", "2026-03-01T00:00:00Z", 2),
            (std::vector<std::string>{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}));
  EXPECT_EQ(Runs("@monthly", "2026-12-15T00:00:00Z", 1), std::vector<std::string>{"2027-01-01T00:00:00Z"});
}

TEST(CronScheduleTest, Every) {
  EXPECT_EQ(Runs("every 24h", "2026-11-25T02:37:12Z"),
            (std::vector<std::string>{"2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"}));
  EXPECT_EQ(Runs("every 6h", "2026-11-25T06:00:00Z", 2),
            (std::vector<std::string>{"2026-11-25T12:00:00Z", "2026-11-25T18:00:00Z"}));
  EXPECT_EQ(Runs("every 90m", "2026-01-01T00:00:00Z", 2),
            (std::vector<std::string>{"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"}));
}

TEST(CronScheduleTest, Errors) {
  EXPECT_EQ(ParseError(""), "empty: expected a cron expression or \"every DURATION\"");
  EXPECT_EQ(ParseError("0 3 * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week) or \"every DURATION\", got 4 fields");
  EXPECT_EQ(ParseError("60 * * * *"), "minute field '60': 60 is out of range 0-59");
  EXPECT_EQ(ParseError("0 0 0 * *"), "day-of-month field '0': 0 is out of range 1-31");
  EXPECT_EQ(ParseError("0 0 * 13 *"), "month field '13': 13 is out of range 1-12");
  EXPECT_EQ(ParseError("0 0 * * 8"), "day-of-week field '8': 8 is out of range 0-7");
  EXPECT_EQ(ParseError("0 0 * * fun"), "day-of-week field 'fun': 'fun' is not a number or a name");
  EXPECT_EQ(ParseError("0 17-9 * * *"), "hour field '17-9': range 17-9 runs backwards (ranges do not wrap around)");
  EXPECT_EQ(ParseError("*/0 * * * *"), "minute field '*/0': step '0' is not a positive number");
  EXPECT_EQ(ParseError("1,,2 * * * *"), "minute field '1,,2': empty list item");
  EXPECT_EQ(ParseError("0 0 30 2 *"), "day-of-month and month never coincide: it would never run");
  EXPECT_EQ(ParseError("@sometimes"), "unknown '@sometimes': expected @hourly, @daily, @weekly, @monthly or @yearly");
  EXPECT_EQ(ParseError("every 30s"), "\"every\": the interval must be at least 1m");
  EXPECT_NE(ParseError("every day").find("\"every\": "), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::fleet
