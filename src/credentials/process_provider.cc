#include "credentials/process_provider.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/subprocess.h"
#include "credentials/container_provider.h"

namespace keyrotor::credentials {
namespace {

constexpr size_t kMaxStdout = 1u << 20;
constexpr size_t kMaxStderr = 64u << 10;
constexpr size_t kStderrInMessage = 1024;

std::string Truncated(std::string_view text) {
  text = Trim(text);
  if (text.size() <= kStderrInMessage) return std::string(text);
  return std::string(text.substr(0, kStderrInMessage)) + "... (truncated)";
}

}  // namespace

Result<std::vector<std::string>> SplitCommandLine(std::string_view line) { return keyrotor::SplitCommandLine(line); }

ProcessCredentialsProvider::ProcessCredentialsProvider(ProcessOptions options) : options_(std::move(options)) {}

std::string ProcessCredentialsProvider::Name() const {
  return options_.profile.empty() ? "credential_process" : "credential_process (profile " + options_.profile + ")";
}

Result<aws::Credentials> ProcessCredentialsProvider::GetCredentials() {
  auto fail = [&](const Status& s) { return s.WithContext(Name()); };
  Result<std::vector<std::string>> argv = SplitCommandLine(options_.command_line);
  if (!argv.ok()) return fail(argv.status());
  if (argv->empty()) return fail(Status::InvalidArgument("command line is empty"));

  // Stays in our process group: a helper may prompt on the terminal.
  SubprocessOptions spawn;
  spawn.own_process_group = false;
  spawn.max_stdout = kMaxStdout;
  spawn.max_stderr = kMaxStderr;
  Result<SubprocessResult> run = RunSubprocess(*argv, Secret(), options_.env, options_.timeout, spawn);
  if (!run.ok()) return fail(run.status());
  SubprocessResult& child = *run;
  struct Wiper {
    std::string& s;
    ~Wiper() { WipeString(s); }
  } wipe_stdout{child.out};

  if (child.timed_out) {
    return fail(Status::UnknownOutcome("'" + (*argv)[0] + "' did not finish within " +
                                       std::to_string(options_.timeout.count()) + " ms and was killed"));
  }
  if (child.signal != 0 || child.exit_code != 0) {
    std::string how = child.signal == 0 ? "exited with status " + std::to_string(child.exit_code)
                                        : "was killed by signal " + std::to_string(child.signal);
    std::string err = Truncated(child.err);
    return fail(Status::FailedPrecondition("'" + (*argv)[0] + "' " + how + (err.empty() ? "" : ": " + err)));
  }
  // Never quote stdout in a message: it holds the secret key.
  return ParseCredentialsJson(child.out, Name(), CredentialsJsonFormat::kProcess);
}

}  // namespace keyrotor::credentials
