// Running a user's program (exec destinations and notifiers) without leaking:
// the document goes on stdin, never in argv or the environment; the child gets
// an environment stripped of our own credentials; it is killed (the whole
// process group) when it overruns its timeout; what it prints is captured,
// bounded, and may be redacted by the caller before anyone sees it.
#pragma once

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/environment.h"
#include "base/secret.h"
#include "base/status.h"

namespace keyrotor {

struct SubprocessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string out;  // up to SubprocessOptions' limits; the rest is dropped
  std::string err;
  bool out_cut = false;  // the child wrote more than the limit: `out` ends mid-stream
  bool err_cut = false;
};

// The seam for starting a child, as base/file_system.h is for writing files:
// production calls posix_spawn(3); a test overrides Spawn to fail the way
// process creation fails (EAGAIN: the process limit is reached, ENOMEM), and
// checks what the engine does about it.
class Spawner {
 public:
  virtual ~Spawner() = default;
  // posix_spawn(3)'s contract: 0 with *pid set, or an errno value.
  virtual int Spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                    const posix_spawnattr_t* attr, char* const argv[], char* const envp[]);
  // posix_spawn itself; what a null Spawner* means everywhere.
  static Spawner* Real();
};

struct SubprocessOptions {
  // A group of its own, so a timeout kills whatever it started too. A helper
  // that may prompt on the terminal (credential_process) must stay in ours:
  // in a background group it would be stopped by SIGTTIN.
  bool own_process_group = true;
  size_t max_stdout = 64u << 10;  // the rest is read and dropped
  size_t max_stderr = 64u << 10;
  Spawner* spawner = nullptr;  // null: Spawner::Real()
};

// argv[0] is looked up in PATH when it has no '/'. NotFound when it cannot
// be executed; otherwise the result, whatever the exit status.
Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv, const Secret& stdin_data,
                                       const EnvMap& env, Duration timeout, const SubprocessOptions& options = {});

// The file RunSubprocess would run for `program` (looked up on `env`'s PATH
// when it has no '/'): NotFound, naming it, when there is no such file or it
// is not an executable regular file. For checking a spec before anything
// depends on it.
Result<std::string> FindExecutable(const std::string& program, const EnvMap& env);

// OK for a clean exit; otherwise an error naming `what` ("exec:notify.sh"),
// how it ended (exit status, signal, timeout) and the last ~1 KiB of its
// stderr with each of `secrets` replaced by "****". A timeout is
// UnknownOutcome (the child may have done its work before it was killed);
// the rest are FailedPrecondition.
Status SubprocessStatus(std::string_view what, const SubprocessResult& result, Duration timeout,
                        const std::vector<const Secret*>& secrets = {});

// `env` without anything that holds credentials: AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, AWS_ACCESS_KEY_ID,
// AWS_CONTAINER_AUTHORIZATION_TOKEN, any name with SECRET, TOKEN, PASSWORD
// or PASSWD in it (PGPASSWORD, KEYROTOR_WEBHOOK_SECRET...), the journal's
// KEYROTOR_STATE and KEYROTOR_STATE_KEY, libpq's PGPASSFILE, PGSERVICEFILE
// and PGSSLKEY, and any variable whose value holds a password or URL user
// info (base/conninfo_redact.h). The one list of what a child never sees.
EnvMap ChildEnvironment(const EnvMap& env);

// Splits "PROGRAM ARG..." as a POSIX shell splits words, with no expansion
// of any kind: blanks separate, '...' is literal, "..." honours \\ \" \$ \`,
// a backslash outside quotes escapes the next character. An unterminated
// quote or a trailing '\' is InvalidArgument.
Result<std::vector<std::string>> SplitCommandLine(std::string_view command);

// `text` with every occurrence of each secret replaced by "****". When the
// text was `cut` short (a capture limit), a secret's beginning at its very
// end is replaced too: the rest of that secret was dropped, not absent.
std::string Redact(std::string text, const std::vector<const Secret*>& secrets, bool cut = false);

}  // namespace keyrotor
