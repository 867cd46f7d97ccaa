// A soak run of the daemon: the loop `keyrotor daemon` runs (fleet::Daemon
// over a FleetRunner, the config loaded as the CLI loads it) with its
// schedule on a clock that runs 6 hours a second, against a `keyrotor
// sandbox` process injecting 10% faults. The runs themselves work in real
// time (SigV4 dates must be the wall clock's). Every scheduled run must
// rotate every user with no failure, and this process's memory must stay
// flat from run to run.
//
// The sandbox runs in its own process, so the resident set measured here is
// the daemon's alone. Its length is KEYROTOR_SOAK_SECONDS (default 40); for a
// long soak:
//   KEYROTOR_SOAK_SECONDS=1800 build/tests/keyrotor_tests --gtest_filter='DaemonSoak*'
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "cli/fleet.h"
#include "fleet/daemon.h"
#include "fleet/metrics.h"
#include "support/process.h"

namespace keyrotor {
namespace {

// Real time, `scale` times faster: Now() runs ahead from the start, sleeps
// shrink. The daemon's schedule runs on it; the runs do not.
class ScaledClock : public Clock {
 public:
  explicit ScaledClock(double scale) : scale_(scale), start_(Clock::Real()->Now()) {}
  TimePoint Now() override {
    auto real = Clock::Real()->Now() - start_;
    return start_ + std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(real) * scale_);
  }
  void SleepFor(Duration d) override {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(d) / scale_);
  }

 private:
  double scale_;
  TimePoint start_;
};

int SoakSeconds() {
  const char* text = std::getenv("KEYROTOR_SOAK_SECONDS");
  int seconds = text ? std::atoi(text) : 0;
  return seconds > 0 ? seconds : 40;
}

TEST(DaemonSoak, EveryScheduledRotationCompletesUnderFaultsAndMemoryStaysFlat) {
  constexpr int kUsers = 40;
  const int seconds = SoakSeconds();
  std::string dir = testing::MakeTempDir("keyrotor-soak");
  auto sandbox = testing::BackgroundProcess::Start(
      {testing::KeyrotorBinary(), "sandbox", "--listen", "127.0.0.1:0", "--fail-rate", "0.1", "--seed", "7",
       "--write-credentials", dir + "/credentials", "--admin-profile", "admin"},
      {});
  std::string listening = sandbox->WaitForLine("listening on");
  ASSERT_NE(listening, "");
  std::string endpoint = listening.substr(listening.find("http://"));
  while (!endpoint.empty() && std::isspace(static_cast<unsigned char>(endpoint.back()))) endpoint.pop_back();

  // As an operator would run it: the admin profile from the shared file, and
  // retries raised for a flaky network (10 attempts at 10% faults: a call
  // fails for good once in ten billion).
  EnvMap env = {{"AWS_SHARED_CREDENTIALS_FILE", dir + "/credentials"},
                {"AWS_CONFIG_FILE", dir + "/no-config"},
                {"AWS_PROFILE", "admin"},
                {"AWS_REGION", "us-east-1"},
                {"AWS_MAX_ATTEMPTS", "10"},
                {"AWS_EC2_METADATA_DISABLED", "true"},
                {"HOME", dir}};
  cli::GlobalFlags global;
  global.endpoint_url = endpoint;
  Result<aws::ClientFactory> admin = cli::BuildClientFactory(global, env, /*with_credentials=*/true);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto iam = admin->Iam();
  ASSERT_TRUE(iam.ok());
  for (int i = 0; i < kUsers; ++i) {
    std::string user = "soak-" + std::to_string(i);
    ASSERT_TRUE(iam->CreateUser(user).ok()) << user;
    ASSERT_TRUE(iam->CreateAccessKey(user).ok()) << user;
  }

  // rotate_after 0: every run finds every key due, so every run rotates all.
  std::string config = dir + "/keyrotor.toml";
  ASSERT_TRUE(AtomicWriteFile(config,
                              "state = \"" + dir + "/journal.db\"\nconcurrency = 8\nschedule = \"every 6h\"\n"
                              "[policy]\nrotate_after = \"0\"\n"
                              "[[selection]]\nuser_regex = \"^soak-\"\nmode = \"immediate\"\n"
                              "to = \"secretsmanager:soak/{user}\"\n",
                              {0600, false})
                  .ok());

  ScaledClock clock(6 * 3600);  // a 6-hour schedule fires every second
  fleet::FleetMetrics metrics(&clock);
  struct RunRecord {
    size_t users, completed, failed, failed_accounts;
    uint64_t rss;
  };
  std::vector<RunRecord> runs;
  std::atomic<bool> stop{false}, reload{false};
  fleet::DaemonOptions options;
  options.poll = std::chrono::minutes(30);  // 0.3 s of real time between looks at the flags
  options.on_run = [&](const fleet::RunSummary& s) {
    if (!s.ok()) std::printf("soak run %zu: %s\n", runs.size(), s.ToJson().dump().c_str());
    runs.push_back({s.users, s.results.count("completed") ? s.results.at("completed") : 0, s.failed_users,
                    s.failed_accounts(), fleet::ResidentBytes()});
  };
  fleet::Daemon daemon([&]() { return cli::LoadFleet(global, config, env); }, &clock, &metrics, options);
  std::thread timer([&] {
    for (int i = 0; i < seconds * 10 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.store(true);
  });
  Status served = daemon.Serve(stop, reload);
  stop.store(true);
  timer.join();
  ASSERT_TRUE(served.ok()) << served.ToString();

  ASSERT_GE(runs.size(), 8u) << "too few scheduled runs in " << seconds << " s to call it a soak";
  // The stop may land mid-run: that last run finishes its users, not all.
  size_t full_runs = runs.size() - 1;
  size_t rotations = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].failed, 0u) << "run " << i;
    EXPECT_EQ(runs[i].failed_accounts, 0u) << "run " << i;
    if (i < full_runs) {
      EXPECT_EQ(runs[i].completed, static_cast<size_t>(kUsers)) << "run " << i;
    }
    rotations += runs[i].completed;
  }

  // Memory: after a warm-up (caches, connection pools, the journal's pages),
  // the resident set may not climb with the number of runs. Under
  // AddressSanitizer the quarantine holds freed memory by design, so there
  // the leak checker at exit judges instead of the resident set.
  size_t warm = std::max<size_t>(3, runs.size() / 4);
  uint64_t base = runs[warm].rss, last = runs.back().rss;
  uint64_t peak = 0;
  for (const RunRecord& r : runs) peak = std::max(peak, r.rss);
  std::printf("soak: %zu runs in %d s, %zu rotations, 0 failed; RSS after run %zu %.1f MiB, at the end %.1f MiB, "
              "peak %.1f MiB\n",
              runs.size(), seconds, rotations, warm, base / 1048576.0, last / 1048576.0, peak / 1048576.0);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LE(last, base + base / 20 + (2u << 20))
      << "the resident set grew from " << base << " to " << last << " bytes over " << runs.size() - warm << " runs";
#endif

  // Every user ends with one key, the one its secret holds, and it works.
  auto secrets = admin->SecretsManager();
  ASSERT_TRUE(secrets.ok());
  aws::CurlTransport transport;
  for (int i = 0; i < kUsers; ++i) {
    std::string user = "soak-" + std::to_string(i);
    auto keys = iam->ListAccessKeys(user);
    ASSERT_TRUE(keys.ok()) << user;
    ASSERT_EQ(keys->size(), 1u) << user;
    auto held = secrets->GetSecretValue("soak/" + user);
    ASSERT_TRUE(held.ok()) << user;
    auto j = nlohmann::json::parse(held->secret_string.reveal());
    ASSERT_EQ(j["AccessKey"], (*keys)[0].access_key_id) << user;
    aws::ClientFactory as_user = admin->WithCredentials(std::make_shared<aws::StaticCredentialsProvider>(
        aws::Credentials{j["AccessKey"], Secret(j["SecretKey"].get<std::string>()), Secret(), std::nullopt, "soak"}));
    auto sts = as_user.Sts();
    ASSERT_TRUE(sts.ok() && sts->GetCallerIdentity().ok()) << user;
  }
  testing::ProcessResult stopped = sandbox->Stop();
  EXPECT_NE(stopped.out.find("faults injected"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor
