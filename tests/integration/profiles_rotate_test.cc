// `profiles rotate` end to end against the sandbox on a loopback socket.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "credentials/profile_writer.h"
#include "engine/profile_rotator.h"
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
  }
  void TearDown() override {
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
    ProfileRotator rotator(Factory(max_attempts), options);
    auto outcomes = rotator.Run();
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    return outcomes.ok() ? *outcomes : std::vector<ProfileOutcome>{};
  }

  std::string FileKey(const std::string& profile, const char* key = "aws_access_key_id") {
    auto file = credentials::IniFile::Load(path_);
    EXPECT_TRUE(file.ok());
    return file->Get(profile, key).value_or("");
  }

  // No outcome message may hold any secret this test created or read.
  void ExpectNoSecretIn(const std::vector<ProfileOutcome>& outcomes) {
    auto file = credentials::IniFile::Load(path_);
    std::vector<std::string> all = secrets_;
    if (file.ok()) {
      for (const auto& s : file->Sections()) {
        if (auto v = file->Get(s, "aws_secret_access_key")) all.push_back(*v);
      }
    }
    for (const auto& o : outcomes) {
      for (const auto& secret : all) EXPECT_EQ(o.message.find(secret), std::string::npos) << o.message;
    }
  }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::string dir_, path_;
  std::vector<std::string> secrets_;
};

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

TEST_F(ProfilesRotateTest, InactiveSecondKeyIsDeletedToMakeRoom) {
  StartSandbox();
  std::string in_file = AddProfile("frank");
  auto spare = sb().CreateUserWithKey("frank");
  ASSERT_TRUE(spare.ok());
  // Deactivate the spare through the API, as its owner would.
  auto as_frank = Factory().WithCredentials(std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{in_file, Secret(secrets_.back()), Secret(), std::nullopt, "test"}));
  ASSERT_TRUE(as_frank.Iam()->UpdateAccessKey("", spare->access_key_id, false).ok());
  auto outcomes = Rotate();
  ASSERT_EQ(outcomes[0].result, Outcome::kRotated) << outcomes[0].message;
  EXPECT_EQ(outcomes[0].removed_inactive_key_id, spare->access_key_id);
  EXPECT_FALSE(sb().GetKey(spare->access_key_id).has_value());
  EXPECT_EQ(sb().ListKeys("frank").size(), 2u);  // old (now inactive) + new
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
  for (const auto& u : users) AddProfile(u);
  auto outcomes = Rotate({}, /*max_attempts=*/8);
  ASSERT_EQ(outcomes.size(), users.size());
  EXPECT_GT(sb().stats().faults_injected, 0u);
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.result, Outcome::kRotated) << o.profile << ": " << o.message;
    // Exactly the old (inactive) key and the new one in the file: no orphan.
    auto keys = sb().ListKeys(o.user);
    ASSERT_EQ(keys.size(), 2u) << o.user;
    EXPECT_FALSE(sb().GetKey(o.old_key_id)->active);
    EXPECT_EQ(FileKey(o.profile), o.new_key_id);
  }
}

TEST_F(ProfilesRotateTest, MalformedFileChangesNothing) {
  StartSandbox();
  AddProfile("leo");
  std::string text = ReadFile(path_).value() + "this line is not ini\n";
  ASSERT_TRUE(AtomicWriteFile(path_, text, {}).ok());
  ProfileRotationOptions options;
  options.credentials_path = path_;
  ProfileRotator rotator(Factory(), options);
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
  ProfileRotator rotator(Factory(), options);
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
