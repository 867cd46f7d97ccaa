#include "base/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "base/file_system.h"
#include "base/secret.h"
#include "base/strings.h"

namespace keyrotor {
namespace {

// Deep enough for any sane chain of links, the same bound Linux uses (ELOOP).
constexpr int kMaxSymlinkHops = 40;


using Warn = std::function<void(const std::string&)>;

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

Status WriteAll(FileSystem& fs, int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = fs.Write(fd, data.data(), data.size());
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

// What a replacement keeps of the file it replaces.
struct FileMetadata {
  bool exists = false;  // false: a new file, created with `mode` and the process's owner
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0600;
  std::optional<std::string> acl;  // system.posix_acl_access, when the file has one
};

constexpr char kAclXattr[] = "system.posix_acl_access";

// The ACL xattr of `path`: nullopt when it has none (or the file system has
// no ACLs); an error only when one is there and cannot be read.
Result<std::optional<std::string>> ReadAcl(const std::string& path) {
  std::string acl(128, '\0');
  while (true) {
    ssize_t n = ::getxattr(path.c_str(), kAclXattr, acl.data(), acl.size());
    if (n >= 0) {
      acl.resize(static_cast<size_t>(n));
      return std::optional<std::string>(std::move(acl));
    }
    if (errno == ENODATA || errno == ENOTSUP) return std::optional<std::string>();
    if (errno != ERANGE) return Status::IoError(ErrnoText(errno));
    acl.resize(acl.size() * 4);  // grew since we asked; ask with more room
  }
}

Result<FileMetadata> MetadataOf(const std::string& display, const std::string& target, mode_t new_mode,
                                const Warn& warn) {
  FileMetadata meta;
  meta.mode = new_mode;
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return meta;
    return IoErrorAt(display, "stat " + target, errno);
  }
  // rename() would replace a device node or a FIFO with a plain file.
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    return Status::IoError(display + ": not a regular file: refused");
  }
  meta.exists = true;
  meta.uid = st.st_uid;
  meta.gid = st.st_gid;
  meta.mode = st.st_mode & 07777;
  Result<std::optional<std::string>> acl = ReadAcl(target);
  if (acl.ok()) {
    meta.acl = std::move(acl).value();
  } else {
    warn(display + ": cannot read its POSIX ACL (" + acl.status().message() +
         "); the new version has its owner, group and mode but no ACL");
  }
  return meta;
}

// The write-fsync-rename sequence. `target` must not be a symlink we want to
// keep (rename replaces whatever entry is there); `display` is the path the
// caller gave, used in messages.
Status ReplaceFile(FileSystem& fs, const std::string& display, const std::string& target, std::string_view contents,
                   const FileMetadata& meta, const Warn& warn) {
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

  if (Status s = WriteAll(fs, fd, contents); !s.ok()) return abandon("write temp file " + tmp, s.message());
  // Owner, group, mode and ACL before fsync, so the one fsync makes them
  // durable with the bytes, and before the rename, so the file never appears
  // under its name with anything else (root rotating an application's file
  // must not leave it root:root, unreadable by the application).
  if (meta.exists) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return abandon("fstat temp file " + tmp, ErrnoText(errno));
    if ((st.st_uid != meta.uid || st.st_gid != meta.gid) && ::fchown(fd, meta.uid, meta.gid) != 0) {
      return abandon("cannot keep its owner " + std::to_string(meta.uid) + ":" + std::to_string(meta.gid), ErrnoText(errno));
    }
  }
  // chown may clear set-id bits, so the mode comes after it.
  if (::fchmod(fd, meta.mode) != 0) return abandon("fchmod temp file " + tmp, ErrnoText(errno));
  if (meta.acl) {
    if (::fsetxattr(fd, kAclXattr, meta.acl->data(), meta.acl->size(), 0) != 0) {
      warn(display + ": its POSIX ACL could not be copied to the new version (" + ErrnoText(errno) +
           "); it now has only its owner, group and mode");
    }
  } else if (meta.exists && ::fremovexattr(fd, kAclXattr) != 0 && errno != ENODATA && errno != ENOTSUP) {
    // The temp file inherited the directory's default ACL; the file it replaces had none.
    return abandon("remove the inherited ACL of temp file " + tmp, ErrnoText(errno));
  }
  if (fs.Fsync(fd) != 0) return abandon("fsync temp file " + tmp, ErrnoText(errno));
  int rc = ::close(fd);
  fd = -1;
  // close() is where NFS and some FUSE filesystems report a failed write.
  if (rc != 0) return abandon("close temp file " + tmp, ErrnoText(errno));
  if (fs.Rename(tmp, target) != 0) return abandon("rename " + tmp + " to " + target, ErrnoText(errno));

  // Without this the rename itself may be lost on power failure, leaving the
  // old file (or none) after we reported success.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return IoErrorAt(display, "written, but cannot open directory " + dir + " to fsync it", errno);
  rc = fs.Fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return IoErrorAt(display, "written, but fsync of directory " + dir + " failed", err);
  return Status::Ok();
}

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise block
  // forever; it is refused below, like every file that is not regular.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound(path + ": open: " + ErrnoText(err));
    return IoErrorAt(path, "open", err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoErrorAt(path, "fstat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    if (S_ISDIR(st.st_mode)) return IoErrorAt(path, "read", EISDIR);
    return Status::IoError(path + ": not a regular file (" + KindOf(st.st_mode) + "): refused");
  }
  auto too_large = [&] {
    return Status::IoError(path + ": larger than the " + std::to_string(max_bytes >> 20) +
                           " MiB keyrotor reads: refused (is this the right file?)");
  };
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return too_large();
  }
  // Read straight into one buffer sized from fstat: every reallocation would
  // leave a copy of (possibly secret) bytes behind in freed memory. A file
  // growing while we read (or /proc's, which report size 0) still stops at
  // the limit.
  const size_t expected = static_cast<size_t>(st.st_size);
  std::string out;
  out.reserve(expected + 1);
  size_t used = 0;
  while (true) {
    if (used == out.size()) {
      if (used > max_bytes) {
        ::close(fd);
        WipeString(out);
        return too_large();
      }
      out.resize(used < expected + 1 ? expected + 1 : std::min(used * 2, max_bytes + 1));
    }
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
  ::close(fd);
  if (used > max_bytes) {
    WipeString(out);
    return too_large();
  }
  out.resize(used);
  return out;
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

std::string BackupPathFor(const std::string& path) { return path + ".bak"; }

Status AtomicWriteFile(const std::string& path, std::string_view contents, const AtomicWriteOptions& opts) {
  const Warn warn = opts.warn ? opts.warn : Warn([](const std::string& w) {
    std::fprintf(stderr, "keyrotor: warning: %s\n", w.c_str());
  });
  FileSystem& fs = opts.file_system ? *opts.file_system : *FileSystem::Real();
  KR_ASSIGN_OR_RETURN(std::string target, ResolveFinalSymlinks(path));
  KR_ASSIGN_OR_RETURN(FileMetadata meta, MetadataOf(path, target, opts.mode, warn));
  if (opts.keep_backup && meta.exists) {
    Result<std::string> previous = ReadFile(target);
    if (previous.ok()) {
      // The backup replaces whatever sits at path.bak (a stale link included)
      // rather than writing through it: a backup must not land somewhere else.
      // It is the same file as before, so it keeps the same owner, group,
      // mode and ACL: whoever could read the file can read its backup.
      const std::string backup = BackupPathFor(path);
      Status s = ReplaceFile(fs, backup, backup, *previous, meta, warn);
      WipeString(*previous);
      if (!s.ok()) return s.WithContext("keeping backup of " + path);
    } else if (!previous.status().IsNotFound()) {
      return previous.status().WithContext("keeping backup");
    }
  }
  return ReplaceFile(fs, path, target, contents, meta, warn);
}

Status CreatePrivateDirectories(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
  // Each level on its own, so every directory this creates is 0700:
  // create_directories (and mkdir -p) give the ones above the last the
  // umask's mode, 0777 under umask 0.
  std::string prefix = dir[0] == '/' ? "/" : "";
  size_t pos = 0;
  while (pos < dir.size()) {
    size_t slash = dir.find('/', pos);
    if (slash == std::string::npos) slash = dir.size();
    std::string component = dir.substr(pos, slash - pos);
    pos = slash + 1;
    if (component.empty()) continue;
    prefix += component;
    if (::stat(prefix.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return Status::IoError(dir + ": " + prefix + " is not a directory");
    } else if (errno != ENOENT) {
      return IoErrorAt(dir, prefix == dir ? "stat" : "stat " + prefix, errno);
    } else if (::mkdir(prefix.c_str(), 0700) == 0) {
      // mkdir applies the umask (which could even take the owner's bits away).
      if (::chmod(prefix.c_str(), 0700) != 0) return IoErrorAt(dir, "chmod 0700 " + prefix, errno);
    } else if (errno != EEXIST) {  // EEXIST: another process made it just now
      return IoErrorAt(dir, "cannot create directory " + prefix, errno);
    }
    prefix += "/";
  }
  return Status::Ok();
}

}  // namespace keyrotor
