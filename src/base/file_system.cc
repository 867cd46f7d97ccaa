#include "base/file_system.h"

#include <unistd.h>

#include <cstdio>

namespace keyrotor {

ssize_t FileSystem::Write(int fd, const void* data, size_t size) { return ::write(fd, data, size); }

int FileSystem::Fsync(int fd) { return ::fsync(fd); }

int FileSystem::Rename(const std::string& from, const std::string& to) { return ::rename(from.c_str(), to.c_str()); }

FileSystem* FileSystem::Real() {
  static FileSystem real;
  return &real;
}

}  // namespace keyrotor
