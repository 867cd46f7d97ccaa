#include "destinations/credentials_file_destination.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

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

// The key profile `i` of the concurrency tests gets: its own id and secret.
KeyHandoff KeyFor(int i) {
  KeyHandoff key;
  key.rotation_id = "rot-" + std::to_string(i);
  key.user = "user" + std::to_string(i);
  key.account = "123456789012";
  char id[32];
  std::snprintf(id, sizeof id, "AKIANEW%013d", i);
  key.access_key_id = id;
  key.secret_access_key = Secret("secret-of-profile-" + std::to_string(i) + "-" + std::string(20, 'x'));
  return key;
}

// The profiles every concurrency test starts from: pN holds an old key.
std::string ManyProfiles(int count) {
  std::string text = "# shared by many applications\n";
  for (int i = 0; i < count; ++i) {
    text += "[p" + std::to_string(i) + "]\naws_access_key_id = AKIAOLD" + std::to_string(100000 + i) +
            "\naws_secret_access_key = old-secret-" + std::to_string(i) + "\n\n";
  }
  return text;
}

// Every profile of the file holds the key its writer put: the regression of
// a fleet run (concurrency > 1, credentials-file:PATH#{user}) that lost 14
// of 24 profiles because each writer replaced the file with its own edit of
// a version it had read before another writer's rename.
TEST_F(CredentialsFileDestinationTest, ConcurrentPutsFromManyThreadsKeepEveryProfile) {
  constexpr int kWriters = 24;
  Write(ManyProfiles(kWriters));
  std::vector<std::thread> threads;
  std::vector<Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      CredentialsFileDestination dest = Dest("p" + std::to_string(i));  // one destination per writer, as a run has
      results[i] = dest.Put(KeyFor(i));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].ToString();
    const std::string profile = "p" + std::to_string(i);
    EXPECT_EQ(Value(profile, "aws_access_key_id"), KeyFor(i).access_key_id) << profile;
    EXPECT_TRUE(Value(profile, "aws_secret_access_key") == KeyFor(i).secret_access_key.reveal()) << profile;
  }
  EXPECT_EQ(Read(path_).rfind("# shared by many applications\n", 0), 0u);
}

// Restore is a read-modify-write too: half the writers put, the other half
// take back a key they had put, at the same time.
TEST_F(CredentialsFileDestinationTest, ConcurrentPutsAndRestoresFromThreadsKeepEveryProfile) {
  constexpr int kWriters = 24;
  Write(ManyProfiles(kWriters));
  std::vector<Secret> snapshots(kWriters);
  for (int i = 1; i < kWriters; i += 2) {
    CredentialsFileDestination dest = Dest("p" + std::to_string(i));
    auto snap = dest.Snapshot(KeyFor(i));
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    snapshots[i] = std::move(snap).value();
    ASSERT_TRUE(dest.Put(KeyFor(i)).ok());
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      CredentialsFileDestination dest = Dest("p" + std::to_string(i));
      results[i] = i % 2 == 0 ? dest.Put(KeyFor(i)) : dest.Restore(KeyFor(i), snapshots[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].ToString();
    const std::string profile = "p" + std::to_string(i);
    const std::string want = i % 2 == 0 ? KeyFor(i).access_key_id : "AKIAOLD" + std::to_string(100000 + i);
    EXPECT_EQ(Value(profile, "aws_access_key_id"), want) << profile;
  }
}

TEST_F(CredentialsFileDestinationTest, ConcurrentPutsFromSeveralProcessesKeepEveryProfile) {
  constexpr int kChildren = 6, kEach = 4;
  Write(ManyProfiles(kChildren * kEach));
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Each child a separate keyrotor process writing its own profiles, two
      // threads each, so threads and processes contend at once.
      int failures = 0;
      std::mutex mu;
      auto write = [&](int first) {
        for (int i = first; i < (c + 1) * kEach; i += 2) {
          CredentialsFileDestination dest = Dest("p" + std::to_string(i));
          if (!dest.Put(KeyFor(i)).ok()) {
            std::lock_guard lock(mu);
            ++failures;
          }
        }
      };
      std::thread a(write, c * kEach), b(write, c * kEach + 1);
      a.join();
      b.join();
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  for (int i = 0; i < kChildren * kEach; ++i) {
    EXPECT_EQ(Value("p" + std::to_string(i), "aws_access_key_id"), KeyFor(i).access_key_id) << "p" << i;
  }
}

// Rotating as root a file that belongs to the application's user: the file
// and its .bak keep that owner, group and mode, or the application can no
// longer read its key (an outage in immediate mode).
TEST_F(CredentialsFileDestinationTest, PutKeepsTheFilesOwnerGroupAndModeAndSoDoesTheBackup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand the file to another user";
  Write(kOriginal);
  ASSERT_EQ(::chown(path_.c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  ASSERT_TRUE(Dest().Put(Key()).ok());
  for (const std::string& p : {path_, BackupPathFor(path_)}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, 12345u) << p;
    EXPECT_EQ(st.st_gid, 12345u) << p;
    EXPECT_EQ(st.st_mode & 07777, 0640u) << p;
  }
  EXPECT_EQ(Value("dev", "aws_access_key_id"), "AKIANEWNEWNEWNEWNEW1");
}

TEST_F(CredentialsFileDestinationTest, MissingDirectoriesAreCreated0700WhateverTheUmask) {
  mode_t old = ::umask(0);
  path_ = (dir_ / "a" / "b" / "c" / "credentials").string();
  Status put = Dest().Put(Key());
  ::umask(old);
  ASSERT_TRUE(put.ok()) << put.ToString();
  for (const auto& d : {dir_ / "a", dir_ / "a" / "b", dir_ / "a" / "b" / "c"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
}

// Not a credentials file: an error naming the path, at once, and nothing written.
TEST_F(CredentialsFileDestinationTest, DeviceFifoOrHugeFileIsAClearError) {
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string huge = (dir_ / "huge").string();
  {
    int fd = ::open(huge.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{1} << 30), 0);  // 1 GiB, sparse: no disk used
    ::close(fd);
  }
  for (const std::string& p : {std::string("/dev/zero"), fifo, huge}) {
    path_ = p;
    CredentialsFileDestination dest = Dest();
    Status put = dest.Put(Key());
    EXPECT_EQ(put.code(), StatusCode::kIoError) << p << ": " << put.ToString();
    EXPECT_NE(put.message().find(p), std::string::npos) << put.ToString();
    auto snap = dest.Snapshot(Key());
    EXPECT_EQ(snap.status().code(), StatusCode::kIoError) << p << ": " << snap.status().ToString();
    EXPECT_FALSE(std::filesystem::exists(BackupPathFor(p))) << p;
  }
  struct stat st {};
  ASSERT_EQ(::stat(huge.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, off_t{1} << 30);
}

}  // namespace
}  // namespace keyrotor::destinations
