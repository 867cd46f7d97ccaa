#include "credentials/process_provider.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "base/subprocess.h"
#include "credentials/container_provider.h"

namespace keyrotor::credentials {
namespace {

constexpr size_t kMaxStdout = 1u << 20;
constexpr size_t kMaxStderr = 64u << 10;
constexpr size_t kStderrInMessage = 1024;

std::string ErrnoText(int err) { return std::strerror(err); }

// The executable for argv[0]: as given when it holds a '/', else the first
// executable match on the child's PATH (the EnvMap, not our own environment).
std::string ResolveExecutable(const std::string& name, const EnvMap& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = EnvValue(env, "PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  for (const std::string& dir : Split(path, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct ChildOutput {
  std::string out;
  std::string err;
  int wait_status = 0;
  bool timed_out = false;
};

// Owns a file descriptor for the few lines it is open.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int* out() { return &fd_; }

 private:
  int fd_ = -1;
};

class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttr {
 public:
  SpawnAttr() { posix_spawnattr_init(&attr_); }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr_); }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// Reads both pipes until they close or the deadline passes.
void Drain(int out_fd, int err_fd, std::chrono::milliseconds timeout, ChildOutput& result) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true;
  char buf[4096];
  struct BufWiper {
    char* p;
    size_t n;
    ~BufWiper() { explicit_bzero(p, n); }
  } wipe_buf{buf, sizeof buf};
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      return;
    }
    pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out_fd, POLLIN, 0};
    if (err_open) fds[n++] = {err_fd, POLLIN, 0};
    int ready = poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timeout: the loop head reports it
    for (nfds_t i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      bool is_out = fds[i].fd == out_fd;
      if (got <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      std::string& sink = is_out ? result.out : result.err;
      size_t cap = is_out ? kMaxStdout : kMaxStderr;
      if (sink.size() < cap) sink.append(buf, std::min(static_cast<size_t>(got), cap - sink.size()));
    }
  }
}

Result<ChildOutput> Run(const std::vector<std::string>& argv, const EnvMap& env, std::chrono::milliseconds timeout) {
  std::string exe = ResolveExecutable(argv[0], env);
  if (exe.empty()) return Status::NotFound("command '" + argv[0] + "' not found on PATH");

  Fd out_r, out_w, err_r, err_w;
  int p[2];
  // O_CLOEXEC: only the dup2-ed ends reach the child, and no other thread's
  // spawn inherits our pipes (which would keep them open past our child).
  if (pipe2(p, O_CLOEXEC) != 0) return Status::Internal("pipe: " + ErrnoText(errno));
  *out_r.out() = p[0];
  *out_w.out() = p[1];
  if (pipe2(p, O_CLOEXEC) != 0) return Status::Internal("pipe: " + ErrnoText(errno));
  *err_r.out() = p[0];
  *err_w.out() = p[1];

  SpawnActions actions;
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(actions.get(), err_w.get(), STDERR_FILENO);
  SpawnAttr attr;
  // The child stays in our process group (as with botocore's Popen): a helper
  // that prompts on /dev/tty for an MFA code or a passphrase would be stopped
  // by SIGTTIN in a background group. The price is that a timeout kills the
  // helper itself, not any grandchildren it left behind.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(attr.get(), &defaults);
  posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), actions.get(), attr.get(), args.data(), envp.data());
  if (rc != 0) return Status::IoError("cannot run '" + exe + "': " + ErrnoText(rc));
  out_w.Close();
  err_w.Close();

  ChildOutput result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Drain(out_r.get(), err_r.get(), timeout, result);
  // A command can close its output and keep running: the deadline bounds
  // the wait for its exit too.
  int status = 0;
  for (;;) {
    pid_t done = result.timed_out ? 0 : waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (result.timed_out || std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.wait_status = status;
  return result;
}

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

  Result<ChildOutput> run = Run(*argv, options_.env, options_.timeout);
  if (!run.ok()) return fail(run.status());
  ChildOutput& child = *run;
  struct Wiper {
    std::string& s;
    ~Wiper() { WipeString(s); }
  } wipe_stdout{child.out};

  if (child.timed_out) {
    return fail(Status::UnknownOutcome("'" + (*argv)[0] + "' did not finish within " +
                                       std::to_string(options_.timeout.count()) + " ms and was killed"));
  }
  const int ws = child.wait_status;
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    std::string how = WIFEXITED(ws) ? "exited with status " + std::to_string(WEXITSTATUS(ws))
                                    : "was killed by signal " + std::to_string(WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    std::string err = Truncated(child.err);
    return fail(Status::FailedPrecondition("'" + (*argv)[0] + "' " + how + (err.empty() ? "" : ": " + err)));
  }
  // Never quote stdout in a message: it holds the secret key.
  return ParseCredentialsJson(child.out, Name(), CredentialsJsonFormat::kProcess);
}

}  // namespace keyrotor::credentials
