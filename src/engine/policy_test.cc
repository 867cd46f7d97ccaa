#include "engine/policy.h"

#include <gtest/gtest.h>

namespace keyrotor::engine {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Duration Parsed(std::string_view text) {
  auto d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().ToString();
  return d.ok() ? *d : Duration(-1);
}

TEST(PolicyTest, ModeNamesRoundTrip) {
  for (RotationMode m : {RotationMode::kStaged, RotationMode::kImmediate, RotationMode::kDeleteFirst}) {
    auto parsed = ParseMode(ModeName(m));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(ModeName(RotationMode::kDeleteFirst), "delete-first");
  auto bad = ParseMode("delete_first");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("delete_first"), std::string::npos);
}

TEST(PolicyTest, ParseDurationAcceptsEachUnit) {
  EXPECT_EQ(Parsed("90d"), Days(90));
  EXPECT_EQ(Parsed("36h"), hours(36));
  EXPECT_EQ(Parsed("15m"), minutes(15));
  EXPECT_EQ(Parsed("30s"), seconds(30));
  EXPECT_EQ(Parsed("250ms"), milliseconds(250));
  EXPECT_EQ(Parsed("0"), Duration(0));
  EXPECT_EQ(Parsed("0s"), Duration(0));
  EXPECT_EQ(Parsed("1d12h"), hours(36));
  EXPECT_EQ(Parsed(" 7d "), Days(7));
}

TEST(PolicyTest, ParseDurationRejectsNegativesGarbageAndOverflowQuotingTheText) {
  for (std::string_view bad : {"-5d", "", "d", "90", "5x", "abc", "5 d", "1.5h", "+3h", "3hh", "99999999999999999999d",
                               "106751991168d", "9223372036854775807s", "9223372036854775807ms1ms"}) {
    auto d = ParseDuration(bad);
    ASSERT_FALSE(d.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(d.status().message().find("\"" + std::string(bad) + "\""), std::string::npos) << d.status().message();
  }
  EXPECT_NE(ParseDuration("-5d").status().message().find("negative"), std::string::npos);
  // The largest value that fits still parses.
  EXPECT_EQ(Parsed("9223372036854775807ms"), Duration::max());
}

TEST(PolicyTest, FormatDurationUsesTheLargestExactUnitAndRoundTrips) {
  EXPECT_EQ(FormatDuration(Days(90)), "90d");
  EXPECT_EQ(FormatDuration(hours(36)), "36h");
  EXPECT_EQ(FormatDuration(minutes(15)), "15m");
  EXPECT_EQ(FormatDuration(seconds(30)), "30s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(Duration(0)), "0");
  EXPECT_EQ(FormatDuration(-Days(5)), "-5d");
  for (Duration d : {Duration(Days(90)), Duration(hours(36)), Duration(milliseconds(86'400'001)), Duration::max()}) {
    EXPECT_EQ(Parsed(FormatDuration(d)), d) << FormatDuration(d);
  }
}

TEST(PolicyTest, DefaultsAreValid) { EXPECT_TRUE(Policy().Validate().ok()); }

TEST(PolicyTest, ValidateNamesTheSettingThatIsWrong) {
  Policy p;
  p.rotate_after = -Days(1);
  Status s = p.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("rotate_after"), std::string::npos) << s.message();

  p = Policy();
  p.quiet_period = -hours(1);
  EXPECT_NE(p.Validate().message().find("quiet_period"), std::string::npos);

  p = Policy();
  p.force_after = -hours(1);
  EXPECT_NE(p.Validate().message().find("force_after"), std::string::npos);

  p = Policy();
  p.max_age = Days(10);  // equal to deactivate_after: the old key would outlive it
  s = p.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max_age"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("deactivate_after"), std::string::npos) << s.message();

  p.max_age = Days(11);
  EXPECT_TRUE(p.Validate().ok());
}

TEST(PolicyTest, RotationThresholdHonoursMaxAge) {
  Policy p;  // rotate_after 90d, deactivate_after 10d
  EXPECT_EQ(p.RotationThreshold(), Days(90));
  p.max_age = Days(80);  // must start by 70d so the old key is gone by 80d
  EXPECT_EQ(p.RotationThreshold(), Days(70));
  p.max_age = Days(365);  // looser than rotate_after: no effect
  EXPECT_EQ(p.RotationThreshold(), Days(90));
}

TEST(PolicyTest, ForcedDeactivationIsTheEarlierOfForceAfterAndMaxAge) {
  Policy p;  // force_after 30d
  TimePoint old_created = TimePoint() + Days(1000);
  TimePoint new_created = old_created + Days(90);
  EXPECT_EQ(p.ForcedDeactivationAt(new_created, old_created), new_created + Days(30));
  p.max_age = Days(100);  // old key reaches 100d ten days after its successor
  EXPECT_EQ(p.ForcedDeactivationAt(new_created, old_created), old_created + Days(100));
  p.max_age = Days(200);  // later than force_after: force_after wins
  EXPECT_EQ(p.ForcedDeactivationAt(new_created, old_created), new_created + Days(30));
}

}  // namespace
}  // namespace keyrotor::engine
