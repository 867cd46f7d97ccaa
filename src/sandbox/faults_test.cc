// Deliberate misbehaviour: injected faults never let the operation happen,
// a seed reproduces them, throttling follows a token bucket, latency is
// handed to the server.
#include "sandbox/faults.h"

#include <gtest/gtest.h>

#include <map>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::SandboxWorld;
using testing::XmlValue;

// What a client would observe: a reset, or a status and an error code.
std::string Outcome(testing::TestClient& client, const aws::HttpResponse& r) {
  if (client.last_control.reset_connection) return "reset";
  return std::to_string(r.status) + " " + ErrorCode(r);
}

TEST(SandboxFaultsTest, FailRateOneAlwaysFaultsAndNothingHappens) {
  SandboxWorld world([](SandboxOptions& o) { o.fail_rate = 1.0; });
  auto admin = world.AdminClient();
  std::map<std::string, int> kinds;
  for (int i = 0; i < 60; ++i) {
    auto r = admin.Iam("CreateUser", {{"UserName", "u" + std::to_string(i)}});
    std::string outcome = Outcome(admin, r);
    ++kinds[outcome];
    EXPECT_FALSE(world.sandbox->UserExists("u" + std::to_string(i))) << outcome;
    if (outcome == "500 ServiceFailure") {
      EXPECT_EQ(XmlValue(r.body, "Type"), "Receiver");
    }
  }
  // All three kinds show up, and nothing else.
  EXPECT_GT(kinds["500 ServiceFailure"], 0);
  EXPECT_GT(kinds["503 ServiceUnavailable"], 0);
  EXPECT_GT(kinds["reset"], 0);
  EXPECT_EQ(kinds["500 ServiceFailure"] + kinds["503 ServiceUnavailable"] + kinds["reset"], 60);
  EXPECT_EQ(world.sandbox->stats().faults_injected, 60u);
  EXPECT_EQ(world.sandbox->stats().requests, 60u);

  // JSON services fault in their own vocabulary, and nothing is stored either.
  auto ssm = admin.Ssm("PutParameter", {{"Name", "/p"}, {"Value", "v"}, {"Type", "String"}});
  EXPECT_TRUE(admin.last_control.reset_connection || ssm.status >= 500);
  EXPECT_FALSE(world.sandbox->ParameterValue("/p").has_value());
}

TEST(SandboxFaultsTest, SameSeedSameFaultSequence) {
  auto run = [](uint64_t seed) {
    SandboxWorld world([seed](SandboxOptions& o) {
      o.fail_rate = 0.5;
      o.seed = seed;
    });
    auto admin = world.AdminClient();
    std::vector<std::string> outcomes;
    for (int i = 0; i < 100; ++i) {
      auto r = admin.Sts("GetCallerIdentity");
      outcomes.push_back(Outcome(admin, r));
    }
    return outcomes;
  };
  auto a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  long successes = std::count(a.begin(), a.end(), "200 ");
  EXPECT_GT(successes, 25);
  EXPECT_LT(successes, 75);
}

TEST(SandboxFaultsTest, InjectorDrawsOncePerRequestWhateverTheThrottle) {
  // With a fixed seed the fault pattern depends only on the request count.
  FaultInjector plain(0.3, 0, 99), throttled(0.3, 1, 99);
  TimePoint t = testing::TestEpoch();
  for (int i = 0; i < 200; ++i) {
    auto p = plain.Decide(t).kind;
    auto q = throttled.Decide(t).kind;
    if (q != FaultDecision::Kind::kThrottled) {
      EXPECT_EQ(p, q) << i;
    }
  }
}

TEST(SandboxFaultsTest, ThrottlingIsATokenBucket) {
  SandboxWorld world([](SandboxOptions& o) { o.throttle_rps = 5; });
  auto admin = world.AdminClient();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(admin.Sts("GetCallerIdentity").status, 200) << i;
  auto throttled = admin.Iam("GetUser");
  EXPECT_EQ(throttled.status, 400);
  EXPECT_EQ(ErrorCode(throttled), "Throttling");
  EXPECT_EQ(testing::ErrorMessage(throttled), "Rate exceeded");
  auto json = admin.SecretsManager("DescribeSecret", {{"SecretId", "x"}});
  EXPECT_EQ(json.status, 400);
  EXPECT_EQ(ErrorCode(json), "ThrottlingException");
  world.clock.Advance(std::chrono::milliseconds(200));  // one token back
  EXPECT_EQ(admin.Sts("GetCallerIdentity").status, 200);
  EXPECT_EQ(ErrorCode(admin.Sts("GetCallerIdentity")), "Throttling");
  world.clock.Advance(std::chrono::seconds(10));  // refills only up to the burst
  for (int i = 0; i < 5; ++i) EXPECT_EQ(admin.Sts("GetCallerIdentity").status, 200) << i;
  EXPECT_EQ(ErrorCode(admin.Sts("GetCallerIdentity")), "Throttling");
  EXPECT_EQ(world.sandbox->stats().throttled, 4u);
  EXPECT_EQ(world.sandbox->stats().faults_injected, 0u);
}

TEST(SandboxFaultsTest, FractionalRateStillAllowsABurstOfOne) {
  SandboxWorld world([](SandboxOptions& o) { o.throttle_rps = 0.5; });
  auto admin = world.AdminClient();
  EXPECT_EQ(admin.Sts("GetCallerIdentity").status, 200);
  EXPECT_EQ(ErrorCode(admin.Sts("GetCallerIdentity")), "Throttling");
  world.clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(admin.Sts("GetCallerIdentity").status, 200);
}

TEST(SandboxFaultsTest, LatencyIsHandedToTheServer) {
  SandboxWorld world([](SandboxOptions& o) { o.latency_ms = 250; });
  auto admin = world.AdminClient();
  EXPECT_EQ(admin.Sts("GetCallerIdentity").status, 200);
  EXPECT_EQ(admin.last_control.delay, std::chrono::milliseconds(250));
  EXPECT_FALSE(admin.last_control.reset_connection);
  // Errors are delayed too.
  admin.As("AKIAAAAAAAAAAAAAAAAA", Secret("x"));
  EXPECT_EQ(ErrorCode(admin.Sts("GetCallerIdentity")), "InvalidClientTokenId");
  EXPECT_EQ(admin.last_control.delay, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace keyrotor::sandbox
