// The seam for the file system calls whose failure matters most: the write,
// fsync and rename of a crash-safe replacement (AtomicWriteFile). Production
// uses the calls themselves; a test overrides one to inject a full disk
// (write fails with ENOSPC), an I/O error (EIO) on fsync, or a rename that
// fails, and checks what the engine does about it. Kept as narrow as ninja's
// DiskInterface: only what a fault test needs, in the calls' own errno style.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace keyrotor {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // write(2): the bytes written, or -1 with errno set.
  virtual ssize_t Write(int fd, const void* data, size_t size);
  // fsync(2) of a file or a directory: 0, or -1 with errno set.
  virtual int Fsync(int fd);
  // rename(2): 0, or -1 with errno set.
  virtual int Rename(const std::string& from, const std::string& to);

  // The calls themselves; what a null FileSystem* means everywhere.
  static FileSystem* Real();
};

}  // namespace keyrotor
