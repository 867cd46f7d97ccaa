#include "destinations/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/file_util.h"
#include "destinations/destination.h"
#include "destinations/vault_destination.h"

namespace keyrotor::destinations {
namespace {

constexpr char kSecret1[] = "vaultSECRETone/vaultSECRETone/vaultSECR1";
constexpr char kSecret2[] = "vaultSECRETtwo/vaultSECRETtwo/vaultSECR2";

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("keyrotor-vault-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "vault").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static KeyHandoff Key(const std::string& id, const char* secret, const std::string& rotation = "rot-1") {
    KeyHandoff key;
    key.rotation_id = rotation;
    key.account = "123456789012";
    key.user = "alice";
    key.access_key_id = id;
    key.secret_access_key = Secret(secret);
    key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
    return key;
  }
  static VaultEntry Entry(const std::string& id, const char* secret) {
    VaultEntry e;
    e.access_key_id = id;
    e.secret_access_key = Secret(secret);
    e.user = "bob";
    return e;
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }
  void ExpectClean(const Status& s) {
    EXPECT_EQ(s.ToString().find(kSecret1), std::string::npos) << s.ToString();
    EXPECT_EQ(s.ToString().find(kSecret2), std::string::npos) << s.ToString();
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(VaultTest, PutGetListRemoveWithNoPlaintextOnDisk) {
  auto vault = Vault::Open(path_);
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  EXPECT_TRUE(vault->List()->empty());
  EXPECT_TRUE(vault->Get("app").status().IsNotFound());
  ASSERT_TRUE(vault->Put("app", Entry("AKIAAPPAPPAPPAPPAPP1", kSecret1)).ok());
  ASSERT_TRUE(vault->Put("ci", Entry("AKIACICICICICICICIC1", kSecret2)).ok());

  auto got = vault->Get("app");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->access_key_id, "AKIAAPPAPPAPPAPPAPP1");
  EXPECT_TRUE(got->secret_access_key.reveal() == kSecret1);
  EXPECT_EQ(got->user, "bob");
  auto list = vault->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "app");
  EXPECT_EQ((*list)[1].access_key_id, "AKIACICICICICICICIC1");

  std::string raw = ReadFile(path_).value();
  EXPECT_EQ(raw.rfind("KRVAULT1\n", 0), 0u);
  EXPECT_EQ(raw.find(kSecret1), std::string::npos);
  EXPECT_EQ(raw.find(kSecret2), std::string::npos);
  EXPECT_EQ(raw.find("AKIAAPPAPPAPPAPPAPP1"), std::string::npos);
  EXPECT_EQ(Mode(path_), 0600u);
  EXPECT_EQ(Mode(path_ + ".key"), 0600u);
  EXPECT_FALSE(std::filesystem::exists(BackupPathFor(path_)));

  ASSERT_TRUE(vault->Remove("app").ok());
  EXPECT_TRUE(vault->Get("app").status().IsNotFound());
  EXPECT_TRUE(vault->Remove("app").IsNotFound());
  EXPECT_TRUE(vault->Get("ci").ok());
}

TEST_F(VaultTest, WrongOrMissingKeyIsAnErrorWithoutSecrets) {
  ASSERT_TRUE(Vault::Open(path_)->Put("app", Entry("AKIAAPPAPPAPPAPPAPP1", kSecret1)).ok());
  // Another key file: the box does not authenticate.
  ASSERT_TRUE(AtomicWriteFile((dir_ / "other.key").string(), std::string(32, 'x'), {0600, false}).ok());
  auto other = Vault::Open(path_, (dir_ / "other.key").string());
  ASSERT_TRUE(other.ok());
  auto got = other->Get("app");
  ASSERT_FALSE(got.ok());
  ExpectClean(got.status());
  // No key file at all: Open refuses rather than making a new key.
  std::filesystem::remove(path_ + ".key");
  auto missing = Vault::Open(path_);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound());
  // Not a vault.
  ASSERT_TRUE(AtomicWriteFile(path_, std::string("hello ") + kSecret1, {0600, false}).ok());
  auto not_vault = Vault::Open(path_, (dir_ / "other.key").string())->ReadAll();
  ASSERT_FALSE(not_vault.ok());
  EXPECT_EQ(not_vault.status().code(), StatusCode::kParseError);
  ExpectClean(not_vault.status());
}

TEST_F(VaultTest, ConcurrentWritersInThreadsKeepEveryEntry) {
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto vault = Vault::Open(path_);  // one Vault object (and lock file description) per writer
      ASSERT_TRUE(vault.ok());
      for (int i = 0; i < kEach; ++i) {
        Status s =
            vault->Put("t" + std::to_string(t) + "-" + std::to_string(i), Entry("AKIAAPPAPPAPPAPPAPP1", kSecret1));
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  auto list = Vault::Open(path_)->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), static_cast<size_t>(kThreads * kEach));
}

TEST_F(VaultTest, ConcurrentWriterProcessesKeepEveryEntry) {
  constexpr int kChildren = 3, kEach = 8;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto vault = Vault::Open(path_);
      int failures = vault.ok() ? 0 : 1;
      for (int i = 0; i < kEach && vault.ok(); ++i) {
        if (!vault->Put("p" + std::to_string(c) + "-" + std::to_string(i), Entry("AKIAAPPAPPAPPAPPAPP1", kSecret2))
                 .ok()) {
          ++failures;
        }
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto list = Vault::Open(path_)->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), static_cast<size_t>(kChildren * kEach));
  EXPECT_EQ(Mode(path_ + ".key"), 0600u);
}

// A symlink planted at vault.lock is not followed: the write is refused and
// the link's target is neither created nor changed.
TEST_F(VaultTest, ASymlinkAtTheLockFileIsRefused) {
  const std::string victim = (dir_ / "victim").string();
  const std::string existing = (dir_ / "existing").string();
  ASSERT_TRUE(AtomicWriteFile(existing, "keep me", {0644, false}).ok());
  for (const std::string& target : {victim, existing}) {
    std::filesystem::remove(path_ + ".lock");
    std::filesystem::create_symlink(target, path_ + ".lock");
    Status s = Vault::Open(path_)->Put("app", Entry("AKIAAPPAPPAPPAPPAPP1", kSecret1));
    EXPECT_FALSE(s.ok()) << target;
    EXPECT_NE(s.message().find(path_ + ".lock"), std::string::npos) << s.ToString();
    ExpectClean(s);
  }
  EXPECT_FALSE(std::filesystem::exists(victim));
  EXPECT_EQ(ReadFile(existing).value(), "keep me");
  EXPECT_EQ(Mode(existing), 0644u);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(VaultTest, DestinationPutIsIdempotentAndKeepsThePreviousEntry) {
  VaultDestination dest("vault:" + path_, path_, "", "");
  KeyHandoff first = Key("AKIAFIRSTFIRSTFIRST1", kSecret1, "rot-1");
  ASSERT_TRUE(dest.Put(first).ok());
  auto vault = Vault::Open(path_);
  ASSERT_EQ(vault->Get("alice")->access_key_id, "AKIAFIRSTFIRSTFIRST1");  // default entry: the user
  EXPECT_EQ(vault->Get("alice")->rotation_id, "rot-1");
  EXPECT_EQ(vault->Get("alice")->created, first.created);

  KeyHandoff second = Key("AKIASECONDSECONDSEC2", kSecret2, "rot-2");
  second.previous_access_key_id = first.access_key_id;
  ASSERT_TRUE(dest.Put(second).ok());
  ASSERT_TRUE(dest.Put(second).ok());  // the retry does not push the new key into .previous
  EXPECT_EQ(vault->Get("alice")->access_key_id, "AKIASECONDSECONDSEC2");
  EXPECT_EQ(vault->Get("alice")->previous_access_key_id, "AKIAFIRSTFIRSTFIRST1");
  EXPECT_EQ(vault->Get("alice.previous")->access_key_id, "AKIAFIRSTFIRSTFIRST1");
  EXPECT_EQ(vault->List()->size(), 2u);
}

TEST_F(VaultTest, DestinationSnapshotPutRestore) {
  VaultDestination dest("vault:" + path_ + "#app", path_, "app", "");
  // From nothing: Restore removes what Put added.
  KeyHandoff first = Key("AKIAFIRSTFIRSTFIRST1", kSecret1, "rot-1");
  auto empty = dest.Snapshot(first);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(dest.Put(first).ok());
  ASSERT_TRUE(dest.Restore(first, *empty).ok());
  EXPECT_TRUE(Vault::Open(path_)->List()->empty());

  // Over an existing entry: Restore gives back the entry and its .previous.
  ASSERT_TRUE(dest.Put(first).ok());
  ASSERT_TRUE(dest.Put(Key("AKIASECONDSECONDSEC2", kSecret2, "rot-2")).ok());
  KeyHandoff third = Key("AKIATHIRDTHIRDTHIRD3", kSecret1, "rot-3");
  auto snap = dest.Snapshot(third);
  ASSERT_TRUE(snap.ok());
  ASSERT_FALSE(snap->empty());
  ASSERT_TRUE(dest.Put(third).ok());
  // A snapshot taken again after Put (a crash) still names the key before.
  auto again = dest.Snapshot(third);
  ASSERT_TRUE(again.ok());
  Status restored = dest.Restore(third, *snap);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  auto vault = Vault::Open(path_);
  EXPECT_EQ(vault->Get("app")->access_key_id, "AKIASECONDSECONDSEC2");
  EXPECT_TRUE(vault->Get("app")->secret_access_key.reveal() == kSecret2);
  EXPECT_EQ(vault->Get("app.previous")->access_key_id, "AKIAFIRSTFIRSTFIRST1");
  ASSERT_TRUE(dest.Restore(third, *snap).ok());  // twice: nothing more to do
  ASSERT_TRUE(dest.Put(third).ok());
  ASSERT_TRUE(dest.Restore(third, *again).ok());
  EXPECT_EQ(vault->Get("app")->access_key_id, "AKIASECONDSECONDSEC2");

  // Someone stored a newer key since: not overwritten.
  ASSERT_TRUE(vault->Put("app", Entry("AKIAOTHEROTHEROTHER1", kSecret2)).ok());
  Status refused = dest.Restore(third, *snap);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  ExpectClean(refused);
  EXPECT_EQ(vault->Get("app")->access_key_id, "AKIAOTHEROTHEROTHER1");
}

}  // namespace
}  // namespace keyrotor::destinations
