#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>

#include "base/conninfo_redact.h"
#include "base/strings.h"

namespace keyrotor {
namespace {

// How long we keep reading after the child has exited while something it
// left behind (a backgrounded grandchild) still holds its stdout or stderr.
constexpr std::chrono::milliseconds kAfterExitGrace{200};
// The poll() tick that also notices the child's exit (we do not install a
// SIGCHLD handler: that is process-wide state a library must not take).
constexpr int kPollTickMs = 20;


class Fd {
 public:
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  int* out() { return &fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

Status MakePipe(Fd& read_end, Fd& write_end) {
  int p[2];
  // O_CLOEXEC: only the ends dup2-ed onto 0/1/2 reach our child, and a spawn
  // on another thread does not inherit them (it would hold them open).
  if (pipe2(p, O_CLOEXEC) != 0) return Status::Internal("pipe: " + ErrnoText(errno));
  *read_end.out() = p[0];
  *write_end.out() = p[1];
  return Status::Ok();
}

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

// Blocks SIGPIPE on this thread while we write to the child's stdin, so a
// child that exits without reading makes write() fail with EPIPE instead of
// killing us. A SIGPIPE our writes raised is consumed before unblocking; one
// that was already pending is left for its owner.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_mask_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_set_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_set_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// argv[0] as given when it holds a '/', else the first executable match on
// the child's PATH (the EnvMap's, not ours: the child's world is `env`).
std::string ResolveExecutable(const std::string& name, const EnvMap& env) {
  if (name.find('/') != std::string::npos) return name;
  // execvp's default when PATH is unset (confstr(_CS_PATH) on glibc).
  std::string path = EnvValue(env, "PATH").value_or("/bin:/usr/bin");
  for (const std::string& dir : Split(path, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

// Appends up to the capture limit; the rest is read and dropped so a chatty
// child never blocks on a full pipe.
void Capture(std::string& sink, bool& cut, const char* data, size_t n, size_t limit) {
  size_t room = sink.size() < limit ? limit - sink.size() : 0;
  sink.append(data, std::min(n, room));
  if (n > room) cut = true;
}

// True once the child has exited; leaves it a zombie (WNOWAIT) so its pid,
// and with it its process group id, cannot be reused before we kill the group.
bool ChildHasExited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return info.si_pid == pid;
}

bool IsCredentialName(std::string_view name) {
  // Our own credentials, by their exact names (AWS_ACCESS_KEY_ID is not
  // secret alone, but it names the identity the child must not borrow).
  // KEYROTOR_STATE may be a postgresql:// URL with the journal's password,
  // and KEYROTOR_STATE_KEY names the file that opens the journal's sealed
  // secrets; PGPASSFILE, PGSERVICEFILE and PGSSLKEY point libpq at the
  // journal's credentials. A hook has no business with our journal.
  static const std::set<std::string, std::less<>> kExact = {
      "AWS_ACCESS_KEY_ID",  "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
      "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY",        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
      "KEYROTOR_STATE",     "KEYROTOR_STATE_KEY",    "PGPASSFILE",
      "PGSERVICEFILE",      "PGSSLKEY",
  };
  // Paths to files, not secrets, and what a hook running on ECS/EKS needs to
  // use the workload's own role (never keyrotor's rotated keys). The token
  // files stay guarded by their permissions, as they are for any process of
  // this user.
  static const std::set<std::string, std::less<>> kHarmless = {
      "AWS_WEB_IDENTITY_TOKEN_FILE",
      "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  };
  if (kExact.contains(name)) return true;
  if (kHarmless.contains(name)) return false;
  std::string lower = ToLower(name);
  for (std::string_view word : {"secret", "token", "password", "passwd"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

int Spawner::Spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                   const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  return posix_spawn(pid, path, actions, attr, argv, envp);
}

Spawner* Spawner::Real() {
  static Spawner real;
  return &real;
}

Result<std::string> FindExecutable(const std::string& program, const EnvMap& env) {
  if (program.empty()) return Status::NotFound("no program named");
  std::string exe = ResolveExecutable(program, env);
  if (exe.empty()) return Status::NotFound("program '" + program + "' not found on PATH");
  if (!IsExecutableFile(exe)) return Status::NotFound("'" + exe + "' is not an executable file");
  return exe;
}

Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv, const Secret& stdin_data,
                                       const EnvMap& env, Duration timeout, const SubprocessOptions& options) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidArgument("empty command");
  std::string exe = ResolveExecutable(argv[0], env);
  if (exe.empty()) return Status::NotFound("command '" + argv[0] + "' not found on PATH");

  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  KR_RETURN_IF_ERROR(MakePipe(in_r, in_w));
  KR_RETURN_IF_ERROR(MakePipe(out_r, out_w));
  KR_RETURN_IF_ERROR(MakePipe(err_r, err_w));
  // Our ends never block: a child that stops reading must not stall the
  // loop that enforces its timeout.
  for (int fd : {in_w.get(), out_r.get(), err_r.get()}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  SpawnActions actions;
  posix_spawn_file_actions_adddup2(actions.get(), in_r.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(actions.get(), out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(actions.get(), err_w.get(), STDERR_FILENO);
  // Belt and braces for descriptors someone opened without O_CLOEXEC (a
  // database library's journal file, a socket): the child gets 0, 1 and 2.
  posix_spawn_file_actions_addclosefrom_np(actions.get(), 3);

  SpawnAttr attr;
  // Its own process group (see SubprocessOptions), so a timeout kills
  // whatever it started too.
  if (options.own_process_group) posix_spawnattr_setpgroup(attr.get(), 0);
  // Dispositions we (or our parent) set to "ignore" survive exec; the child
  // starts with defaults and an empty mask whatever this thread blocks.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(attr.get(), &defaults);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  posix_spawnattr_setsigmask(attr.get(), &empty_mask);
  posix_spawnattr_setflags(attr.get(), (options.own_process_group ? POSIX_SPAWN_SETPGROUP : 0) |
                                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Exactly `env`: never our own environ, which may hold our credentials.
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  Spawner* spawner = options.spawner ? options.spawner : Spawner::Real();
  int rc = spawner->Spawn(&pid, exe.c_str(), actions.get(), attr.get(), args.data(), envp.data());
  if (rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR) {
    return Status::NotFound("cannot run '" + exe + "': " + ErrnoText(rc));
  }
  if (rc != 0) return Status::Internal("cannot run '" + exe + "': " + ErrnoText(rc));
  in_r.Close();
  out_w.Close();
  err_w.Close();

  SubprocessResult result;
  const std::string& input = stdin_data.reveal();
  size_t written = 0;
  if (input.empty()) in_w.Close();

  char buf[4096];
  struct BufWiper {
    char* p;
    size_t n;
    ~BufWiper() { explicit_bzero(p, n); }
  } wipe_buf{buf, sizeof buf};

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  std::optional<std::chrono::steady_clock::time_point> exited_at;
  {
    ScopedSigpipeBlock no_sigpipe;
    while (out_r.get() >= 0 || err_r.get() >= 0 || in_w.get() >= 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        result.timed_out = true;
        break;
      }
      if (!exited_at && ChildHasExited(pid)) {
        exited_at = now;
        in_w.Close();  // nobody left to read it
      }
      if (exited_at && now - *exited_at >= kAfterExitGrace) break;

      pollfd fds[3];
      nfds_t n = 0;
      if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
      if (out_r.get() >= 0) fds[n++] = {out_r.get(), POLLIN, 0};
      if (err_r.get() >= 0) fds[n++] = {err_r.get(), POLLIN, 0};
      if (n == 0) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      int ready = poll(fds, n, static_cast<int>(std::min<long long>(left, kPollTickMs)));
      if (ready < 0 && errno != EINTR) return Status::Internal("poll: " + ErrnoText(errno));
      if (ready <= 0) continue;

      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == in_w.get()) {
          ssize_t put = write(in_w.get(), input.data() + written, input.size() - written);
          if (put > 0) {
            written += static_cast<size_t>(put);
            if (written == input.size()) in_w.Close();  // EOF tells the child the document is complete
          } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
            in_w.Close();  // EPIPE: the child closed stdin without reading it all
          }
          continue;
        }
        Fd& src = fds[i].fd == out_r.get() ? out_r : err_r;
        ssize_t got = read(src.get(), buf, sizeof buf);
        if (got > 0) {
          bool is_out = &src == &out_r;
          Capture(is_out ? result.out : result.err, is_out ? result.out_cut : result.err_cut, buf,
                  static_cast<size_t>(got), is_out ? options.max_stdout : options.max_stderr);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          src.Close();
        }
      }
    }
  }
  in_w.Close();

  // The child may have closed its output and kept running: the deadline
  // bounds the wait for its exit too.
  while (!result.timed_out && !ChildHasExited(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    usleep(kPollTickMs * 1000);
  }
  if (result.timed_out) {
    // The child is not yet reaped, so its pid (the group id) is still ours.
    kill(options.own_process_group ? -pid : pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

Status SubprocessStatus(std::string_view what, const SubprocessResult& result, Duration timeout,
                        const std::vector<const Secret*>& secrets) {
  std::string how;
  if (result.timed_out) {
    how = "did not finish within " + std::to_string(timeout.count()) + " ms and was killed";
  } else if (result.signal != 0) {
    how = "was killed by signal " + std::to_string(result.signal);
  } else if (result.exit_code != 0) {
    how = "exited with status " + std::to_string(result.exit_code);
  } else {
    return Status::Ok();
  }
  // Redact before cutting, so a secret that straddles the cut is still caught;
  // one that straddled the capture limit left only its beginning.
  std::string err = Redact(result.err, secrets, result.err_cut);
  std::string_view tail = Trim(err);
  constexpr size_t kStderrInMessage = 1024;
  std::string shown;
  if (tail.size() > kStderrInMessage) {
    shown = "..." + std::string(tail.substr(tail.size() - kStderrInMessage));
  } else {
    shown = std::string(tail);
  }
  std::string message = std::string(what) + " " + how + (shown.empty() ? "" : ": " + shown);
  WipeString(err);
  // A timed-out child may have done its work before it was killed.
  if (result.timed_out) return Status::UnknownOutcome(std::move(message));
  return Status::FailedPrecondition(std::move(message));
}

EnvMap ChildEnvironment(const EnvMap& env) {
  EnvMap out;
  for (const auto& [name, value] : env) {
    // By value too: a DATABASE_URL or HTTPS_PROXY with user:password@, or a
    // libpq connection string, whatever the variable is called.
    if (!IsCredentialName(name) && !HoldsConnectionSecret(value)) out.emplace(name, value);
  }
  return out;
}

Result<std::vector<std::string>> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i == line.size()) return Status::InvalidArgument("command line ends with a backslash");
      if (line[i] != '\n') word += line[i];  // backslash-newline joins lines
    } else if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return Status::InvalidArgument("command line has an unterminated ' quote");
      word.append(line.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i == line.size()) return Status::InvalidArgument("command line has an unterminated \" quote");
        if (line[i] == '"') break;
        // As in sh: inside double quotes a backslash escapes only \ " $ ` and newline.
        if (line[i] == '\\' && i + 1 < line.size() &&
            std::string_view("\\\"$`\n").find(line[i + 1]) != std::string_view::npos) {
          ++i;
          if (line[i] != '\n') word += line[i];
        } else {
          word += line[i];
        }
      }
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string Redact(std::string text, const std::vector<const Secret*>& secrets, bool cut) {
  std::vector<const std::string*> values;
  for (const Secret* s : secrets) {
    if (s != nullptr && !s->empty()) values.push_back(&s->reveal());
  }
  // Longest first: a secret that contains another is replaced whole.
  std::sort(values.begin(), values.end(),
            [](const std::string* a, const std::string* b) { return a->size() > b->size(); });
  for (const std::string* value : values) {
    for (size_t pos = text.find(*value); pos != std::string::npos; pos = text.find(*value, pos + 4)) {
      // Overwrite before shrinking, so the bytes do not linger past the string's end.
      std::fill(text.begin() + static_cast<std::ptrdiff_t>(pos),
                text.begin() + static_cast<std::ptrdiff_t>(pos + value->size()), '*');
      text.replace(pos, value->size(), "****");
    }
  }
  if (cut) {
    // The longest beginning of any secret that the text ends with.
    size_t longest = 0;
    for (const std::string* value : values) {
      for (size_t n = std::min(value->size() - 1, text.size()); n > longest; --n) {
        if (text.compare(text.size() - n, n, *value, 0, n) == 0) {
          longest = n;
          break;
        }
      }
    }
    if (longest > 0) {
      std::fill(text.end() - static_cast<std::ptrdiff_t>(longest), text.end(), '*');
      text.replace(text.size() - longest, longest, "****");
    }
  }
  return text;
}

}  // namespace keyrotor
