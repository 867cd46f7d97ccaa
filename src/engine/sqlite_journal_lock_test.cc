// The per-user lock files of the SQLite journal (PATH.locks/) are not led
// elsewhere by a symlink planted in their place.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_util.h"
#include "engine/sqlite_journal.h"

namespace keyrotor::engine {
namespace {

namespace fs = std::filesystem;

class SqliteJournalLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kr-journal-locks-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/journal.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir_;
  std::string path_;
};

TEST_F(SqliteJournalLockTest, ASymlinkAtTheLockDirectoryIsRefused) {
  auto journal = OpenSqliteJournal(path_);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  const std::string elsewhere = dir_ + "/elsewhere";
  ASSERT_TRUE(fs::create_directory(elsewhere));
  fs::create_symlink(elsewhere, path_ + ".locks");
  auto lock = (*journal)->TryLockUser("123456789012", "alice");
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find(path_ + ".locks"), std::string::npos) << lock.status().ToString();
  EXPECT_TRUE(fs::is_empty(elsewhere));
  // A dangling link: nothing is created at its target either.
  fs::remove(path_ + ".locks");
  fs::create_symlink(dir_ + "/not-there", path_ + ".locks");
  EXPECT_FALSE((*journal)->TryLockUser("123456789012", "alice").ok());
  EXPECT_FALSE(fs::exists(dir_ + "/not-there"));
}

TEST_F(SqliteJournalLockTest, ASymlinkAtAUsersLockFileIsRefusedAndItsTargetUntouched) {
  auto journal = OpenSqliteJournal(path_);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  // Learn the lock file's name, then replace it with links.
  ASSERT_NE((*journal)->TryLockUser("123456789012", "alice").value(), nullptr);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path_ + ".locks")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  const std::string lock_file = files[0].string();
  const std::string victim = dir_ + "/victim";
  ASSERT_TRUE(AtomicWriteFile(victim, "precious", {0644, false}).ok());
  for (const std::string& target : {victim, dir_ + "/not-there"}) {
    fs::remove(lock_file);
    fs::create_symlink(target, lock_file);
    auto lock = (*journal)->TryLockUser("123456789012", "alice");
    ASSERT_FALSE(lock.ok()) << target;
    EXPECT_NE(lock.status().message().find(lock_file), std::string::npos) << lock.status().ToString();
  }
  EXPECT_EQ(ReadFile(victim).value(), "precious");
  EXPECT_FALSE(fs::exists(dir_ + "/not-there"));
}

TEST_F(SqliteJournalLockTest, TheLockDirectoryIs0700WhateverTheUmask) {
  mode_t old = ::umask(0);
  auto journal = OpenSqliteJournal(path_);
  Result<std::unique_ptr<UserLock>> lock = journal.status();
  if (journal.ok()) lock = (*journal)->TryLockUser("123456789012", "alice");
  ::umask(old);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat((path_ + ".locks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace keyrotor::engine
