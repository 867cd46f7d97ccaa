// Exclusive locks that serialise the writers of a file, across the threads of
// one process and across processes (`keyrotor run`, `rotate`, `profiles
// rotate`, `vault put` on one file at once).
//
// The lock is an flock on a side file, never on the file it guards: the
// guarded file is replaced by rename (AtomicWriteFile), so a writer blocked on
// the old inode would wake up holding a lock on a file nobody reads any more.
// flock belongs to the open file description: two FileLocks of one process
// exclude each other just as two processes do, and the kernel drops the lock
// when its holder dies (no stale lock after kill -9).
//
// Lock files are opened without following a symlink at their name
// (O_NOFOLLOW) and must be regular files: a link planted there is refused and
// its target neither created nor truncated. They are created 0600 and hold no
// data; they are never deleted (unlinking a lock file while another process
// waits on its descriptor would let two processes hold "the" lock).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "base/status.h"

namespace keyrotor {

struct FileLockOptions {
  // false: do not wait; Acquire returns an unheld FileLock when another holder has it.
  bool wait = true;
  // The owner a lock file gets when this call creates it (root locking a file
  // of another user: the lock belongs to that user too, so the user's own
  // keyrotor can take it later). Unset: the process's own.
  std::optional<uid_t> uid = std::nullopt;
  std::optional<gid_t> gid = std::nullopt;
};

class FileLock {
 public:
  // Locks `path` itself (created when missing). The directory it is in may be
  // reached through symlinks; the last component may not be one.
  static Result<FileLock> Acquire(const std::string& path, const FileLockOptions& opts = {});
  // Locks `name` inside `dir`, creating `dir` (mode 0700) when missing. `dir`
  // must be a real directory: a symlink there is refused, so a lock directory
  // cannot be redirected somewhere else.
  static Result<FileLock> AcquireInDirectory(const std::string& dir, const std::string& name,
                                             const FileLockOptions& opts = {});

  FileLock() = default;  // holds nothing
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();  // closing the descriptor releases the lock

  bool held() const { return fd_ >= 0; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Where the lock guarding read-modify-write updates of `path` lives:
// TARGET.lock beside the file a symlink at `path` points to (two names of one
// file share one lock), e.g. ~/.aws/credentials.lock.
Result<std::string> UpdateLockPathFor(const std::string& path);

// Blocks until this caller holds the lock guarding updates of `path` (see
// UpdateLockPathFor). Every read-modify-write of a shared file — the
// credentials file, the vault — holds it from its read to its rename. When
// root creates the lock for a file another user owns, the lock file gets that
// file's owner and group.
Result<FileLock> LockForUpdate(const std::string& path);

}  // namespace keyrotor
