#include "destinations/credentials_file_destination.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_util.h"
#include "credentials/ini_file.h"

namespace keyrotor::destinations {
namespace {

constexpr char kNewSecret[] = "NEWsecretNEWsecretNEWsecretNEWsecret0001";
constexpr char kOldSecret[] = "OLDsecretOLDsecretOLDsecretOLDsecret0001";

class CredentialsFileDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("keyrotor-credfile-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "credentials").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  KeyHandoff Key() const {
    KeyHandoff key;
    key.rotation_id = "rot-1";
    key.user = "alice";
    key.account = "123456789012";
    key.access_key_id = "AKIANEWNEWNEWNEWNEW1";
    key.secret_access_key = Secret(kNewSecret);
    key.previous_access_key_id = "AKIAOLDOLDOLDOLDOLD1";
    return key;
  }
  CredentialsFileDestination Dest(const std::string& profile = "dev") {
    return CredentialsFileDestination("credentials-file:" + path_ + "#" + profile, path_, profile);
  }
  void Write(const std::string& text) { ASSERT_TRUE(AtomicWriteFile(path_, text, {0600, false}).ok()); }
  std::string Read(const std::string& path) {
    auto r = ReadFile(path);
    return r.ok() ? *r : "<missing>";
  }
  std::string Value(const std::string& profile, const std::string& key) {
    auto f = credentials::IniFile::Load(path_);
    return f.ok() ? f->Get(profile, key).value_or("") : "<unreadable>";
  }
  // No error may carry either secret.
  void ExpectClean(const Status& s) {
    EXPECT_EQ(s.ToString().find(kNewSecret), std::string::npos);
    EXPECT_EQ(s.ToString().find(kOldSecret), std::string::npos);
  }

  std::filesystem::path dir_;
  std::string path_;
};

const std::string kOriginal =
    std::string("# my keys\n[default]\naws_access_key_id=AKIADEFAULTDEFAULT01\n") +
    "aws_secret_access_key=defaultsecret\n\n[dev]\naws_access_key_id = AKIAOLDOLDOLDOLDOLD1\n" +
    "aws_secret_access_key = " + kOldSecret + "\naws_session_token = stale\nregion = eu-west-1\n";

TEST_F(CredentialsFileDestinationTest, PutSetsTheKeyKeepsTheRestAndABackup) {
  Write(kOriginal);
  auto dest = Dest();
  Status put = dest.Put(Key());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(Value("dev", "aws_access_key_id"), "AKIANEWNEWNEWNEWNEW1");
  EXPECT_TRUE(Value("dev", "aws_secret_access_key") == kNewSecret);
  EXPECT_EQ(Value("dev", "aws_session_token"), "");
  EXPECT_EQ(Value("dev", "region"), "eu-west-1");
  EXPECT_EQ(Value("default", "aws_access_key_id"), "AKIADEFAULTDEFAULT01");
  EXPECT_EQ(Read(path_).rfind("# my keys\n", 0), 0u);
  EXPECT_TRUE(Read(BackupPathFor(path_)) == kOriginal);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(BackupPathFor(path_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A retry changes nothing, not even the backup (it still holds the old key).
  std::string after = Read(path_);
  ASSERT_TRUE(dest.Put(Key()).ok());
  EXPECT_TRUE(Read(path_) == after);
  EXPECT_TRUE(Read(BackupPathFor(path_)) == kOriginal);
}

TEST_F(CredentialsFileDestinationTest, SnapshotPutRestoreGivesTheProfileBack) {
  Write(kOriginal);
  auto dest = Dest();
  auto snap = dest.Snapshot(Key());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_FALSE(snap->empty());
  ASSERT_TRUE(dest.Put(Key()).ok());
  Status restored = dest.Restore(Key(), *snap);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_EQ(Value("dev", "aws_access_key_id"), "AKIAOLDOLDOLDOLDOLD1");
  EXPECT_TRUE(Value("dev", "aws_secret_access_key") == kOldSecret);
  EXPECT_EQ(Value("dev", "aws_session_token"), "stale");
  EXPECT_EQ(Value("dev", "region"), "eu-west-1");
  // Restoring twice is harmless.
  ASSERT_TRUE(dest.Restore(Key(), *snap).ok());
  EXPECT_EQ(Value("dev", "aws_access_key_id"), "AKIAOLDOLDOLDOLDOLD1");

  // A key someone wrote since is not overwritten.
  ASSERT_TRUE(dest.Put(Key()).ok());
  auto file = credentials::IniFile::Load(path_).value();
  ASSERT_TRUE(file.Set("dev", "aws_access_key_id", "AKIAHANDHANDHANDHAND").ok());
  Write(file.Serialize());
  Status refused = dest.Restore(Key(), *snap);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  ExpectClean(refused);
  EXPECT_EQ(Value("dev", "aws_access_key_id"), "AKIAHANDHANDHANDHAND");
}

TEST_F(CredentialsFileDestinationTest, AbsentProfileIsCreatedAndRemovedAgain) {
  const std::string original = "[other]\naws_access_key_id = AKIAOTHEROTHEROTHER1\naws_secret_access_key = x\n";
  Write(original);
  auto dest = Dest("fresh");
  auto snap = dest.Snapshot(Key());
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());
  ASSERT_TRUE(dest.Put(Key()).ok());
  EXPECT_EQ(Value("fresh", "aws_access_key_id"), "AKIANEWNEWNEWNEWNEW1");
  Status restored = dest.Restore(Key(), *snap);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_EQ(Read(path_), original);
}

TEST_F(CredentialsFileDestinationTest, MissingFileIsCreatedWithMode0600) {
  path_ = (dir_ / "sub" / "credentials").string();
  auto dest = Dest();
  auto snap = dest.Snapshot(Key());
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());
  ASSERT_TRUE(dest.Put(Key()).ok());
  EXPECT_EQ(Value("dev", "aws_access_key_id"), "AKIANEWNEWNEWNEWNEW1");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CredentialsFileDestinationTest, MalformedFileIsLeftUntouchedAndNamedWithItsLine) {
  const std::string broken = std::string("[dev]\naws_access_key_id = AKIAOLDOLDOLDOLDOLD1\naws_secret_access_key = ") +
                             kOldSecret + "\nthis line has no separator\n";
  Write(broken);
  auto dest = Dest();
  auto snap = dest.Snapshot(Key());
  ASSERT_FALSE(snap.ok());
  ExpectClean(snap.status());
  Status put = dest.Put(Key());
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.ToString().find(path_ + ":4"), std::string::npos) << put.ToString();
  ExpectClean(put);
  Status restored = dest.Restore(Key(), Secret());
  ASSERT_FALSE(restored.ok());
  ExpectClean(restored);
  EXPECT_TRUE(Read(path_) == broken);
  EXPECT_FALSE(std::filesystem::exists(BackupPathFor(path_)));
}

}  // namespace
}  // namespace keyrotor::destinations
