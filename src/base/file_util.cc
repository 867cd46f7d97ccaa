#include "base/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/secret.h"

namespace keyrotor {
namespace {

// Deep enough for any sane chain of links, the same bound Linux uses (ELOOP).
constexpr int kMaxSymlinkHops = 40;

std::string ErrnoText(int err) { return std::strerror(err); }

Status IoErrorAt(const std::string& path, const std::string& step, int err) {
  return Status::IoError(path + ": " + step + ": " + ErrnoText(err));
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(ErrnoText(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<std::string> ReadLink(const std::string& link) {
  std::vector<char> buf(256);
  while (true) {
    ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size());
    if (n < 0) return Status::IoError(ErrnoText(errno));
    if (static_cast<size_t>(n) < buf.size()) return std::string(buf.data(), static_cast<size_t>(n));
    buf.resize(buf.size() * 2);  // possibly truncated: retry with room to spare
  }
}

// Follows symlinks at the last path component so that writing replaces the
// file a link points to, not the link: users keep ~/.aws/credentials as a
// link into a dotfiles repository and expect it to stay one. A dangling link
// resolves to the path it names (the write creates that file).
Result<std::string> ResolveFinalSymlinks(const std::string& path) {
  std::string current = path;
  for (int hop = 0; hop < kMaxSymlinkHops; ++hop) {
    struct stat st;
    if (::lstat(current.c_str(), &st) != 0) {
      // Missing (or a parent is not a directory): there is nothing to follow;
      // creating the temp file reports the real problem.
      if (errno == ENOENT || errno == ENOTDIR) return current;
      return IoErrorAt(path, "lstat " + current, errno);
    }
    if (!S_ISLNK(st.st_mode)) return current;
    Result<std::string> target = ReadLink(current);
    if (!target.ok()) return Status::IoError(path + ": readlink " + current + ": " + target.status().message());
    current = (!target->empty() && (*target)[0] == '/') ? *target : DirName(current) + "/" + *target;
  }
  return IoErrorAt(path, "resolve symlink", ELOOP);
}

// The write-fsync-rename sequence. `target` must not be a symlink we want to
// keep (rename replaces whatever entry is there); `display` is the path the
// caller gave, used in messages.
Status ReplaceFile(const std::string& display, const std::string& target, std::string_view contents, mode_t mode) {
  const std::string dir = DirName(target);
  // Same directory as the target, so rename() is atomic (no cross-device
  // copy). mkostemp creates the file 0600 whatever the umask allows, so
  // secret bytes never sit in a file others can open.
  std::string tmpl = dir + "/." + BaseName(target) + ".tmp-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return IoErrorAt(display, "create temp file in " + dir, errno);
  const std::string tmp(name.data());

  auto abandon = [&](const std::string& step, const std::string& why) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return Status::IoError(display + ": " + step + ": " + why);
  };

  if (Status s = WriteAll(fd, contents); !s.ok()) return abandon("write temp file " + tmp, s.message());
  // chmod before fsync so the one fsync makes both the bytes and the mode
  // durable; the file is still unreachable under the target's name.
  if (::fchmod(fd, mode) != 0) return abandon("fchmod temp file " + tmp, ErrnoText(errno));
  if (::fsync(fd) != 0) return abandon("fsync temp file " + tmp, ErrnoText(errno));
  int rc = ::close(fd);
  fd = -1;
  // close() is where NFS and some FUSE filesystems report a failed write.
  if (rc != 0) return abandon("close temp file " + tmp, ErrnoText(errno));
  if (::rename(tmp.c_str(), target.c_str()) != 0) return abandon("rename " + tmp + " to " + target, ErrnoText(errno));

  // Without this the rename itself may be lost on power failure, leaving the
  // old file (or none) after we reported success.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return IoErrorAt(display, "written, but cannot open directory " + dir + " to fsync it", errno);
  rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return IoErrorAt(display, "written, but fsync of directory " + dir + " failed", err);
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound(path + ": open: " + ErrnoText(err));
    return IoErrorAt(path, "open", err);
  }
  // Read straight into one buffer sized from fstat: every reallocation would
  // leave a copy of (possibly secret) bytes behind in freed memory.
  struct stat st;
  size_t expected = (::fstat(fd, &st) == 0 && st.st_size > 0) ? static_cast<size_t>(st.st_size) : 0;
  std::string out;
  out.reserve(expected + 1);
  size_t used = 0;
  while (true) {
    if (used == out.size()) out.resize(used < expected + 1 ? expected + 1 : used * 2);
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      WipeString(out);
      return IoErrorAt(path, "read", err);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  ::close(fd);
  return out;
}

std::string BackupPathFor(const std::string& path) { return path + ".bak"; }

Status AtomicWriteFile(const std::string& path, std::string_view contents, const AtomicWriteOptions& opts) {
  KR_ASSIGN_OR_RETURN(std::string target, ResolveFinalSymlinks(path));
  if (opts.keep_backup) {
    Result<std::string> previous = ReadFile(target);
    if (previous.ok()) {
      // The backup replaces whatever sits at path.bak (a stale link included)
      // rather than writing through it: a backup must not land somewhere else.
      const std::string backup = BackupPathFor(path);
      Status s = ReplaceFile(backup, backup, *previous, 0600);
      WipeString(*previous);
      if (!s.ok()) return s.WithContext("keeping backup of " + path);
    } else if (!previous.status().IsNotFound()) {
      return previous.status().WithContext("keeping backup");
    }
  }
  return ReplaceFile(path, target, contents, opts.mode);
}

}  // namespace keyrotor
