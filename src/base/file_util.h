// Whole-file reads and crash-safe replacement of files that hold secrets
// (~/.aws/credentials, the local vault, the journal's side files).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace keyrotor {

// The whole file. NotFound when it (or a directory on the way) does not exist,
// IoError for anything else; the message names the path and the errno text.
// The bytes may be secret: callers that are done with them should WipeString().
Result<std::string> ReadFile(const std::string& path);

struct AtomicWriteOptions {
  mode_t mode = 0600;        // applied with fchmod, so the umask does not matter
  bool keep_backup = false;  // copy the previous content to BackupPathFor(path) first
};

// Replaces `path` so that a reader (or a crash) sees either the old or the new
// content, never a mix: a temp file in the same directory, created 0600, is
// written, chmod-ed, fsync-ed, renamed over the target, and the directory is
// fsync-ed. A symlink at `path` is written through (the link stays a link).
// On failure before the rename the temp file is removed and the target is
// untouched; the status names the path and the step that failed.
Status AtomicWriteFile(const std::string& path, std::string_view contents, const AtomicWriteOptions& opts = {});

// Where AtomicWriteFile keeps the previous version: `path + ".bak"`.
std::string BackupPathFor(const std::string& path);

}  // namespace keyrotor
