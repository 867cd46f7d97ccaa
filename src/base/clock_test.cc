#include "base/clock.h"

#include <gtest/gtest.h>

namespace keyrotor {
namespace {

TEST(ClockTest, ParsesIso8601AndAmzDate) {
  Result<TimePoint> t = ParseIso8601("2015-03-13T10:45:00Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatIso8601(*t), "2015-03-13T10:45:00Z");
  Result<TimePoint> amz = ParseAmzDate("20150830T123600Z");
  ASSERT_TRUE(amz.ok());
  EXPECT_EQ(FormatAmzDate(*amz), "20150830T123600Z");
}

// Found by fuzz/xml_response_fuzzer: a CreateDate of year 4052 overflowed the
// nanosecond TimePoint in from_time_t (signed overflow, UBSan). X-Amz-Date from
// the network reaches the same code in the sandbox.
TEST(ClockTest, YearsATimePointCannotHoldAreRejected) {
  EXPECT_FALSE(ParseIso8601("4052-11-22T19:19:26Z").ok());
  EXPECT_FALSE(ParseIso8601("2262-04-12T00:00:00Z").ok());
  EXPECT_FALSE(ParseAmzDate("99991231T235959Z").ok());
  Result<TimePoint> last = ParseIso8601("2261-12-31T23:59:59Z");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(FormatIso8601(*last), "2261-12-31T23:59:59Z");
}

TEST(ClockTest, NegativeFieldsAreRejected) {
  EXPECT_FALSE(ParseIso8601("2015-03-13T-1:45:00Z").ok());
  EXPECT_FALSE(ParseIso8601("2015-03-13T10:-5:00Z").ok());
  EXPECT_FALSE(ParseIso8601("2015-03-13T10:45:-1Z").ok());
}

}  // namespace
}  // namespace keyrotor
