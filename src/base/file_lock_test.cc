#include "base/file_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/file_util.h"

namespace keyrotor {
namespace {

namespace fs = std::filesystem;

class FileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kr-lock-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  static struct stat Stat(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st;
  }
  // Whether another open file description could take the lock now.
  static bool Free(const std::string& path) {
    Result<FileLock> probe = FileLock::Acquire(path, {.wait = false});
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    return probe.ok() && probe->held();
  }

  std::string dir_;
};

TEST_F(FileLockTest, ExcludesAnotherHolderInTheSameProcessUntilReleased) {
  const std::string p = Path("file.lock");
  {
    Result<FileLock> lock = FileLock::Acquire(p);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    EXPECT_TRUE(lock->held());
    EXPECT_FALSE(Free(p));
    bool from_thread = true;
    std::thread([&] { from_thread = Free(p); }).join();
    EXPECT_FALSE(from_thread);
    FileLock moved = std::move(lock).value();  // moving keeps it held
    EXPECT_TRUE(moved.held());
    EXPECT_FALSE(Free(p));
  }
  EXPECT_TRUE(Free(p));
  EXPECT_TRUE(S_ISREG(Stat(p).st_mode));
  EXPECT_EQ(Stat(p).st_mode & 07777, 0600u);
  EXPECT_EQ(Stat(p).st_size, 0);
}

TEST_F(FileLockTest, ABlockedWaiterGetsTheLockWhenTheHolderLetsGo) {
  const std::string p = Path("file.lock");
  Result<FileLock> held = FileLock::Acquire(p);
  ASSERT_TRUE(held.ok());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child's copy of the parent's descriptor shares its lock: drop it
    // (the parent still holds the lock), then block until the parent lets go.
    held = FileLock();
    Result<FileLock> mine = FileLock::Acquire(p);
    ::_exit(mine.ok() && mine->held() ? 0 : 1);
  }
  EXPECT_FALSE(Free(p));
  held = FileLock();  // release
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(FileLockTest, ASymlinkAtTheLockPathIsRefusedAndItsTargetUntouched) {
  const std::string existing = Path("precious");
  ASSERT_TRUE(AtomicWriteFile(existing, "do not touch", {0644, false}).ok());
  const struct stat before = Stat(existing);
  for (const std::string& target : {existing, Path("not-there")}) {
    fs::remove(Path("x.lock"));
    fs::create_symlink(target, Path("x.lock"));
    Result<FileLock> lock = FileLock::Acquire(Path("x.lock"));
    ASSERT_FALSE(lock.ok()) << target;
    EXPECT_NE(lock.status().message().find(Path("x.lock")), std::string::npos) << lock.status().ToString();
    EXPECT_NE(lock.status().message().find("symbolic link"), std::string::npos) << lock.status().ToString();
  }
  EXPECT_FALSE(fs::exists(Path("not-there")));
  EXPECT_EQ(ReadFile(existing).value(), "do not touch");
  EXPECT_EQ(Stat(existing).st_mode, before.st_mode);
  EXPECT_EQ(Stat(existing).st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

TEST_F(FileLockTest, AFifoOrDirectoryAtTheLockPathIsRefusedWithoutHanging) {
  ASSERT_EQ(::mkfifo(Path("fifo.lock").c_str(), 0600), 0);
  ASSERT_TRUE(fs::create_directory(Path("dir.lock")));
  for (const std::string& p : {Path("fifo.lock"), Path("dir.lock")}) {
    Result<FileLock> lock = FileLock::Acquire(p);
    ASSERT_FALSE(lock.ok()) << p;
    EXPECT_NE(lock.status().message().find(p), std::string::npos) << lock.status().ToString();
  }
}

TEST_F(FileLockTest, LockDirectoryIsCreated0700AndASymlinkThereIsRefused) {
  mode_t old = ::umask(0);
  Result<FileLock> lock = FileLock::AcquireInDirectory(Path("locks"), "user1", {.wait = false});
  ::umask(old);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_TRUE(lock->held());
  EXPECT_TRUE(S_ISDIR(Stat(Path("locks")).st_mode));
  EXPECT_EQ(Stat(Path("locks")).st_mode & 07777, 0700u);
  EXPECT_EQ(Stat(Path("locks/user1")).st_mode & 07777, 0600u);
  // Not held again through another description.
  Result<FileLock> again = FileLock::AcquireInDirectory(Path("locks"), "user1", {.wait = false});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->held());

  ASSERT_TRUE(fs::create_directory(Path("elsewhere")));
  fs::create_symlink(Path("elsewhere"), Path("linked-locks"));
  Result<FileLock> redirected = FileLock::AcquireInDirectory(Path("linked-locks"), "user1");
  ASSERT_FALSE(redirected.ok());
  EXPECT_NE(redirected.status().message().find(Path("linked-locks")), std::string::npos);
  EXPECT_TRUE(fs::is_empty(Path("elsewhere")));
}

TEST_F(FileLockTest, TwoNamesOfOneFileShareOneUpdateLock) {
  ASSERT_TRUE(fs::create_directory(Path("dotfiles")));
  ASSERT_TRUE(AtomicWriteFile(Path("dotfiles/credentials"), "x", {0600, false}).ok());
  fs::create_symlink("dotfiles/credentials", Path("credentials"));
  EXPECT_EQ(UpdateLockPathFor(Path("credentials")).value(), Path("dotfiles/credentials.lock"));
  Result<FileLock> via_link = LockForUpdate(Path("credentials"));
  ASSERT_TRUE(via_link.ok()) << via_link.status().ToString();
  EXPECT_FALSE(Free(Path("dotfiles/credentials.lock")));
  EXPECT_FALSE(fs::exists(Path("credentials.lock")));
}

// Root rotating an application's file: the lock it creates belongs to the
// file's owner, so that user's own keyrotor can take it later. A lock file
// that already exists is never chown-ed (it could be a hard link to anything).
TEST_F(FileLockTest, ALockRootCreatesForAnotherUsersFileBelongsToThatUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand files to another user";
  const std::string file = Path("credentials");
  ASSERT_TRUE(AtomicWriteFile(file, "x", {0640, false}).ok());
  ASSERT_EQ(::chown(file.c_str(), 12345, 23456), 0);
  ASSERT_TRUE(LockForUpdate(file).ok());
  struct stat st = Stat(file + ".lock");
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 23456u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  const std::string other = Path("other");
  ASSERT_TRUE(AtomicWriteFile(other, "x", {0600, false}).ok());
  ASSERT_EQ(::chown(other.c_str(), 12345, 12345), 0);
  ASSERT_TRUE(AtomicWriteFile(other + ".lock", "", {0600, false}).ok());  // exists, root's
  ASSERT_TRUE(LockForUpdate(other).ok());
  EXPECT_EQ(Stat(other + ".lock").st_uid, 0u);
}

}  // namespace
}  // namespace keyrotor
