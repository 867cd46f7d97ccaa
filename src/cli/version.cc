// keyrotor version (and --version): what this binary is and what it carries.
// A platform team asks this of every artifact (the bundle, the .deb, the
// image, the Lambda package) before trusting it with production keys.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "cli/build_info.h"
#include "cli/common.h"
#include "engine/pg_journal.h"
#include "engine/sqlite_journal.h"

namespace keyrotor::cli {
namespace {

std::string Compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

// Name and value, in the order printed.
std::vector<std::pair<std::string, std::string>> VersionFields() {
  return {{"version", KEYROTOR_VERSION},
          {"commit", kBuildInfo.commit},
          {"built", kBuildInfo.date},
          {"compiler", Compiler()},
          {"curl", aws::CurlVersion()},
          {"openssl", OpenSslVersion()},
          {"sqlite", engine::SqliteVersion()},
          {"libpq", engine::LibpqVersion()},
          {"libsodium", SodiumVersion()}};
}

int RunVersion(bool json) {
  auto fields = VersionFields();
  if (json) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, value] : fields) j[name] = value;
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  fmt::print("keyrotor {}\n", fields[0].second);
  for (size_t i = 1; i < fields.size(); ++i) fmt::print("  {:<10} {}\n", fields[i].first, fields[i].second);
  return kExitOk;
}

}  // namespace

std::string VersionText() {
  auto fields = VersionFields();
  std::string out = "keyrotor " + fields[0].second;
  for (size_t i = 1; i < fields.size(); ++i) out += fmt::format("\n  {:<10} {}", fields[i].first, fields[i].second);
  return out;
}

void RegisterVersionCommand(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("version",
                                 "Print keyrotor's version, git commit, build date, compiler, and the versions of "
                                 "curl, OpenSSL, SQLite, libpq and libsodium it runs with");
  cmd->add_flag("--json", *json, "One JSON object instead of text");
  cmd->callback([json] { throw CLI::RuntimeError(RunVersion(*json)); });
}

}  // namespace keyrotor::cli
