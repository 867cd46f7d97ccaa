// `profiles rotate` end to end against the sandbox on a loopback socket.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <thread>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "credentials/profile_writer.h"
#include "destinations/credentials_file_destination.h"
#include "engine/profile_rotator.h"
#include "engine/sqlite_journal.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using engine::ProfileOutcome;
using engine::ProfileRotationOptions;
using engine::ProfileRotator;
using Outcome = ProfileOutcome::Result;

class ProfilesRotateTest : public ::testing::Test {
 protected:
  void StartSandbox(sandbox::SandboxOptions options = {}) {
    options.seed = options.seed ? options.seed : 42;
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    path_ = dir_ + "/credentials";
    auto journal = engine::OpenSqliteJournal(dir_ + "/journal.db");
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    journal_ = std::move(journal).value();
  }
  void TearDown() override {
    journal_.reset();
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  sandbox::Sandbox& sb() { return server_->sandbox(); }

  // A user with one key, written to the file as a profile of the same name.
  std::string AddProfile(const std::string& user, int age_days = 100) {
    auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * age_days));
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_TRUE(credentials::WriteProfile(path_, user, key->access_key_id, key->secret).ok());
    secrets_.push_back(key->secret.reveal());
    return key->access_key_id;
  }

  aws::ClientFactory Factory(int max_attempts = 3) {
    return testing::SandboxClients(server_->endpoint(), &transport_, "", Secret(), max_attempts);
  }

  std::vector<ProfileOutcome> Rotate(ProfileRotationOptions options = {}, int max_attempts = 3) {
    options.credentials_path = path_;
    if (options.verify_timeout == Duration(30000)) options.verify_timeout = Duration(10000);
    options.orphan_settle = Duration(0);
    ProfileRotator rotator(Factory(max_attempts), journal_.get(), options);
    auto outcomes = rotator.Run();
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    return outcomes.ok() ? *outcomes : std::vector<ProfileOutcome>{};
  }

  std::string FileKey(const std::string& profile, const char* key = "aws_access_key_id") {
    auto file = credentials::IniFile::Load(path_);
    EXPECT_TRUE(file.ok());
    return file->Get(profile, key).value_or("");
  }

  // No outcome message, audit record or journal byte may hold any secret
  // this test created or read.
  void ExpectNoSecretIn(const std::vector<ProfileOutcome>& outcomes) {
    auto file = credentials::IniFile::Load(path_);
    std::vector<std::string> all = secrets_;
    if (file.ok()) {
      for (const auto& s : file->Sections()) {
        if (auto v = file->Get(s, "aws_secret_access_key")) all.push_back(*v);
      }
    }
    std::string audit;
    auto records = journal_->ReadAudit({});
    ASSERT_TRUE(records.ok());
    for (const auto& a : *records) audit += a.detail + " " + a.access_key_id + "\n";
    std::string journal_bytes;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      Result<std::string> b = ReadFile(dir_ + "/journal.db" + suffix);
      if (b.ok()) journal_bytes += *b;
    }
    for (const auto& secret : all) {
      for (const auto& o : outcomes) EXPECT_EQ(o.message.find(secret), std::string::npos) << o.message;
      EXPECT_EQ(audit.find(secret), std::string::npos) << "a secret in the audit trail";
      EXPECT_EQ(journal_bytes.find(secret), std::string::npos) << "a secret in the journal";
    }
  }

  // The audit trail's actions for `user`, in order ("create_key", "verify", ...).
  std::vector<std::string> AuditActions(const std::string& user) {
    engine::AuditFilter filter;
    filter.user = user;
    auto records = journal_->ReadAudit(filter);
    EXPECT_TRUE(records.ok());
    std::vector<std::string> actions;
    if (records.ok()) {
      for (const auto& a : *records) actions.push_back(a.action + ":" + a.outcome);
    }
    return actions;
  }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::unique_ptr<engine::Journal> journal_;
  std::string dir_, path_;
  std::vector<std::string> secrets_;
};

// `profiles rotate` shares the file with other writers (a fleet run's
// credentials-file destination writing PATH#{user}): while it rotates one
// profile, another writer puts twenty others. It used to write back the
// whole file as it had read it before its AWS calls, dropping them.
TEST_F(ProfilesRotateTest, ConcurrentWritersOfOtherProfilesKeepTheirs) {
  sandbox::SandboxOptions slow;
  slow.latency_ms = 150;  // a wide window between its read and its write
  StartSandbox(slow);
  AddProfile("alice");
  constexpr int kOthers = 20;
  std::vector<ProfileOutcome> outcomes;
  std::thread rotation([&] {
    ProfileRotationOptions options;
    options.profiles = {"alice"};
    outcomes = Rotate(options);
  });
  for (int i = 0; i < kOthers; ++i) {
    destinations::KeyHandoff key;
    key.rotation_id = "r" + std::to_string(i);
    key.access_key_id = "AKIAOTHER" + std::to_string(1000 + i);
    key.secret_access_key = Secret("other-secret-" + std::to_string(i));
    destinations::CredentialsFileDestination dest("credentials-file:" + path_ + "#app" + std::to_string(i), path_,
                                                  "app" + std::to_string(i));
    Status put = dest.Put(key);
    EXPECT_TRUE(put.ok()) << put.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(40));  // spread over the rotation; no timing is asserted
  }
  rotation.join();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].result, Outcome::kRotated) << outcomes[0].message;
  EXPECT_EQ(FileKey("alice"), outcomes[0].new_key_id);
  for (int i = 0; i < kOthers; ++i) {
    EXPECT_EQ(FileKey("app" + std::to_string(i)), "AKIAOTHER" + std::to_string(1000 + i)) << "app" << i << " lost";
  }
}

TEST_F(ProfilesRotateTest, RotatesEveryProfileAndDeactivatesOldKeys) {
  StartSandbox();
  std::string a = AddProfile("alice"), b = AddProfile("bob"), c = AddProfile("carol");
  // A hand-edited file: comments and unknown keys must survive.
  {
    std::string text = ReadFile(path_).value();
    ASSERT_TRUE(AtomicWriteFile(path_, "# my keys\n" + text + "\n; trailing comment\n", {}).ok());
  }
  std::string before = ReadFile(path_).value();
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes.size(), 3u);
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.result, Outcome::kRotated) << o.profile << ": " << o.message;
    EXPECT_EQ(o.user, o.profile);
    std::string new_id = FileKey(o.profile);
    EXPECT_EQ(new_id, o.new_key_id);
    auto keys = sb().ListKeys(o.user);
    ASSERT_EQ(keys.size(), 2u);
    auto old_key = sb().GetKey(o.old_key_id);
    ASSERT_TRUE(old_key.has_value());
    EXPECT_FALSE(old_key->active);
    EXPECT_TRUE(sb().GetKey(new_id)->active);
  }
  std::string after = ReadFile(path_).value();
  EXPECT_EQ(after.rfind("# my keys\n", 0), 0u);
  EXPECT_NE(after.find("; trailing comment"), std::string::npos);
  // EXPECT_TRUE, not EXPECT_EQ: a failure must not print the secrets in the file.
  EXPECT_TRUE(ReadFile(BackupPathFor(path_)).value() == before) << "the file as it was before the run is kept as .bak";
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(BackupPathFor(path_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ExpectNoSecretIn(outcomes);
}

TEST_F(ProfilesRotateTest, RemoveDeletesTheOldKey) {
  StartSandbox();
  std::string old_id = AddProfile("dave");
  ProfileRotationOptions options;
  options.delete_old = true;
  auto outcomes = Rotate(options);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].result, Outcome::kRotated) << outcomes[0].message;
  EXPECT_FALSE(sb().GetKey(old_id).has_value());
  EXPECT_EQ(sb().ListKeys("dave").size(), 1u);
}

TEST_F(ProfilesRotateTest, TwoActiveKeysAreRefusedNamingBoth) {
  StartSandbox();
  std::string in_file = AddProfile("erin");
  auto second = sb().CreateUserWithKey("erin");
  ASSERT_TRUE(second.ok());
  std::string before = ReadFile(path_).value();
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].result, Outcome::kFailed);
  EXPECT_NE(outcomes[0].message.find(in_file), std::string::npos) << outcomes[0].message;
  EXPECT_NE(outcomes[0].message.find(second->access_key_id), std::string::npos) << outcomes[0].message;
  EXPECT_TRUE(ReadFile(path_).value() == before);
  EXPECT_EQ(sb().ListKeys("erin").size(), 2u);
  EXPECT_TRUE(sb().GetKey(in_file)->active);
  EXPECT_TRUE(sb().GetKey(second->access_key_id)->active);
}

// The engine's two-key rules: an Inactive key keyrotor did not retire itself
// is not deleted unless the caller allows it.
TEST_F(ProfilesRotateTest, UnknownInactiveSecondKeyIsRefusedUnlessAllowed) {
  StartSandbox();
  std::string in_file = AddProfile("frank");
  auto spare = sb().CreateUserWithKey("frank");
  ASSERT_TRUE(spare.ok());
  // Deactivate the spare through the API, as its owner would.
  auto as_frank = Factory().WithCredentials(std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{in_file, Secret(secrets_.back()), Secret(), std::nullopt, "test"}));
  ASSERT_TRUE(as_frank.Iam()->UpdateAccessKey("", spare->access_key_id, false).ok());
  std::string before = ReadFile(path_).value();

  auto refused = Rotate();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].result, Outcome::kFailed);
  EXPECT_NE(refused[0].message.find(spare->access_key_id), std::string::npos) << refused[0].message;
  EXPECT_TRUE(ReadFile(path_).value() == before);
  EXPECT_EQ(sb().ListKeys("frank").size(), 2u);
  EXPECT_TRUE(sb().GetKey(in_file)->active);

  ProfileRotationOptions allow;
  allow.delete_unknown_inactive = true;
  auto outcomes = Rotate(allow);
  ASSERT_EQ(outcomes[0].result, Outcome::kRotated) << outcomes[0].message;
  EXPECT_EQ(outcomes[0].removed_inactive_key_id, spare->access_key_id);
  EXPECT_NE(outcomes[0].message.find("inactive key " + spare->access_key_id + " deleted first"), std::string::npos)
      << outcomes[0].message;
  EXPECT_FALSE(sb().GetKey(spare->access_key_id).has_value());
  EXPECT_EQ(sb().ListKeys("frank").size(), 2u);  // old (now inactive) + new
  ExpectNoSecretIn(outcomes);
}

// Run again, a profile is rotated again: the key the first run retired (and
// left Inactive) is keyrotor's own, so it makes room without any flag.
TEST_F(ProfilesRotateTest, RunningAgainDeletesTheKeyItRetiredAndRotatesAgain) {
  StartSandbox();
  std::string first_key = AddProfile("gina");
  auto first = Rotate();
  ASSERT_EQ(first[0].result, Outcome::kRotated) << first[0].message;
  std::string second_key = first[0].new_key_id;
  EXPECT_FALSE(sb().GetKey(first_key)->active);

  auto second = Rotate();
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(second[0].result, Outcome::kRotated) << second[0].message;
  EXPECT_EQ(second[0].old_key_id, second_key);
  EXPECT_EQ(second[0].removed_inactive_key_id, first_key);
  EXPECT_FALSE(sb().GetKey(first_key).has_value());
  EXPECT_FALSE(sb().GetKey(second_key)->active);
  EXPECT_TRUE(sb().GetKey(second[0].new_key_id)->active);
  EXPECT_EQ(FileKey("gina"), second[0].new_key_id);
  ExpectNoSecretIn(second);
}

// Every profile rotation is a journaled engine rotation: the audit trail has
// each step, and the journal holds no secret.
TEST_F(ProfilesRotateTest, EachRotationIsInTheJournalAndAuditTrail) {
  StartSandbox();
  AddProfile("hugo");
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes[0].result, Outcome::kRotated) << outcomes[0].message;
  EXPECT_FALSE(outcomes[0].rotation_id.empty());
  std::vector<std::string> actions = AuditActions("hugo");
  std::vector<std::string> expected = {"plan:ok", "create_key:ok", "verify:ok", "store:ok", "deactivate_old:ok"};
  EXPECT_EQ(actions, expected);
  auto open = journal_->OpenRotation(sb().options().account_id, "hugo");
  ASSERT_TRUE(open.ok());
  ASSERT_TRUE(open->has_value());
  EXPECT_EQ(StateName((*open)->state), "old_deactivated");
  auto sealed = journal_->GetSealed(outcomes[0].rotation_id, "new_secret");
  ASSERT_TRUE(sealed.ok());
  EXPECT_FALSE(sealed->has_value()) << "the journal lets go of the secret once the file holds it";
  ExpectNoSecretIn(outcomes);
}

TEST_F(ProfilesRotateTest, TemporaryAndRoleProfilesAreSkipped) {
  StartSandbox();
  AddProfile("grace");
  std::string text = ReadFile(path_).value();
  text += "\n[session]\naws_access_key_id = ASIATEMPORARYKEY0000\naws_secret_access_key = x\naws_session_token = t\n";
  text += "\n[role]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = grace\n";
  ASSERT_TRUE(AtomicWriteFile(path_, text, {}).ok());
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].result, Outcome::kRotated);
  EXPECT_EQ(outcomes[1].result, Outcome::kSkipped);
  EXPECT_NE(outcomes[1].message.find("session token"), std::string::npos);
  EXPECT_EQ(outcomes[2].result, Outcome::kSkipped);
  EXPECT_NE(outcomes[2].message.find("role_arn"), std::string::npos);
  EXPECT_EQ(FileKey("session"), "ASIATEMPORARYKEY0000");
}

TEST_F(ProfilesRotateTest, ProfileWithoutPermissionFailsAloneAndOthersProceed) {
  StartSandbox();
  std::string locked_key = AddProfile("henry");
  ASSERT_TRUE(sb().SetUserPermissions("henry", sandbox::UserPermissions::kNone).ok());
  AddProfile("irene");
  std::string before_henry = FileKey("henry");
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].result, Outcome::kFailed);
  EXPECT_NE(outcomes[0].message.find("AccessDenied"), std::string::npos) << outcomes[0].message;
  EXPECT_EQ(outcomes[1].result, Outcome::kRotated) << outcomes[1].message;
  EXPECT_EQ(FileKey("henry"), before_henry);
  EXPECT_EQ(sb().ListKeys("henry").size(), 1u);
  ExpectNoSecretIn(outcomes);
}

TEST_F(ProfilesRotateTest, FailedVerificationUndoesEverything) {
  // IAM takes 5 s to accept new keys here, but we only wait 300 ms.
  sandbox::SandboxOptions options;
  options.consistency_ms = 5000;
  StartSandbox(options);
  std::string old_id = AddProfile("judy");
  std::string before = ReadFile(path_).value();
  ProfileRotationOptions rotate;
  rotate.verify_timeout = Duration(300);
  auto outcomes = Rotate(rotate);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].result, Outcome::kFailed);
  EXPECT_NE(outcomes[0].message.find("verifying the new key"), std::string::npos) << outcomes[0].message;
  EXPECT_NE(outcomes[0].message.find("file restored"), std::string::npos) << outcomes[0].message;
  EXPECT_TRUE(ReadFile(path_).value() == before);
  auto keys = sb().ListKeys("judy");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, old_id);
  EXPECT_TRUE(keys[0].active);
  ExpectNoSecretIn(outcomes);
}

TEST_F(ProfilesRotateTest, WaitsOutIamPropagation) {
  sandbox::SandboxOptions options;
  options.consistency_ms = 1500;
  StartSandbox(options);
  AddProfile("kate");
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].result, Outcome::kRotated) << outcomes[0].message;
}

TEST_F(ProfilesRotateTest, SurvivesInjectedFaultsWithoutOrphanKeys) {
  sandbox::SandboxOptions options;
  options.fail_rate = 0.25;
  options.seed = 7;
  StartSandbox(options);
  std::vector<std::string> users = {"u1", "u2", "u3", "u4", "u5", "u6"};
  std::map<std::string, std::string> original;
  for (const auto& u : users) original[u] = AddProfile(u);
  // A fault the retries cannot hide (a lost CreateAccessKey answer) leaves a
  // profile's rotation open: the next run finishes it, as a person would run
  // the command again. Rotated profiles are not run again here.
  std::map<std::string, ProfileOutcome> done;
  for (int run = 0; run < 4 && done.size() < users.size(); ++run) {
    ProfileRotationOptions only;
    for (const auto& u : users) {
      if (!done.count(u)) only.profiles.push_back(u);
    }
    for (const auto& o : Rotate(only, /*max_attempts=*/8)) {
      if (o.result == Outcome::kRotated) done[o.profile] = o;
    }
  }
  EXPECT_GT(sb().stats().faults_injected, 0u);
  ASSERT_EQ(done.size(), users.size());
  for (const auto& [profile, o] : done) {
    // Exactly the original (inactive) key and the new one in the file: no orphan.
    auto keys = sb().ListKeys(o.user);
    ASSERT_EQ(keys.size(), 2u) << o.user;
    EXPECT_FALSE(sb().GetKey(original[o.user])->active);
    EXPECT_EQ(FileKey(o.profile), o.new_key_id);
    EXPECT_TRUE(sb().GetKey(o.new_key_id)->active);
  }
}

TEST_F(ProfilesRotateTest, MalformedFileChangesNothing) {
  StartSandbox();
  AddProfile("leo");
  std::string text = ReadFile(path_).value() + "this line is not ini\n";
  ASSERT_TRUE(AtomicWriteFile(path_, text, {}).ok());
  ProfileRotationOptions options;
  options.credentials_path = path_;
  ProfileRotator rotator(Factory(), journal_.get(), options);
  auto outcomes = rotator.Run();
  ASSERT_FALSE(outcomes.ok());
  EXPECT_NE(outcomes.status().ToString().find(path_ + ":"), std::string::npos) << outcomes.status().ToString();
  EXPECT_TRUE(ReadFile(path_).value() == text);
  EXPECT_EQ(sb().ListKeys("leo").size(), 1u);
}

TEST_F(ProfilesRotateTest, UnknownNamedProfileIsAnError) {
  StartSandbox();
  AddProfile("mia");
  ProfileRotationOptions options;
  options.credentials_path = path_;
  options.profiles = {"nobody"};
  ProfileRotator rotator(Factory(), journal_.get(), options);
  auto outcomes = rotator.Run();
  ASSERT_FALSE(outcomes.ok());
  EXPECT_NE(outcomes.status().ToString().find("nobody"), std::string::npos);
}

TEST_F(ProfilesRotateTest, OnlyNamedProfilesAreRotated) {
  StartSandbox();
  std::string n1 = AddProfile("nina");
  std::string o1 = AddProfile("otto");
  ProfileRotationOptions options;
  options.profiles = {"otto"};
  auto outcomes = Rotate(options);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].profile, "otto");
  EXPECT_EQ(FileKey("nina"), n1);
  EXPECT_NE(FileKey("otto"), o1);
}

}  // namespace
}  // namespace keyrotor
