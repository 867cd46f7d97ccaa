// `keyrotor lambda` (and the packaged `bootstrap`) against a fake Lambda
// Runtime API on loopback, with the sandbox as AWS.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/file_util.h"
#include "net/http_server.h"
#include "sandbox/server.h"
#include "support/fake_runtime_api.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using testing::FakeRuntimeApi;

class LambdaRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSandbox({}); }
  void StartSandbox(const sandbox::SandboxOptions& options) {
    if (sandbox_) sandbox_->Stop();
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok());
    sandbox_ = std::move(server).value();
    admin_ = sandbox_->sandbox().CreateAdmin("lambda-role");
    if (dir_.empty()) dir_ = testing::MakeTempDir("keyrotor-lambda");
  }
  void TearDown() override {
    sandbox_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // The function's environment, as Lambda sets it (credentials of the
  // execution role in the environment).
  std::map<std::string, std::string> Env(const FakeRuntimeApi& api) {
    return {{"AWS_LAMBDA_RUNTIME_API", api.api()},
            {"AWS_ACCESS_KEY_ID", admin_.access_key_id},
            {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
            {"AWS_REGION", "us-east-1"},
            {"AWS_ENDPOINT_URL", sandbox_->endpoint()},
            {"KEYROTOR_STATE", dir_ + "/journal.db"},
            {"HOME", dir_}};
  }

  std::unique_ptr<sandbox::SandboxServer> sandbox_;
  sandbox::Sandbox::IssuedKey admin_;
  std::string dir_;
};

TEST_F(LambdaRuntimeTest, ServesClassicEventsAndReportsBadOnesAsErrors) {
  auto old_key = sandbox_->sandbox().CreateUserWithKey("app", Clock::Real()->Now() - std::chrono::hours(24 * 100));
  ASSERT_TRUE(old_key.ok());
  // The secret holds the current key, as in the classic flow.
  aws::CurlTransport transport;
  auto admin = testing::SandboxClients(sandbox_->endpoint(), &transport, admin_.access_key_id, admin_.secret);
  nlohmann::json seed = {{"AccessKey", old_key->access_key_id}, {"SecretKey", old_key->secret.reveal()}};
  ASSERT_TRUE(admin.SecretsManager()->CreateSecret("app", Secret(seed.dump()), RandomUuid()).ok());
  FakeRuntimeApi api;
  api.Queue("req-1", R"({"action": "create", "username": "app"})");
  api.Queue("req-2", R"({"action": "explode"})");
  api.Queue("req-3", R"({"action": "deactivate", "username": "app"})");
  auto env = Env(api);
  env["KEYROTOR_SNS_TOPIC"] = "";
  testing::ProcessResult r =
      testing::RunProcess({testing::KeyrotorBinary(), "lambda", "--max-invocations", "3"}, env, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 3u);
  EXPECT_EQ(posted[0].path, "/2018-06-01/runtime/invocation/req-1/response");
  auto created = nlohmann::json::parse(posted[0].body);
  EXPECT_EQ(created["result"], "progressed");
  std::string new_key = created["new_access_key_id"];
  auto held = sandbox_->sandbox().SecretValue("app");
  ASSERT_TRUE(held);
  EXPECT_NE(held->reveal().find(new_key), std::string::npos);

  EXPECT_EQ(posted[1].path, "/2018-06-01/runtime/invocation/req-2/error");
  EXPECT_EQ(posted[1].error_type_header, "Unhandled");
  EXPECT_EQ(nlohmann::json::parse(posted[1].body)["errorType"], "keyrotor.InvalidEvent");

  EXPECT_EQ(posted[2].path, "/2018-06-01/runtime/invocation/req-3/response");
  EXPECT_FALSE(sandbox_->sandbox().GetKey(old_key->access_key_id)->active);

  for (const std::string& secret : {admin_.secret.reveal(), old_key->secret.reveal()}) {
    EXPECT_EQ((r.out + r.err).find(secret), std::string::npos);
    for (const auto& p : posted) EXPECT_EQ(p.body.find(secret), std::string::npos);
  }
}

TEST_F(LambdaRuntimeTest, SetUpFailureGoesToInitError) {
  FakeRuntimeApi api;
  auto env = Env(api);
  env["KEYROTOR_STATE"] = "/proc/no/such/dir/journal.db";
  testing::ProcessResult r = testing::RunProcess({testing::KeyrotorBinary(), "lambda"}, env, 60);
  EXPECT_NE(r.exit_code, 0);
  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].path, "/2018-06-01/runtime/init/error");
}

// The deployment package holds an executable `bootstrap` that is keyrotor
// and, run by that name without arguments, is the runtime.
TEST_F(LambdaRuntimeTest, PackageHoldsAnExecutableBootstrap) {
  testing::ProcessResult listing = testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import sys, zipfile\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "for i in z.infolist(): print(i.filename, oct((i.external_attr >> 16) & 0o777))\n",
       KEYROTOR_LAMBDA_ZIP},
      {});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_NE(listing.out.find("bootstrap 0o7"), std::string::npos) << listing.out;

  std::string unpacked = dir_ + "/task";
  std::filesystem::create_directories(unpacked);
  testing::ProcessResult unzip = testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import os, sys, zipfile\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "for i in z.infolist():\n"
       "  p = z.extract(i, sys.argv[2]); os.chmod(p, (i.external_attr >> 16) & 0o777)\n",
       KEYROTOR_LAMBDA_ZIP, unpacked},
      {});
  ASSERT_EQ(unzip.exit_code, 0) << unzip.err;
  FakeRuntimeApi api;
  api.Queue("req-9", R"({"action": "delete", "username": "nobody-here"})");
  testing::ProcessResult r = testing::RunProcess({unpacked + "/bootstrap"}, Env(api), 60);
  // The queue ran dry, so the runtime API answered 500 and the loop ended.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_NE(posted[0].path.find("req-9"), std::string::npos);
}

// An EventBridge scheduled event is one `run` over the fleet config bundled
// beside bootstrap ($LAMBDA_TASK_ROOT/keyrotor.toml); a run that would
// outlast the invocation stops starting users before the deadline, and the
// next scheduled event finishes the rest.
TEST_F(LambdaRuntimeTest, ScheduledEventsRunTheBundledFleetConfigWithinTheDeadline) {
  constexpr int kUsers = 24;
  sandbox::SandboxOptions slow;
  slow.latency_ms = 100;
  StartSandbox(slow);
  std::vector<std::string> secrets = {admin_.secret.reveal()};
  for (int i = 0; i < kUsers; ++i) {
    auto key = sandbox_->sandbox().CreateUserWithKey("svc-" + std::to_string(i),
                                                     Clock::Real()->Now() - std::chrono::hours(24 * 100));
    ASSERT_TRUE(key.ok());
    secrets.push_back(key->secret.reveal());
  }
  std::string task_root = dir_ + "/task";
  std::filesystem::create_directories(task_root);
  ASSERT_TRUE(AtomicWriteFile(task_root + "/keyrotor.toml",
                              "concurrency = 2\n[[selection]]\nuser_regex = \"^svc-\"\nmode = \"immediate\"\n"
                              "to = \"secretsmanager:keys/{user}\"\n",
                              {0600, false})
                  .ok());
  FakeRuntimeApi api;
  const std::string scheduled =
      R"({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",)"
      R"( "source": "aws.events", "account": "123456789012", "time": "2026-12-01T03:00:00Z",)"
      R"( "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/keyrotor"], "detail": {}})";
  // Four seconds to live: the run stops starting users after three.
  auto soon = std::chrono::duration_cast<std::chrono::milliseconds>(
      (Clock::Real()->Now() + std::chrono::seconds(4)).time_since_epoch());
  api.Queue("req-short", scheduled, std::to_string(soon.count()));
  api.Queue("req-rest", scheduled);
  api.Queue("req-manual", R"({"action": "run"})");
  auto env = Env(api);
  env["LAMBDA_TASK_ROOT"] = task_root;
  testing::ProcessResult r = testing::RunProcess({testing::KeyrotorBinary(), "lambda", "--max-invocations", "3"},
                                                 env, 240);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 3u);
  ASSERT_EQ(posted[0].path, "/2018-06-01/runtime/invocation/req-short/response") << posted[0].body;
  auto first = nlohmann::json::parse(posted[0].body)["summary"];
  EXPECT_EQ(first["interrupted"], true) << first.dump();
  EXPECT_GT(first["not_started"].get<int>(), 0) << first.dump();
  int done_first = first["results"].value("completed", 0);
  EXPECT_GT(done_first, 0) << first.dump();

  ASSERT_EQ(posted[1].path, "/2018-06-01/runtime/invocation/req-rest/response") << posted[1].body;
  auto second = nlohmann::json::parse(posted[1].body)["summary"];
  EXPECT_EQ(second["interrupted"], false);
  EXPECT_EQ(second["results"]["completed"].get<int>(), kUsers - done_first) << second.dump();

  // Nothing is due any more: the manual run finds every key fresh.
  ASSERT_EQ(posted[2].path, "/2018-06-01/runtime/invocation/req-manual/response") << posted[2].body;
  EXPECT_EQ(nlohmann::json::parse(posted[2].body)["summary"]["results"]["not_due"], kUsers);

  for (int i = 0; i < kUsers; ++i) {
    std::string user = "svc-" + std::to_string(i);
    auto keys = sandbox_->sandbox().ListKeys(user);
    ASSERT_EQ(keys.size(), 1u) << user;
    auto held = sandbox_->sandbox().SecretValue("keys/" + user);
    ASSERT_TRUE(held) << user;
    auto j = nlohmann::json::parse(held->reveal());
    EXPECT_EQ(j["AccessKey"], keys[0].access_key_id) << user;
    secrets.push_back(j["SecretKey"]);
  }
  for (const std::string& secret : secrets) {
    ASSERT_EQ((r.out + r.err).find(secret), std::string::npos);
    for (const auto& p : posted) ASSERT_EQ(p.body.find(secret), std::string::npos);
  }
}

// A scheduled event without a fleet config is an error Lambda records; a
// broken bundled config fails the init, before any event.
TEST_F(LambdaRuntimeTest, ScheduledEventsNeedAFleetConfigAndABrokenOneFailsTheInit) {
  FakeRuntimeApi api;
  api.Queue("req-1", R"({"source": "aws.events", "detail-type": "Scheduled Event"})");
  testing::ProcessResult r =
      testing::RunProcess({testing::KeyrotorBinary(), "lambda", "--max-invocations", "1"}, Env(api), 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].path, "/2018-06-01/runtime/invocation/req-1/error");
  EXPECT_NE(nlohmann::json::parse(posted[0].body)["errorMessage"].get<std::string>().find("KEYROTOR_CONFIG"),
            std::string::npos);

  FakeRuntimeApi broken_api;
  auto env = Env(broken_api);
  env["KEYROTOR_CONFIG"] = dir_ + "/keyrotor.toml";
  ASSERT_TRUE(AtomicWriteFile(env["KEYROTOR_CONFIG"], "concurrency = \"many\"\n", {0600, false}).ok());
  testing::ProcessResult b = testing::RunProcess({testing::KeyrotorBinary(), "lambda"}, env, 60);
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("keyrotor.toml:1: concurrency"), std::string::npos) << b.err;
  auto init = broken_api.posted();
  ASSERT_EQ(init.size(), 1u);
  EXPECT_EQ(init[0].path, "/2018-06-01/runtime/init/error");
}

}  // namespace
}  // namespace keyrotor

namespace keyrotor {
namespace {

// An AWS Health event about an exposed key, delivered by EventBridge to the
// function: the response rotates the key into the bundled config's
// destination and retires the exposed one; a second event for the same key
// joins it; a malformed one is an error and changes nothing.
TEST_F(LambdaRuntimeTest, HealthEventsAboutAnExposedKeyAreAnswered) {
  auto exposed = sandbox_->sandbox().CreateUserWithKey("ci-bot", Clock::Real()->Now() - std::chrono::hours(24 * 3));
  ASSERT_TRUE(exposed.ok());
  Result<std::string> event = sandbox_->sandbox().ExposeKey(exposed->access_key_id);
  ASSERT_TRUE(event.ok());
  std::string task_root = dir_ + "/task";
  std::filesystem::create_directories(task_root);
  ASSERT_TRUE(AtomicWriteFile(task_root + "/keyrotor.toml",
                              "[[selection]]\nusers = [\"ci-bot\"]\nto = \"secretsmanager:ci/{user}\"\n",
                              {0600, false})
                  .ok());
  nlohmann::json broken = nlohmann::json::parse(*event);
  broken["detail"]["eventTypeCode"] = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED";
  FakeRuntimeApi api;
  api.Queue("req-health", *event);
  api.Queue("req-again", *event);
  api.Queue("req-broken", broken.dump());
  auto env = Env(api);
  env["LAMBDA_TASK_ROOT"] = task_root;
  testing::ProcessResult r =
      testing::RunProcess({testing::KeyrotorBinary(), "lambda", "--max-invocations", "3"}, env, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 3u);
  ASSERT_EQ(posted[0].path, "/2018-06-01/runtime/invocation/req-health/response") << posted[0].body;
  nlohmann::json first = nlohmann::json::parse(posted[0].body);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["access_key_id"], exposed->access_key_id);
  EXPECT_EQ(first[0]["state"], "old_deactivated");
  EXPECT_EQ(first[0]["selection"], 0);
  std::string new_key = first[0]["new_access_key_id"];
  auto held = sandbox_->sandbox().SecretValue("ci/ci-bot");
  ASSERT_TRUE(held);
  EXPECT_NE(held->reveal().find(new_key), std::string::npos);
  EXPECT_FALSE(sandbox_->sandbox().GetKey(exposed->access_key_id)->active);

  ASSERT_EQ(posted[1].path, "/2018-06-01/runtime/invocation/req-again/response") << posted[1].body;
  EXPECT_EQ(nlohmann::json::parse(posted[1].body)[0]["rotation_id"], first[0]["rotation_id"]);
  EXPECT_EQ(sandbox_->sandbox().KeyCount("ci-bot"), 2u);

  ASSERT_EQ(posted[2].path, "/2018-06-01/runtime/invocation/req-broken/error");
  EXPECT_EQ(nlohmann::json::parse(posted[2].body)["errorType"], "keyrotor.InvalidEvent");
  EXPECT_NE(posted[2].body.find("eventTypeCode"), std::string::npos);

  std::string secret = nlohmann::json::parse(held->reveal())["SecretKey"];
  for (const std::string& s : {admin_.secret.reveal(), exposed->secret.reveal(), secret}) {
    EXPECT_EQ((r.out + r.err).find(s), std::string::npos);
    for (const auto& p : posted) EXPECT_EQ(p.body.find(s), std::string::npos);
  }
}

}  // namespace
}  // namespace keyrotor
