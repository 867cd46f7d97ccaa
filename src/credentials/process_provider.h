// credential_process (aws-wire.md §8): run a profile's command and read
// credentials from its stdout. The command line is split with POSIX shell
// quoting rules and executed directly, never through a shell, so a profile
// value cannot smuggle in redirections or a second command.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "aws/client.h"
#include "base/environment.h"

namespace keyrotor::credentials {

struct ProcessOptions {
  std::string profile{};       // for messages
  std::string command_line{};  // the profile's credential_process value
  EnvMap env{};                // the child's whole environment (and PATH for the lookup)
  // A helper that waits on a hardware token or a browser may take a while;
  // one that hangs must not hang a rotation forever.
  std::chrono::milliseconds timeout{60000};
};

class ProcessCredentialsProvider : public aws::CredentialsProvider {
 public:
  explicit ProcessCredentialsProvider(ProcessOptions options);
  // Runs the command every time; wrap in CachingCredentialsProvider.
  Result<aws::Credentials> GetCredentials() override;

 private:
  std::string Name() const;
  ProcessOptions options_;
};

// Splits a command line as a POSIX shell would split words: '...' literal,
// "..." with \\ \" \$ \` escapes, backslash escapes outside quotes. No
// expansion of any kind. An unterminated quote or trailing '\' is an error.
// The same splitting as exec destinations and notifiers (base/subprocess.h).
Result<std::vector<std::string>> SplitCommandLine(std::string_view line);

}  // namespace keyrotor::credentials
