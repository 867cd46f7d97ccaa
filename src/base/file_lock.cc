#include "base/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file_util.h"
#include "base/strings.h"

namespace keyrotor {
namespace {


std::string JoinPath(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

// Closes a descriptor on every return path.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Opens (creating when missing) the lock file `name` in the directory `dirfd`
// without following a symlink there. `display` is its path, for messages.
Result<int> OpenLockFile(int dirfd, const std::string& name, const std::string& display,
                         const FileLockOptions& opts) {
  // flock needs no write access, so the lock is opened read-only: nothing can
  // ever be written through it. O_NONBLOCK: a FIFO planted at the name must
  // not hang the open; it is refused below like any non-regular file.
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  // Created, or opened as found: a few rounds cover another process creating
  // or (against the rules) removing it between the two opens.
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = ::openat(dirfd, name.c_str(), kFlags | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      ScopedFd created(fd);
      // Ours from the first byte: only now may it be chmod-ed and chown-ed
      // (an existing file at the name could be a hard link to anything).
      if (::fchmod(fd, 0600) != 0) return Status::IoError(display + ": cannot set lock file mode: " + ErrnoText(errno));
      if ((opts.uid || opts.gid) &&
          ::fchown(fd, opts.uid.value_or(static_cast<uid_t>(-1)), opts.gid.value_or(static_cast<gid_t>(-1))) != 0) {
        return Status::IoError(display + ": cannot give the lock file its owner: " + ErrnoText(errno));
      }
      return created.release();
    }
    if (errno != EEXIST) break;
    fd = ::openat(dirfd, name.c_str(), kFlags);
    if (fd >= 0) {
      ScopedFd existing(fd);
      struct stat st {};
      if (::fstat(fd, &st) != 0) return Status::IoError(display + ": cannot stat lock file: " + ErrnoText(errno));
      if (!S_ISREG(st.st_mode)) return Status::IoError(display + ": lock file is not a regular file: refused");
      return existing.release();
    }
    if (errno != ENOENT) break;
  }
  int err = errno;
  if (err == ELOOP) return Status::IoError(display + ": lock file is a symbolic link: refused");
  return Status::IoError(display + ": cannot open lock file: " + ErrnoText(err));
}

// The locked descriptor, or -1 when the lock is taken and `opts.wait` is false.
Result<int> LockAt(int dirfd, const std::string& name, const std::string& display, const FileLockOptions& opts) {
  KR_ASSIGN_OR_RETURN(int fd, OpenLockFile(dirfd, name, display, opts));
  ScopedFd lock_fd(fd);
  while (::flock(fd, LOCK_EX | (opts.wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK && !opts.wait) return -1;
    return Status::IoError(display + ": cannot lock: " + ErrnoText(errno));
  }
  return lock_fd.release();
}

}  // namespace

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FileLock> FileLock::Acquire(const std::string& path, const FileLockOptions& opts) {
  KR_ASSIGN_OR_RETURN(int fd, LockAt(AT_FDCWD, path, path, opts));
  return FileLock(fd);
}

Result<FileLock> FileLock::AcquireInDirectory(const std::string& dir, const std::string& name,
                                              const FileLockOptions& opts) {
  const std::string display = JoinPath(dir, name);
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // mkdir applies the umask; a lock directory is private whatever it is.
    if (::chmod(dir.c_str(), 0700) != 0) return Status::IoError(dir + ": cannot set mode 0700: " + ErrnoText(errno));
  } else if (errno != EEXIST) {
    return Status::IoError(dir + ": cannot create lock directory: " + ErrnoText(errno));
  }
  // O_NOFOLLOW on the directory itself: a symlink planted at its name fails
  // here (ELOOP, or ENOTDIR with O_DIRECTORY) instead of leading the lock
  // files somewhere else. The locks are then opened relative to this very
  // directory, so it cannot be swapped between the check and the open.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    int err = errno;
    struct stat st {};
    if (err == ELOOP || err == ENOTDIR || (::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode))) {
      return Status::IoError(dir + ": lock directory is not a directory (a symbolic link?): refused");
    }
    return Status::IoError(dir + ": cannot open lock directory: " + ErrnoText(err));
  }
  ScopedFd dir_fd(dfd);
  KR_ASSIGN_OR_RETURN(int fd, LockAt(dir_fd.get(), name, display, opts));
  return FileLock(fd);
}

Result<std::string> UpdateLockPathFor(const std::string& path) {
  KR_ASSIGN_OR_RETURN(std::string target, ResolveFinalSymlinks(path));
  return target + ".lock";
}

Result<FileLock> LockForUpdate(const std::string& path) {
  KR_ASSIGN_OR_RETURN(std::string target, ResolveFinalSymlinks(path));
  FileLockOptions opts;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    // Only regular files are replaced by rename; a device or a FIFO there is
    // a wrong path, refused before a lock file appears beside it.
    if (!S_ISREG(st.st_mode)) return Status::IoError(path + ": not a regular file: refused");
    // Only root can give a file away; everyone else's locks are their own.
    if (::geteuid() == 0) {
      opts.uid = st.st_uid;
      opts.gid = st.st_gid;
    }
  }
  return FileLock::Acquire(target + ".lock", opts);
}

}  // namespace keyrotor
