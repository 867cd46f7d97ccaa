#include "base/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/xattr.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace keyrotor {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kr-atomic-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    // Undo any chmod a test left so the tree can be removed.
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(dir_, ec)) {
      if (e.is_directory(ec) && !e.is_symlink(ec))
        fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  static std::string Slurp(const std::string& path) {
    Result<std::string> r = ReadFile(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  // Directory entries, to prove no temp file was left behind.
  static std::set<std::string> Entries(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
  }

  std::string dir_;
};

// Restores the process umask when a test is done with it.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t m) : old_(::umask(m)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST_F(AtomicFileTest, WritesContentWithMode0600EvenUnderPermissiveUmask) {
  ScopedUmask umask(0);
  const std::string p = Path("credentials");
  ASSERT_TRUE(AtomicWriteFile(p, "[default]\naws_access_key_id = AKIA1\n").ok());
  EXPECT_EQ(Slurp(p), "[default]\naws_access_key_id = AKIA1\n");
  EXPECT_EQ(ModeOf(p), 0600u);
  EXPECT_EQ(Entries(dir_), std::set<std::string>{"credentials"});
}

TEST_F(AtomicFileTest, ReplacingKeepsTheExistingMode) {
  const std::string p = Path("config");
  { std::ofstream(p) << "old"; }
  ASSERT_EQ(::chmod(p.c_str(), 0644), 0);
  ASSERT_TRUE(AtomicWriteFile(p, "new").ok());  // opts.mode (0600) is for new files only
  EXPECT_EQ(Slurp(p), "new");
  EXPECT_EQ(ModeOf(p), 0644u);
}

// The regression: rotating as root a credentials file that belongs to the
// application's user left it root:root 0600, unreadable by the application.
TEST_F(AtomicFileTest, ReplacingKeepsOwnerGroupAndModeAndTheBackupGetsThemToo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand the file to another user";
  const std::string p = Path("credentials");
  { std::ofstream(p) << "old"; }
  ASSERT_EQ(::chown(p.c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chmod(p.c_str(), 0640), 0);
  ASSERT_TRUE(AtomicWriteFile(p, "new", {.mode = 0600, .keep_backup = true}).ok());
  EXPECT_EQ(Slurp(p), "new");
  EXPECT_EQ(Slurp(BackupPathFor(p)), "old");
  for (const std::string& f : {p, BackupPathFor(p)}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_uid, 12345u) << f;
    EXPECT_EQ(st.st_gid, 12345u) << f;
    EXPECT_EQ(st.st_mode & 07777, 0640u) << f;
  }
}

// A POSIX access ACL (what `setfacl -m u:12345:r` writes), in the kernel's
// xattr format (linux/posix_acl_xattr.h): version 2, then {tag, perm, id}.
std::string AclGranting(uint32_t uid) {
  auto entry = [](uint16_t tag, uint16_t perm, uint32_t id) {
    std::string e(8, '\0');
    std::memcpy(e.data(), &tag, 2);
    std::memcpy(e.data() + 2, &perm, 2);
    std::memcpy(e.data() + 4, &id, 4);
    return e;
  };
  constexpr uint32_t kUndefined = 0xffffffff;
  const uint32_t version = 2;
  std::string acl(reinterpret_cast<const char*>(&version), 4);
  acl += entry(0x01, 6, kUndefined);  // ACL_USER_OBJ rw-
  acl += entry(0x02, 4, uid);         // ACL_USER     r--
  acl += entry(0x04, 4, kUndefined);  // ACL_GROUP_OBJ r--
  acl += entry(0x10, 4, kUndefined);  // ACL_MASK     r--
  acl += entry(0x20, 0, kUndefined);  // ACL_OTHER    ---
  return acl;
}

std::optional<std::string> AclOf(const std::string& path) {
  char buf[256];
  ssize_t n = ::getxattr(path.c_str(), "system.posix_acl_access", buf, sizeof buf);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

TEST_F(AtomicFileTest, ReplacingKeepsThePosixAclOfTheFileAndTheBackup) {
  const std::string p = Path("credentials");
  { std::ofstream(p) << "old"; }
  const std::string acl = AclGranting(12345);
  ASSERT_EQ(::setxattr(p.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0), 0)
      << "the test directory's file system has no POSIX ACLs: " << std::strerror(errno);
  const mode_t mode = ModeOf(p);
  std::vector<std::string> warnings;
  AtomicWriteOptions opts{.mode = 0600, .keep_backup = true};
  opts.warn = [&](const std::string& w) { warnings.push_back(w); };
  ASSERT_TRUE(AtomicWriteFile(p, "new", opts).ok());
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(AclOf(p), acl);
  EXPECT_EQ(AclOf(BackupPathFor(p)), acl);
  EXPECT_EQ(ModeOf(p), mode);
}

TEST_F(AtomicFileTest, ReplacingAFileWithoutAclDoesNotInheritTheDirectorysDefaultAcl) {
  ASSERT_TRUE(fs::create_directory(Path("shared")));
  const std::string p = Path("shared/credentials");
  { std::ofstream(p) << "old"; }
  ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
  // A default ACL set on the directory afterwards: a new temp file inherits it.
  const std::string acl = AclGranting(12345);
  ASSERT_EQ(::setxattr(Path("shared").c_str(), "system.posix_acl_default", acl.data(), acl.size(), 0), 0)
      << std::strerror(errno);
  ASSERT_TRUE(AtomicWriteFile(p, "new").ok());
  EXPECT_EQ(AclOf(p), std::nullopt);
  EXPECT_EQ(ModeOf(p), 0600u);
}

TEST_F(AtomicFileTest, ExplicitModeIsAppliedRegardlessOfUmask) {
  ScopedUmask umask(077);
  const std::string p = Path("config");
  ASSERT_TRUE(AtomicWriteFile(p, "x", {.mode = 0640}).ok());
  EXPECT_EQ(ModeOf(p), 0640u);
}

TEST_F(AtomicFileTest, EmptyContentsGiveAnEmptyFile) {
  const std::string p = Path("empty");
  ASSERT_TRUE(AtomicWriteFile(p, "").ok());
  EXPECT_EQ(Slurp(p), "");
}

TEST_F(AtomicFileTest, LargeContentsRoundTrip) {
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  const std::string p = Path("big");
  ASSERT_TRUE(AtomicWriteFile(p, big).ok());
  EXPECT_EQ(Slurp(p), big);
}

TEST_F(AtomicFileTest, BackupHoldsThePreviousVersion) {
  const std::string p = Path("credentials");
  ASSERT_TRUE(AtomicWriteFile(p, "v1", {.mode = 0600, .keep_backup = true}).ok());
  // Nothing to back up the first time.
  EXPECT_FALSE(fs::exists(BackupPathFor(p)));
  ASSERT_TRUE(AtomicWriteFile(p, "v2", {.mode = 0600, .keep_backup = true}).ok());
  EXPECT_EQ(Slurp(p), "v2");
  EXPECT_EQ(Slurp(BackupPathFor(p)), "v1");
  EXPECT_EQ(ModeOf(BackupPathFor(p)), 0600u);
  ASSERT_TRUE(AtomicWriteFile(p, "v3", {.mode = 0600, .keep_backup = true}).ok());
  EXPECT_EQ(Slurp(BackupPathFor(p)), "v2");
  EXPECT_EQ(Entries(dir_), (std::set<std::string>{"credentials", "credentials.bak"}));
}

TEST_F(AtomicFileTest, BackupIsNotTouchedWithoutKeepBackup) {
  const std::string p = Path("credentials");
  ASSERT_TRUE(AtomicWriteFile(p, "v1").ok());
  ASSERT_TRUE(AtomicWriteFile(p, "v2").ok());
  EXPECT_FALSE(fs::exists(BackupPathFor(p)));
}

TEST_F(AtomicFileTest, BackupPathAppendsBak) {
  EXPECT_EQ(BackupPathFor("/home/u/.aws/credentials"), "/home/u/.aws/credentials.bak");
  EXPECT_EQ(BackupPathFor("config"), "config.bak");
}

TEST_F(AtomicFileTest, SymlinkStaysASymlinkAndItsTargetIsReplaced) {
  ASSERT_TRUE(fs::create_directory(Path("dotfiles")));
  ASSERT_TRUE(fs::create_directory(Path("aws")));
  const std::string real = Path("dotfiles/credentials");
  const std::string link = Path("aws/credentials");
  ASSERT_TRUE(AtomicWriteFile(real, "old").ok());
  fs::create_symlink("../dotfiles/credentials", link);  // relative, as users make them

  ASSERT_TRUE(AtomicWriteFile(link, "new", {.mode = 0600, .keep_backup = true}).ok());
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), "../dotfiles/credentials");
  EXPECT_EQ(Slurp(real), "new");
  EXPECT_EQ(Slurp(link), "new");
  // The backup sits beside the name the user gave and is a plain file.
  EXPECT_EQ(Slurp(BackupPathFor(link)), "old");
  EXPECT_FALSE(fs::is_symlink(BackupPathFor(link)));
  EXPECT_EQ(Entries(Path("dotfiles")), std::set<std::string>{"credentials"});
  EXPECT_EQ(Entries(Path("aws")), (std::set<std::string>{"credentials", "credentials.bak"}));
}

TEST_F(AtomicFileTest, ChainOfSymlinksAndDanglingLinkAreFollowed) {
  const std::string real = Path("real");
  fs::create_symlink(real, Path("hop2"));  // absolute, dangling until written
  fs::create_symlink("hop2", Path("hop1"));
  ASSERT_TRUE(AtomicWriteFile(Path("hop1"), "through two links").ok());
  EXPECT_TRUE(fs::is_symlink(Path("hop1")));
  EXPECT_TRUE(fs::is_symlink(Path("hop2")));
  EXPECT_EQ(Slurp(real), "through two links");
}

TEST_F(AtomicFileTest, SymlinkLoopIsAnError) {
  fs::create_symlink("b", Path("a"));
  fs::create_symlink("a", Path("b"));
  Status s = AtomicWriteFile(Path("a"), "x");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(Path("a")), std::string::npos) << s.ToString();
}

// True when this process can create files in `dir` despite its mode, as root can.
bool CanWriteInto(const std::string& dir) {
  std::string probe = dir + "/probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

TEST_F(AtomicFileTest, FailureLeavesTheOriginalIntactAndNoTempFile) {
  ASSERT_TRUE(fs::create_directory(Path("ro")));
  const std::string p = Path("ro/credentials");
  ASSERT_TRUE(AtomicWriteFile(p, "original").ok());
  ASSERT_EQ(::chmod(Path("ro").c_str(), 0500), 0);

  std::string target = p;
  std::string watched_dir = Path("ro");
  if (CanWriteInto(Path("ro"))) {
    // Running as root: permissions do not stop us, so make the directory
    // unusable another way — the target's parent is a regular file.
    ASSERT_EQ(::chmod(Path("ro").c_str(), 0700), 0);
    ASSERT_TRUE(AtomicWriteFile(Path("plainfile"), "i am not a directory").ok());
    target = Path("plainfile/credentials");
    watched_dir = dir_;
  }
  const std::set<std::string> before = Entries(watched_dir);
  Status s = AtomicWriteFile(target, "new", {.mode = 0600, .keep_backup = true});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(target), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("create temp file"), std::string::npos) << s.ToString();
  EXPECT_EQ(Entries(watched_dir), before);
  EXPECT_EQ(Slurp(p), "original");
}

TEST_F(AtomicFileTest, FailedRenameRemovesTheTempFile) {
  // A directory at the target path makes rename() fail after the temp file
  // was written and synced: the latest possible failure before the swap.
  ASSERT_TRUE(fs::create_directory(Path("credentials")));
  ASSERT_TRUE(AtomicWriteFile(Path("credentials/keep"), "inside").ok());
  Status s = AtomicWriteFile(Path("credentials"), "secret bytes");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rename"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(Path("credentials")), std::string::npos) << s.ToString();
  EXPECT_EQ(Entries(dir_), std::set<std::string>{"credentials"});
  EXPECT_EQ(Slurp(Path("credentials/keep")), "inside");
}

TEST_F(AtomicFileTest, ReadFileNotFoundNamesThePath) {
  Result<std::string> r = ReadFile(Path("missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_NE(r.status().message().find(Path("missing")), std::string::npos);
  EXPECT_NE(r.status().message().find("No such file or directory"), std::string::npos) << r.status().ToString();
}

TEST_F(AtomicFileTest, ReadFileUnderARegularFileIsNotFound) {
  ASSERT_TRUE(AtomicWriteFile(Path("f"), "x").ok());
  EXPECT_TRUE(ReadFile(Path("f/child")).status().IsNotFound());
}

TEST_F(AtomicFileTest, ReadFileOfADirectoryIsAnIoError) {
  Result<std::string> r = ReadFile(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find(dir_), std::string::npos);
  EXPECT_NE(r.status().message().find("Is a directory"), std::string::npos) << r.status().ToString();
}

TEST_F(AtomicFileTest, ReadFileReturnsBytesVerbatim) {
  const std::string bytes("a\r\nb\0c\xff", 7);
  ASSERT_TRUE(AtomicWriteFile(Path("bin"), bytes).ok());
  EXPECT_EQ(Slurp(Path("bin")), bytes);
}

// Not regular files: an error naming the path, at once (no hang on a FIFO
// without a writer, no endless read of /dev/zero).
TEST_F(AtomicFileTest, ReadFileRefusesDevicesAndFifos) {
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& p : {std::string("/dev/zero"), std::string("/dev/null"), fifo}) {
    Result<std::string> r = ReadFile(p);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.status().code(), StatusCode::kIoError) << p;
    EXPECT_NE(r.status().message().find(p), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("not a regular file"), std::string::npos) << r.status().ToString();
  }
}

TEST_F(AtomicFileTest, ReadFileRefusesAFileLargerThanTheLimit) {
  const std::string p = Path("huge");
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{1} << 30), 0);  // 1 GiB, sparse
  ::close(fd);
  Result<std::string> r = ReadFile(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find(p), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("larger than"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace keyrotor
