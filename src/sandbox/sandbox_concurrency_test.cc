// Handle() from many threads at once: no lost updates, the two-key limit
// holds under a race, and signed requests go through at thousands per second.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::SandboxWorld;

TEST(SandboxConcurrencyTest, ManyThreadsManyRequests) {
  SandboxOptions options;  // the real clock: signing times must be current
  Sandbox sandbox(options);
  Sandbox::IssuedKey admin = sandbox.CreateAdmin("admin");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  std::atomic<int> ok{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      testing::TestClient client(sandbox, Clock::Real());
      client.As(admin);
      for (int i = 0; i < kPerThread; ++i) {
        auto r = i % 2 ? client.Sts("GetCallerIdentity")
                       : client.Iam("CreateUser", {{"UserName", "u" + std::to_string(t) + "-" + std::to_string(i)}});
        if (r.status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(sandbox.stats().requests, static_cast<uint64_t>(kThreads * kPerThread));
  // Every CreateUser landed.
  int users = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; i += 2)
      users += sandbox.UserExists("u" + std::to_string(t) + "-" + std::to_string(i));
  }
  EXPECT_EQ(users, kThreads * kPerThread / 2);
  std::printf("sandbox: %d signed requests in %.3f s = %.0f req/s\n", kThreads * kPerThread, seconds,
              kThreads * kPerThread / seconds);
}

TEST(SandboxConcurrencyTest, TwoKeyLimitHoldsUnderARace) {
  SandboxWorld world;
  ASSERT_TRUE(world.sandbox->CreateUserWithKey("bob").ok());
  std::atomic<int> created{0}, limited{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto client = world.AdminClient();
      auto r = client.Iam("CreateAccessKey", {{"UserName", "bob"}});
      if (r.status == 200) created.fetch_add(1);
      if (testing::ErrorCode(r) == "LimitExceeded") limited.fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(limited.load(), 7);
  EXPECT_EQ(world.sandbox->KeyCount("bob"), 2u);
}

}  // namespace
}  // namespace keyrotor::sandbox
