#include "credentials/caching_provider.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace keyrotor::credentials {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kStart = TimePoint() + std::chrono::hours(24 * 365 * 50);

// Counts calls; each returns credentials expiring `lifetime` after the clock's
// now (or never), or fails while `fail` is set.
class CountingProvider : public aws::CredentialsProvider {
 public:
  CountingProvider(Clock* clock, std::optional<Duration> lifetime) : clock_(clock), lifetime_(lifetime) {}
  Result<aws::Credentials> GetCredentials() override {
    int n = ++calls;
    if (sleep.count() > 0) std::this_thread::sleep_for(sleep);
    if (fail) return Status::NetworkError("counting provider: STS unreachable");
    aws::Credentials c;
    c.access_key_id = "ASIA" + std::to_string(n);
    c.secret_access_key = Secret("secret-" + std::to_string(n));
    if (lifetime_) c.expiration = clock_->Now() + *lifetime_;
    return c;
  }
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  std::chrono::milliseconds sleep{0};

 private:
  Clock* clock_;
  std::optional<Duration> lifetime_;
};

TEST(CachingProviderTest, RefreshesOnlyWithinTheMargin) {
  FakeClock clock(kStart);
  auto inner = std::make_shared<CountingProvider>(&clock, minutes(60));
  CachingCredentialsProvider cache(inner, {.refresh_margin = minutes(5), .clock = &clock});
  auto a = cache.GetCredentials();
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->access_key_id, "ASIA1");
  clock.Advance(minutes(54));
  EXPECT_EQ(cache.GetCredentials()->access_key_id, "ASIA1");
  EXPECT_EQ(inner->calls, 1);
  clock.Advance(minutes(1) + seconds(1));  // 4:59 before expiry
  EXPECT_EQ(cache.GetCredentials()->access_key_id, "ASIA2");
  EXPECT_EQ(inner->calls, 2);
}

TEST(CachingProviderTest, ShortLivedCredentialsAreRefreshedAtHalfTheirLife) {
  FakeClock clock(kStart);
  auto inner = std::make_shared<CountingProvider>(&clock, minutes(4));
  CachingCredentialsProvider cache(inner, {.refresh_margin = minutes(5), .clock = &clock});
  ASSERT_TRUE(cache.GetCredentials().ok());
  ASSERT_TRUE(cache.GetCredentials().ok());
  clock.Advance(minutes(1));
  EXPECT_EQ(cache.GetCredentials()->access_key_id, "ASIA1");
  EXPECT_EQ(inner->calls, 1);
  clock.Advance(minutes(1));
  EXPECT_EQ(cache.GetCredentials()->access_key_id, "ASIA2");
}

TEST(CachingProviderTest, NeverExpiringCredentialsAreFetchedOnce) {
  FakeClock clock(kStart);
  auto inner = std::make_shared<CountingProvider>(&clock, std::nullopt);
  CachingCredentialsProvider cache(inner, {.clock = &clock});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cache.GetCredentials().ok());
    clock.Advance(std::chrono::hours(24 * 400));
  }
  EXPECT_EQ(inner->calls, 1);
}

TEST(CachingProviderTest, FailedRefreshKeepsStillValidCredentialsAndRetries) {
  FakeClock clock(kStart);
  auto inner = std::make_shared<CountingProvider>(&clock, minutes(60));
  CachingCredentialsProvider cache(inner, {.refresh_margin = minutes(5), .clock = &clock});
  ASSERT_TRUE(cache.GetCredentials().ok());
  clock.Advance(minutes(57));
  inner->fail = true;
  auto stale = cache.GetCredentials();
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->access_key_id, "ASIA1");
  EXPECT_EQ(inner->calls, 2);
  auto again = cache.GetCredentials();  // retried, not remembered as failed
  EXPECT_EQ(inner->calls, 3);
  clock.Advance(minutes(4));  // now expired
  auto expired = cache.GetCredentials();
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("counting provider"), std::string::npos);
  inner->fail = false;
  auto fresh = cache.GetCredentials();
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->access_key_id, "ASIA5");
}

TEST(CachingProviderTest, FirstFetchFailureIsReported) {
  FakeClock clock(kStart);
  auto inner = std::make_shared<CountingProvider>(&clock, minutes(60));
  inner->fail = true;
  CachingCredentialsProvider cache(inner, {.clock = &clock});
  EXPECT_FALSE(cache.GetCredentials().ok());
  EXPECT_FALSE(cache.GetCredentials().ok());
  EXPECT_EQ(inner->calls, 2);
}

TEST(CachingProviderTest, SixteenThreadsShareOneRefresh) {
  // The real clock: FakeClock is not meant to be advanced across threads,
  // and only reads happen here.
  auto inner = std::make_shared<CountingProvider>(Clock::Real(), minutes(60));
  inner->sleep = std::chrono::milliseconds(200);
  CachingCredentialsProvider cache(inner, {.clock = Clock::Real()});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto c = cache.GetCredentials();
      if (c.ok() && c->access_key_id == "ASIA1") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 16);
  EXPECT_EQ(inner->calls, 1);
}

TEST(CachingProviderTest, ConcurrentCallersShareAFailedRefresh) {
  auto inner = std::make_shared<CountingProvider>(Clock::Real(), minutes(60));
  inner->sleep = std::chrono::milliseconds(200);
  inner->fail = true;
  CachingCredentialsProvider cache(inner, {.clock = Clock::Real()});
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      if (!cache.GetCredentials().ok()) ++failed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 16);
  // Threads that arrived during a refresh took its outcome; a straggler that
  // arrived after it ended may have started one more.
  EXPECT_LE(inner->calls, 3);
}

}  // namespace
}  // namespace keyrotor::credentials
