// Whole-file reads and crash-safe replacement of files that hold secrets
// (~/.aws/credentials, the local vault, the journal's side files).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keyrotor {

class FileSystem;  // base/file_system.h

// Every file keyrotor reads is small: a credentials or config file is a few
// KiB, the largest legitimate ones (a vault or a fleet config of thousands of
// users) a few MiB. 64 MiB leaves ten times that room, while a wrong path (a
// disk image, a log, a sparse file) fails at once instead of exhausting memory.
inline constexpr size_t kMaxReadFileBytes = size_t{64} << 20;

// The whole file. Only a regular file is read: a device (/dev/zero), a FIFO
// (which would block forever) or a directory is an IoError, so is a file
// larger than `max_bytes`. NotFound when it (or a directory on the way) does
// not exist, IoError for anything else; the message names the path and the
// reason. The bytes may be secret: callers that are done with them should
// WipeString().
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = kMaxReadFileBytes);

struct AtomicWriteOptions {
  // The mode of a file this call creates, applied with fchmod (the umask does
  // not matter). A file that exists keeps its own owner, group and mode.
  mode_t mode = 0600;
  bool keep_backup = false;  // copy the previous content to BackupPathFor(path) first
  // Where a warning goes (a POSIX ACL that could not be carried over); empty:
  // a "keyrotor: warning: ..." line on stderr.
  std::function<void(const std::string&)> warn = nullptr;
  // The write, fsync and rename calls (base/file_system.h); null: the real ones.
  FileSystem* file_system = nullptr;
};

// Replaces `path` so that a reader (or a crash) sees either the old or the new
// content, never a mix: a temp file in the same directory, created 0600, is
// written, given the target's owner, group, mode and POSIX ACL (or, for a new
// file, opts.mode), fsync-ed, renamed over the target, and the directory is
// fsync-ed. An owner or group that cannot be kept (a non-root writer of
// another user's file) is an error and nothing changes; an ACL that cannot be
// copied is a warning naming the path, never dropped silently. The .bak gets
// the same owner, group, mode and ACL as the file it backs up.
// A symlink at `path` is written through (the link stays a link).
// On failure before the rename the temp file is removed and the target is
// untouched; the status names the path and the step that failed.
// Writers of one file must hold LockForUpdate(path) (base/file_lock.h) across
// their read-modify-write, or one's update may be lost.
Status AtomicWriteFile(const std::string& path, std::string_view contents, const AtomicWriteOptions& opts = {});

// The file a write to `path` replaces: symlinks at the last component are
// followed (a dangling one resolves to the path it names); directories on
// the way are left as they are. IoError on a loop.
Result<std::string> ResolveFinalSymlinks(const std::string& path);

// Creates directory `dir` and every missing directory above it with mode
// 0700, whatever the umask (each one chmod-ed after mkdir). Existing ones are
// left as they are. An error (a symlink loop, a component longer than
// NAME_MAX, a file on the way) names `dir` and the component that failed.
Status CreatePrivateDirectories(const std::string& dir);

// Where AtomicWriteFile keeps the previous version: `path + ".bak"`.
std::string BackupPathFor(const std::string& path);

}  // namespace keyrotor
