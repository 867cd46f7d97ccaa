// Crash safety of `keyrotor rotate`, end to end: a real keyrotor process is
// SIGKILLed at every journal step (before and after each Save, which brackets
// every side effect) and at random instants, then run again until the
// rotation finishes; the invariants are checked against the sandbox, the
// destinations and the journal's bytes.
//
// KEYROTOR_CRASH_TRIALS sets the number of random-instant trials (default 12
// here; `scripts/reliability` runs the full count of 1,000) and
// KEYROTOR_CRASH_SEED the seed of their random instants.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "credentials/profile_writer.h"
#include "destinations/vault.h"
#include "sandbox/server.h"
#include "support/fake_github.h"
#include "support/fake_gitlab.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

int TrialCount(int fallback) {
  const char* v = std::getenv("KEYROTOR_CRASH_TRIALS");
  return v ? std::max(0, std::atoi(v)) : fallback;
}

class RotateCrashTest : public ::testing::Test {
 protected:
  void Start(double fail_rate, int consistency_ms = 300, double throttle_rps = 0) {
    sandbox::SandboxOptions options;
    options.fail_rate = fail_rate;
    options.throttle_rps = throttle_rps;
    options.consistency_ms = consistency_ms;
    options.seed = 7;
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("admin");
    dir_ = testing::MakeTempDir("keyrotor-crash");
    secrets_.push_back(admin_.secret.reveal());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  sandbox::Sandbox& sb() { return server_->sandbox(); }

  std::map<std::string, std::string> Env() {
    return {{"AWS_ACCESS_KEY_ID", admin_.access_key_id},
            {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
            {"AWS_REGION", "us-east-1"},
            {"HOME", dir_},
            {"AWS_CONFIG_FILE", dir_ + "/no-config"},
            {"AWS_SHARED_CREDENTIALS_FILE", dir_ + "/no-credentials"},
            {"AWS_EC2_METADATA_DISABLED", "true"}};
  }

  std::string CredentialsFile() { return dir_ + "/app-credentials"; }

  // A user whose 100-day-old key sits in the app's credentials file.
  std::string NewUser(const std::string& user) {
    auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * 100));
    EXPECT_TRUE(key.ok());
    EXPECT_TRUE(credentials::WriteProfile(CredentialsFile(), user, key->access_key_id, key->secret).ok());
    secrets_.push_back(key->secret.reveal());
    return key->access_key_id;
  }

  std::vector<std::string> RotateArgv(const std::string& user, const std::string& mode) {
    return {testing::KeyrotorBinary(),
            "rotate",
            "--user",
            user,
            "--mode",
            mode,
            "--deactivate-after",
            "0",
            "--delete-after",
            "0",
            "--state",
            dir_ + "/journal.db",
            "--to",
            "secretsmanager:crash/{user}",
            "--to",
            "credentials-file:" + CredentialsFile() + "#{user}",
            "--to",
            "vault:" + dir_ + "/vault#{user}",
            "--endpoint-url",
            server_->endpoint(),
            "--verify-timeout",
            "30s",
            "--orphan-settle-ms",
            "0",
            "--json"};
  }

  // Runs `rotate` until it reports the rotation complete (faults may need a
  // few runs). Returns false when it never does.
  bool RunToCompletion(const std::string& user, const std::string& mode) {
    for (int run = 0; run < 8; ++run) {
      testing::ProcessResult r = testing::RunProcess(RotateArgv(user, mode), Env(), 120);
      outputs_ += r.out + r.err;
      // Finished: this run completed the rotation, or an earlier (killed) run
      // had, and the fresh key is not due.
      if (r.out.find("\"result\":\"completed\"") != std::string::npos) return true;
      if (r.out.find("\"result\":\"not_due\",\"rotation_id\":\"\"") != std::string::npos) return true;
      // A rotation abandoned (rolled back) on a fault: the next run starts a new one.
    }
    return false;
  }

  // Everything that must hold once a user's rotation has finished.
  void CheckInvariants(const std::string& user, const std::string& old_key_id, const std::string& trial) {
    SCOPED_TRACE(trial);
    auto keys = sb().ListKeys(user);
    ASSERT_EQ(keys.size(), 1u) << "exactly one key: no orphan, old key gone";
    EXPECT_TRUE(keys[0].active);
    EXPECT_NE(keys[0].access_key_id, old_key_id);
    const std::string& key_id = keys[0].access_key_id;

    std::optional<Secret> sm = sb().SecretValue("crash/" + user);
    ASSERT_TRUE(sm) << "Secrets Manager holds the key";
    nlohmann::json j = nlohmann::json::parse(sm->reveal());
    EXPECT_EQ(j["AccessKey"], key_id);
    Secret secret(j["SecretKey"].get<std::string>());
    secrets_.push_back(secret.reveal());

    auto file = credentials::IniFile::Load(CredentialsFile());
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(file->Get(user, "aws_access_key_id").value_or(""), key_id);
    EXPECT_EQ(file->Get(user, "aws_secret_access_key").value_or(""), secret.reveal());

    auto vault = destinations::Vault::Open(dir_ + "/vault");
    ASSERT_TRUE(vault.ok());
    auto entry = vault->Get(user);
    ASSERT_TRUE(entry.ok()) << entry.status().ToString();
    EXPECT_EQ(entry->access_key_id, key_id);
    EXPECT_EQ(entry->secret_access_key.reveal(), secret.reveal());

    // The key the destinations hold works.
    auto clients = testing::SandboxClients(server_->endpoint(), &transport_, key_id, secret, 5);
    auto who = clients.Sts()->GetCallerIdentity();
    EXPECT_TRUE(who.ok()) << who.status().ToString();
  }

  // No secret in the journal's bytes, the audit trail or any output.
  void CheckNoSecretLeaked() {
    testing::ProcessResult history =
        testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", dir_ + "/journal.db"}, Env());
    EXPECT_EQ(history.exit_code, 0) << history.err;
    EXPECT_NE(history.out.find("create_key"), std::string::npos);
    std::string journal_bytes;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      Result<std::string> b = ReadFile(dir_ + "/journal.db" + suffix);
      if (b.ok()) journal_bytes += *b;
    }
    ASSERT_FALSE(journal_bytes.empty());
    for (const std::string& s : secrets_) {
      EXPECT_EQ(journal_bytes.find(s), std::string::npos) << "a secret in the journal";
      EXPECT_EQ(history.out.find(s), std::string::npos) << "a secret in the audit trail";
      EXPECT_EQ(outputs_.find(s), std::string::npos) << "a secret in keyrotor's output";
    }
  }

  // No double rotation: for each user, the only key ever retired (deleted as
  // the old key) is the one it started with. A second rotation would retire
  // the first one's new key too.
  void CheckRotatedOnce(const std::map<std::string, std::string>& old_keys) {
    testing::ProcessResult history =
        testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", dir_ + "/journal.db"}, Env());
    ASSERT_EQ(history.exit_code, 0) << history.err;
    std::map<std::string, std::set<std::string>> retired;
    std::istringstream lines(history.out);
    for (std::string line; std::getline(lines, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j["action"] != "delete_old" || j["outcome"] != "ok") continue;
      retired[j["user"].get<std::string>()].insert(j.value("access_key_id", ""));
    }
    for (const auto& [user, old_key] : old_keys) {
      EXPECT_EQ(retired[user], std::set<std::string>{old_key})
          << user << ": the audit trail must show its original key retired, and only that one";
    }
  }

  // `keyrotor respond` to AWS's Health event about `user`'s key, into the
  // same destinations as RotateArgv; the exposed key deleted at once.
  std::string ExposeAndWriteEvent(const std::string& user, const std::string& key_id) {
    std::string file = dir_ + "/" + user + ".event.json";
    EXPECT_TRUE(AtomicWriteFile(file, sb().ExposeKey(key_id).value(), {0600, false}).ok());
    return file;
  }
  std::vector<std::string> RespondArgv(const std::string& event_file, const std::string& order) {
    return {testing::KeyrotorBinary(), "respond", "--event", event_file, "--on-exposure", order,
            "--exposed-delete-after", "0", "--state", dir_ + "/journal.db", "--to",
            "secretsmanager:crash/{user}", "--to", "credentials-file:" + CredentialsFile() + "#{user}", "--to",
            "vault:" + dir_ + "/vault#{user}", "--endpoint-url", server_->endpoint(), "--verify-timeout", "30s",
            "--orphan-settle-ms", "0", "--json"};
  }
  // Replays the event until a run finishes the response (or finds the key
  // already gone: an earlier, killed run finished it).
  bool RespondToCompletion(const std::string& event_file, const std::string& order) {
    for (int run = 0; run < 8; ++run) {
      testing::ProcessResult r = testing::RunProcess(RespondArgv(event_file, order), Env(), 120);
      outputs_ += r.out + r.err;
      if (r.out.find("\"result\":\"completed\"") != std::string::npos) return true;
      if (r.out.find("does not exist") != std::string::npos) return true;
    }
    return false;
  }

  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  std::string dir_;
  aws::CurlTransport transport_;
  std::vector<std::string> secrets_;
  std::string outputs_;
};

// Kills the process right before and right after every journal Save, for both
// flows, then finishes the job with a plain rerun.
TEST_F(RotateCrashTest, KilledAtEveryJournalStepTheRerunFinishesTheJob) {
  Start(/*fail_rate=*/0);
  int trials = 0, killed = 0;
  for (const std::string mode : {"staged", "immediate"}) {
    for (int n = 1; n <= 16; ++n) {
      for (const char* when : {"before-save:", "after-save:"}) {
        std::string user = "crash-" + mode + "-" + std::to_string(n) + "-" + std::string(when).substr(0, 5);
        std::string old_key = NewUser(user);
        auto env = Env();
        env["KEYROTOR_CRASH_POINT"] = when + std::to_string(n);
        testing::ProcessResult r = testing::RunProcess(RotateArgv(user, mode), env, 120);
        outputs_ += r.out + r.err;
        ++trials;
        if (r.exit_code == -1) ++killed;
        ASSERT_TRUE(RunToCompletion(user, mode)) << user << ": " << outputs_.substr(outputs_.size() > 2000 ? outputs_.size() - 2000 : 0);
        CheckInvariants(user, old_key, user);
      }
    }
  }
  // A staged rotation saves 13 times and an immediate one 11: most points kill.
  EXPECT_GE(killed, 2 * 20) << "too few kill points were reached";
  CheckNoSecretLeaked();
  std::printf("[ crash ] %d deterministic trials, %d killed mid-run, %s\n", trials, killed,
              HasFailure() ? "INVARIANT VIOLATIONS (see above)" : "0 invariant violations");
}

// SIGKILL at random instants, with IAM eventual consistency and 10% faults.
// Each trial starts two runners on the same user and journal at once, kills
// one of them at a random instant (the other races it to the user's lock),
// then reruns until the rotation is finished. Beside the invariants, the
// user was rotated once: only its original key was ever retired.
TEST_F(RotateCrashTest, KilledAtRandomInstantsWithFaultsTheRerunFinishesTheJob) {
  Start(/*fail_rate=*/0.1);
  const char* seed = std::getenv("KEYROTOR_CRASH_SEED");  // to run the full count in independent chunks
  std::mt19937 rng(seed ? static_cast<unsigned>(std::strtoul(seed, nullptr, 10)) : 20261125u);
  int trials = TrialCount(12);
  int killed_mid_run = 0;
  std::map<std::string, std::string> old_keys;
  for (int t = 0; t < trials; ++t) {
    std::string mode = t % 2 ? "immediate" : "staged";
    std::string user = "random-" + std::to_string(t);
    std::string old_key = NewUser(user);
    old_keys[user] = old_key;
    std::unique_ptr<testing::BackgroundProcess> runners[2] = {
        testing::BackgroundProcess::Start(RotateArgv(user, mode), Env()),
        testing::BackgroundProcess::Start(RotateArgv(user, mode), Env())};
    int victim = std::uniform_int_distribution<int>(0, 1)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 900)(rng)));
    ::kill(runners[victim]->pid(), SIGKILL);
    testing::ProcessResult killed = runners[victim]->Stop();
    outputs_ += killed.out + killed.err;
    if (killed.out.find("\"result\"") == std::string::npos) ++killed_mid_run;
    runners[1 - victim]->WaitForLine("\"result\"", 120);
    testing::ProcessResult survivor = runners[1 - victim]->Stop();
    outputs_ += survivor.out + survivor.err;
    ASSERT_TRUE(RunToCompletion(user, mode)) << user;
    CheckInvariants(user, old_key, user);
  }
  CheckRotatedOnce(old_keys);
  CheckNoSecretLeaked();
  std::printf("[ crash ] %d random-instant trials with 10%% faults and two runners each, %d killed mid-run, %s\n",
              trials, killed_mid_run, HasFailure() ? "INVARIANT VIOLATIONS (see above)" : "0 invariant violations");
}

// `keyrotor profiles rotate` runs through the same engine and journal: SIGKILL
// at random instants (10% faults, IAM eventual consistency), then rerun until
// a run rotates every profile. Afterwards each user has exactly one active key
// (no orphan: a key whose secret was lost would be a second active one), the
// file holds it and it works, --remove leaves no other key, and no secret is
// in the journal, the audit trail or any output.
TEST_F(RotateCrashTest, ProfilesRotateKilledAtRandomInstantsTheRerunFinishesTheJob) {
  Start(/*fail_rate=*/0.1);
  const char* seed = std::getenv("KEYROTOR_CRASH_SEED");
  std::mt19937 rng(seed ? static_cast<unsigned>(std::strtoul(seed, nullptr, 10)) + 1 : 20261202u);
  int trials = TrialCount(6);
  int killed_mid_run = 0;
  for (int t = 0; t < trials; ++t) {
    bool remove = t % 2 == 1;
    std::string file = dir_ + "/profiles-" + std::to_string(t);
    std::vector<std::string> users;
    for (int u = 0; u < 3; ++u) {
      std::string user = "prof-" + std::to_string(t) + "-" + std::to_string(u);
      auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * 100));
      ASSERT_TRUE(key.ok());
      ASSERT_TRUE(credentials::WriteProfile(file, user, key->access_key_id, key->secret).ok());
      secrets_.push_back(key->secret.reveal());
      users.push_back(user);
    }
    std::vector<std::string> argv = {testing::KeyrotorBinary(), "profiles", "rotate", "--credentials-file", file,
                                     "--state", dir_ + "/journal.db", "--endpoint-url", server_->endpoint(),
                                     "--verify-timeout", "30", "--orphan-settle-ms", "0"};
    if (remove) argv.push_back("--remove");
    auto victim = testing::BackgroundProcess::Start(argv, Env());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 900)(rng)));
    ::kill(victim->pid(), SIGKILL);
    testing::ProcessResult killed = victim->Stop();
    outputs_ += killed.out + killed.err;
    if (killed.out.find(" failed\n") == std::string::npos) ++killed_mid_run;  // no summary line: killed mid-run
    bool finished = false;
    for (int run = 0; run < 8 && !finished; ++run) {
      testing::ProcessResult r = testing::RunProcess(argv, Env(), 120);
      outputs_ += r.out + r.err;
      finished = r.exit_code == 0 && r.out.find("3 rotated, 0 skipped, 0 failed") != std::string::npos;
    }
    ASSERT_TRUE(finished) << file << ": " << outputs_.substr(outputs_.size() > 3000 ? outputs_.size() - 3000 : 0);
    auto ini = credentials::IniFile::Load(file);
    ASSERT_TRUE(ini.ok());
    for (const std::string& user : users) {
      SCOPED_TRACE(user);
      std::string key_id = ini->Get(user, "aws_access_key_id").value_or("");
      Secret secret(ini->Get(user, "aws_secret_access_key").value_or(""));
      secrets_.push_back(secret.reveal());
      auto keys = sb().ListKeys(user);
      int active = 0;
      for (const auto& k : keys) active += k.active ? 1 : 0;
      EXPECT_EQ(active, 1) << "exactly one active key: no orphan";
      ASSERT_TRUE(sb().GetKey(key_id).has_value()) << "the file holds a live key";
      EXPECT_TRUE(sb().GetKey(key_id)->active);
      EXPECT_LE(keys.size(), remove ? 1u : 2u);
      auto clients = testing::SandboxClients(server_->endpoint(), &transport_, key_id, secret, 5);
      auto who = clients.Sts()->GetCallerIdentity();
      EXPECT_TRUE(who.ok()) << who.status().ToString();
    }
  }
  CheckNoSecretLeaked();
  std::printf("[ crash ] %d profiles-rotate random-instant trials (3 profiles each) with 10%% faults, %d killed "
              "mid-run, %s\n",
              trials, killed_mid_run, HasFailure() ? "INVARIANT VIOLATIONS (see above)" : "0 invariant violations");
}

// 20% injected faults (500, 503, resets) and throttling: every rotation still
// ends correctly, in a few runs at most.
TEST_F(RotateCrashTest, FaultsAndThrottlingStillFinishCorrectly) {
  Start(/*fail_rate=*/0.2, /*consistency_ms=*/300, /*throttle_rps=*/20);
  std::vector<std::pair<std::string, std::string>> users;
  for (int i = 0; i < 8; ++i) users.emplace_back("faulty-" + std::to_string(i), NewUser("faulty-" + std::to_string(i)));
  auto mode_of = [](const std::string& user) { return user.back() % 2 ? "immediate" : "staged"; };
  // All at once, so the request rate goes over the throttle.
  std::vector<std::unique_ptr<testing::BackgroundProcess>> children;
  for (const auto& [user, old_key] : users) {
    children.push_back(testing::BackgroundProcess::Start(RotateArgv(user, mode_of(user)), Env()));
  }
  for (auto& c : children) {
    c->WaitForLine("\"result\"", 120);
    auto r = c->Stop();
    outputs_ += r.out + r.err;
  }
  for (const auto& [user, old_key] : users) {
    ASSERT_TRUE(RunToCompletion(user, mode_of(user))) << user;
    CheckInvariants(user, old_key, user);
  }
  EXPECT_GT(sb().stats().faults_injected, 10u);
  EXPECT_GT(sb().stats().throttled, 0u);
  CheckNoSecretLeaked();
}

// `keyrotor respond` is a rotation in the journal: killed before and after
// every Save, in both orders, the replayed event finishes the response, and
// the user ends with one working key in every destination, the exposed key gone.
TEST_F(RotateCrashTest, RespondKilledAtEveryJournalStepTheReplayedEventFinishesIt) {
  Start(/*fail_rate=*/0);
  int trials = 0, killed = 0;
  for (const std::string order : {"rotate-first", "deactivate-first"}) {
    for (int n = 1; n <= 12; ++n) {
      for (const char* when : {"before-save:", "after-save:"}) {
        std::string user = "leak-" + order.substr(0, 6) + "-" + std::to_string(n) + "-" + std::string(when).substr(0, 5);
        std::string exposed = NewUser(user);
        std::string event = ExposeAndWriteEvent(user, exposed);
        auto env = Env();
        env["KEYROTOR_CRASH_POINT"] = when + std::to_string(n);
        testing::ProcessResult r = testing::RunProcess(RespondArgv(event, order), env, 120);
        outputs_ += r.out + r.err;
        ++trials;
        if (r.exit_code == -1) ++killed;
        ASSERT_TRUE(RespondToCompletion(event, order)) << user;
        CheckInvariants(user, exposed, user);
        EXPECT_FALSE(sb().GetKey(exposed)) << user << ": the exposed key is deleted";
      }
    }
  }
  EXPECT_GE(killed, 2 * 10) << "too few kill points were reached";
  CheckNoSecretLeaked();
  std::printf("[ crash ] respond: %d deterministic trials, %d killed mid-run, %s\n", trials, killed,
              HasFailure() ? "INVARIANT VIOLATIONS (see above)" : "0 invariant violations");
}

// AWS sends several events for one key: two responders start on the same
// event at once, one is killed at a random instant, the event is replayed
// until done. One response, one new key: only the exposed key was retired.
TEST_F(RotateCrashTest, RespondToDuplicateEventsKilledAtRandomInstantsRespondsOnce) {
  Start(/*fail_rate=*/0.1);
  const char* seed = std::getenv("KEYROTOR_CRASH_SEED");
  std::mt19937 rng(seed ? static_cast<unsigned>(std::strtoul(seed, nullptr, 10)) + 1 : 20261202u);
  int trials = TrialCount(8);
  int killed_mid_run = 0;
  for (int t = 0; t < trials; ++t) {
    std::string order = t % 2 ? "deactivate-first" : "rotate-first";
    std::string user = "leak-random-" + std::to_string(t);
    std::string exposed = NewUser(user);
    std::string event = ExposeAndWriteEvent(user, exposed);
    std::unique_ptr<testing::BackgroundProcess> runners[2] = {
        testing::BackgroundProcess::Start(RespondArgv(event, order), Env()),
        testing::BackgroundProcess::Start(RespondArgv(event, order), Env())};
    int victim = std::uniform_int_distribution<int>(0, 1)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 900)(rng)));
    ::kill(runners[victim]->pid(), SIGKILL);
    testing::ProcessResult killed = runners[victim]->Stop();
    outputs_ += killed.out + killed.err;
    if (killed.out.find("\"result\"") == std::string::npos) ++killed_mid_run;
    runners[1 - victim]->WaitForLine("\"result\"", 120);
    testing::ProcessResult survivor = runners[1 - victim]->Stop();
    outputs_ += survivor.out + survivor.err;
    ASSERT_TRUE(RespondToCompletion(event, order)) << user;
    CheckInvariants(user, exposed, user);
    // Retired keys: the exposed one only (an orphan a killed run made is deleted as an orphan).
    testing::ProcessResult history = testing::RunProcess(
        {testing::KeyrotorBinary(), "history", "--user", user, "--state", dir_ + "/journal.db"}, Env());
    std::istringstream lines(history.out);
    for (std::string line; std::getline(lines, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j["outcome"] != "ok") continue;
      std::string action = j.value("action", "");
      if (action == "delete_old" || action == "delete_exposed" || action == "deactivate_exposed") {
        EXPECT_EQ(j.value("access_key_id", ""), exposed) << user << ": " << line;
      }
    }
  }
  CheckNoSecretLeaked();
  std::printf("[ crash ] respond: %d random-instant trials with 10%% faults and duplicate events, %d killed "
              "mid-run, %s\n",
              trials, killed_mid_run, HasFailure() ? "INVARIANT VIOLATIONS (see above)" : "0 invariant violations");
}

// A write-only destination (GitHub Actions secrets, which GitHub never gives
// back) must never be left holding a key the rotation deleted. Destinations:
// Secrets Manager, then a repository's and an environment's secrets on a
// fake GitHub. `rotate` is killed before and after every journal write;
// after each killed run, whatever key a GitHub secret holds still exists;
// the rerun finishes. Then a GitHub outage between the two GitHub
// destinations: the rotation rolls forward (the first secret's key is kept)
// and completes once GitHub answers again.
TEST_F(RotateCrashTest, AWriteOnlyDestinationNeverHoldsADeletedKey) {
  Start(/*fail_rate=*/0);
  std::unique_ptr<testing::FakeGithub> github = testing::FakeGithub::Start();
  ASSERT_TRUE(github);
  github->AddToken("ghp_crashtrialtoken0000000000000000000000");
  // GitLab is write-only too: a project per user, between the two GitHub destinations.
  std::unique_ptr<testing::FakeGitlab> gitlab = testing::FakeGitlab::Start();
  ASSERT_TRUE(gitlab);
  gitlab->AddToken("glpat-crashtrialtoken00000001", {{"api"}, 1, false, std::nullopt});
  std::map<std::string, int> project_ids;
  auto add_project = [&](const std::string& user) {
    int id = 100 + static_cast<int>(project_ids.size());
    project_ids[user] = id;
    gitlab->AddProject(id, "acme/" + user);
    gitlab->SetRole(1, "projects/" + std::to_string(id), 40);
  };
  auto env = Env();
  env["GH_TOKEN"] = "ghp_crashtrialtoken0000000000000000000000";
  env["GITHUB_API_URL"] = github->api_url();
  env["GITLAB_TOKEN"] = "glpat-crashtrialtoken00000001";
  env["CI_API_V4_URL"] = gitlab->api_url();
  auto argv = [&](const std::string& user) {
    return std::vector<std::string>{testing::KeyrotorBinary(), "rotate", "--user", user, "--mode", "immediate",
                                    "--state", dir_ + "/journal.db", "--to", "secretsmanager:crash/{user}", "--to",
                                    "github:acme/{user}", "--to", "gitlab:acme/{user}", "--to",
                                    "github:acme/{user}@prod", "--endpoint-url",
                                    server_->endpoint(), "--verify-timeout", "30s", "--orphan-settle-ms", "0",
                                    "--json"};
  };
  // Every key a GitHub secret of `user` holds exists in IAM.
  auto check_github = [&](const std::string& user, const std::string& when) {
    for (const std::string& scope : {"repos/acme/" + user, "repos/acme/" + user + "/environments/prod"}) {
      auto held = github->Stored(scope, "AWS_ACCESS_KEY_ID");
      if (!held) continue;
      EXPECT_TRUE(sb().GetKey(held->value).has_value())
          << user << " " << when << ": " << scope << " holds " << held->value << ", which was deleted";
    }
    if (auto held = gitlab->Stored("projects/" + std::to_string(project_ids[user]), "AWS_ACCESS_KEY_ID")) {
      EXPECT_TRUE(sb().GetKey(held->value).has_value())
          << user << " " << when << ": GitLab holds " << held->value << ", which was deleted";
    }
  };
  auto finish = [&](const std::string& user) {
    for (int run = 0; run < 8; ++run) {
      testing::ProcessResult r = testing::RunProcess(argv(user), env, 120);
      outputs_ += r.out + r.err;
      check_github(user, "after a rerun");
      if (r.out.find("\"result\":\"completed\"") != std::string::npos) return true;
      // The killed run had finished it: the fresh key is not due.
      if (r.out.find("\"result\":\"not_due\",\"rotation_id\":\"\"") != std::string::npos) return true;
    }
    return false;
  };
  int trials = 0, killed = 0;
  for (int n = 1; n <= 14; ++n) {
    for (const char* when : {"before-save:", "after-save:"}) {
      std::string user = "wo-" + std::to_string(n) + "-" + std::string(when).substr(0, 5);
      github->AddRepo("acme", user);
      github->AddEnvironment("acme", user, "prod");
      add_project(user);
      std::string old_key = NewUser(user);
      auto crash_env = env;
      crash_env["KEYROTOR_CRASH_POINT"] = when + std::to_string(n);
      testing::ProcessResult r = testing::RunProcess(argv(user), crash_env, 120);
      outputs_ += r.out + r.err;
      ++trials;
      if (r.exit_code == -1) ++killed;
      check_github(user, "after the killed run");
      ASSERT_TRUE(finish(user)) << user << ": " << outputs_.substr(outputs_.size() > 2000 ? outputs_.size() - 2000 : 0);
      auto keys = sb().ListKeys(user);
      ASSERT_EQ(keys.size(), 1u) << user;
      EXPECT_NE(keys[0].access_key_id, old_key);
      for (const std::string& scope : {"repos/acme/" + user, "repos/acme/" + user + "/environments/prod"}) {
        auto id = github->Stored(scope, "AWS_ACCESS_KEY_ID");
        auto secret = github->Stored(scope, "AWS_SECRET_ACCESS_KEY");
        ASSERT_TRUE(id && secret) << user << " " << scope;
        EXPECT_EQ(id->value, keys[0].access_key_id) << user << " " << scope;
        secrets_.push_back(secret->value);
        auto who = testing::SandboxClients(server_->endpoint(), &transport_, id->value, Secret(secret->value), 5)
                       .Sts()
                       ->GetCallerIdentity();
        EXPECT_TRUE(who.ok()) << user << " " << scope << ": the key GitHub holds works";
      }
      auto gitlab_id = gitlab->Stored("projects/" + std::to_string(project_ids[user]), "AWS_ACCESS_KEY_ID");
      auto gitlab_secret = gitlab->Stored("projects/" + std::to_string(project_ids[user]), "AWS_SECRET_ACCESS_KEY");
      ASSERT_TRUE(gitlab_id && gitlab_secret) << user << ": GitLab";
      EXPECT_EQ(gitlab_id->value, keys[0].access_key_id) << user << ": GitLab";
      EXPECT_TRUE(gitlab_id->masked && gitlab_id->protected_) << user << ": masked and protected by default";
      secrets_.push_back(gitlab_secret->value);
    }
  }
  EXPECT_GE(killed, 20) << "too few kill points were reached";

  // The second GitHub destination fails after the first took the key (its
  // environment is missing: 404): roll forward, never back.
  std::string user = "wo-outage";
  github->AddRepo("acme", user);
  add_project(user);
  std::string old_key = NewUser(user);
  testing::ProcessResult failed = testing::RunProcess(argv(user), env, 120);
  outputs_ += failed.out + failed.err;
  EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
  EXPECT_NE(failed.out.find("rolling forward"), std::string::npos) << failed.out;
  auto held = github->Stored("repos/acme/" + user, "AWS_ACCESS_KEY_ID");
  ASSERT_TRUE(held) << "the repository took the new key";
  EXPECT_NE(held->value, old_key);
  check_github(user, "after the failed hand-over");
  auto gitlab_held = gitlab->Stored("projects/" + std::to_string(project_ids[user]), "AWS_ACCESS_KEY_ID");
  ASSERT_TRUE(gitlab_held) << "GitLab, before the failing destination, took the new key";
  EXPECT_EQ(gitlab_held->value, held->value);
  ASSERT_TRUE(sb().GetKey(old_key)) << "the old key stays until every destination holds the new one";
  github->AddEnvironment("acme", user, "prod");  // GitHub fixed
  ASSERT_TRUE(finish(user));
  EXPECT_FALSE(sb().GetKey(old_key));
  EXPECT_EQ(github->Stored("repos/acme/" + user + "/environments/prod", "AWS_ACCESS_KEY_ID")->value, held->value);
  EXPECT_EQ(trials, 28);
  std::printf("[ crash ] write-only destinations: %d deterministic trials, %d killed mid-run, %s\n", trials, killed,
              HasFailure() ? "INVARIANT VIOLATIONS (see above)" : "0 invariant violations");
  CheckNoSecretLeaked();
}

// Two keyrotor processes sharing a journal never rotate the same user twice.
TEST_F(RotateCrashTest, ConcurrentRunnersNeverRotateAUserTwice) {
  Start(/*fail_rate=*/0);
  for (int round = 0; round < 4; ++round) {
    std::string user = "shared-" + std::to_string(round);
    std::string old_key = NewUser(user);
    std::vector<std::unique_ptr<testing::BackgroundProcess>> children;
    for (int i = 0; i < 3; ++i) children.push_back(testing::BackgroundProcess::Start(RotateArgv(user, "immediate"), Env()));
    for (auto& c : children) {
      // Wait for each to finish on its own (Stop would SIGTERM it).
      c->WaitForLine("\"result\"", 60);
      auto r = c->Stop();
      outputs_ += r.out + r.err;
    }
    ASSERT_TRUE(RunToCompletion(user, "immediate"));
    CheckInvariants(user, old_key, user);
  }
  testing::ProcessResult history =
      testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", dir_ + "/journal.db"}, Env());
  // One key created per user, however many runners raced.
  size_t creates = 0;
  for (size_t at = history.out.find("\"create_key\""); at != std::string::npos;
       at = history.out.find("\"create_key\"", at + 1)) {
    ++creates;
  }
  EXPECT_EQ(creates, 4u) << history.out;
  CheckNoSecretLeaked();
}

}  // namespace
}  // namespace keyrotor
