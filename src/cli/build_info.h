// What `keyrotor version` says about the build itself; the definition is
// generated at build time (cmake/build_info.cmake).
#pragma once

namespace keyrotor::cli {

struct BuildInfo {
  const char* commit;  // "872f8e2a1b3c", "-dirty" appended for uncommitted changes, or "unknown"
  const char* date;    // ISO 8601 UTC: SOURCE_DATE_EPOCH, or when this commit was first built
};
extern const BuildInfo kBuildInfo;

}  // namespace keyrotor::cli
