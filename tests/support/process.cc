#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace keyrotor::testing {
namespace {

std::vector<std::string> EnvStrings(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  bool has_path = false;
  for (const auto& [k, v] : env) {
    out.push_back(k + "=" + v);
    has_path = has_path || k == "PATH";
  }
  if (!has_path) out.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Spawns with stdin from `in_fd` (or /dev/null) and pipes for stdout/stderr.
int Spawn(const std::vector<std::string>& argv_in, const std::map<std::string, std::string>& env_in, int* out_fd,
          int* err_fd, int* in_write_fd) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC) || pipe2(in_pipe, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv_copy = argv_in;
  std::vector<std::string> env_copy = EnvStrings(env_in);
  auto argv = CStrings(argv_copy);
  auto envp = CStrings(env_copy);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(in_pipe[0]);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawnp failed: ") + std::strerror(rc) + " " + argv_in[0]);
  *out_fd = out_pipe[0];
  *err_fd = err_pipe[0];
  *in_write_fd = in_pipe[1];
  return pid;
}

// Reads whatever arrives within `ms`; an fd at EOF is closed and set to -1.
// Returns false once both are closed.
bool Pump(int& out_fd, int& err_fd, std::string& out, std::string& err, int ms) {
  if (out_fd < 0 && err_fd < 0) return false;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  if (poll(fds, 2, ms) <= 0) return true;
  char buf[65536];
  int* fd_refs[2] = {&out_fd, &err_fd};
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t r = read(fds[i].fd, buf, sizeof buf);
    if (r > 0) {
      (i == 0 ? out : err).append(buf, static_cast<size_t>(r));
    } else if (r == 0 || errno != EINTR) {
      close(fds[i].fd);
      *fd_refs[i] = -1;
    }
  }
  return out_fd >= 0 || err_fd >= 0;
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         int timeout_seconds, const std::string& stdin_data) {
  ProcessResult result;
  int out_fd, err_fd, in_fd;
  pid_t pid = Spawn(argv, env, &out_fd, &err_fd, &in_fd);
  if (!stdin_data.empty()) {
    ssize_t ignored = write(in_fd, stdin_data.data(), stdin_data.size());
    (void)ignored;
  }
  close(in_fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool timed_out = false;
  while (Pump(out_fd, err_fd, result.out, result.err, 100)) {
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
  }
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = (!timed_out && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return result;
}

std::unique_ptr<BackgroundProcess> BackgroundProcess::Start(const std::vector<std::string>& argv,
                                                            const std::map<std::string, std::string>& env) {
  auto p = std::unique_ptr<BackgroundProcess>(new BackgroundProcess());
  int in_fd;
  p->pid_ = Spawn(argv, env, &p->out_fd_, &p->err_fd_, &in_fd);
  close(in_fd);
  return p;
}

std::string BackgroundProcess::WaitForLine(const std::string& needle, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    size_t pos = out_.find(needle);
    if (pos != std::string::npos) {
      size_t start = out_.rfind('\n', pos);
      start = start == std::string::npos ? 0 : start + 1;
      size_t end = out_.find('\n', pos);
      if (end != std::string::npos) return out_.substr(start, end - start);
    }
    if (!Pump(out_fd_, err_fd_, out_, err_, 100)) break;
  }
  return "";
}

ProcessResult BackgroundProcess::Stop() {
  ProcessResult result;
  if (!stopped_) {
    stopped_ = true;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Pump(out_fd_, err_fd_, out_, err_, 100)) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        break;
      }
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
    int status = 0;
    waitpid(pid_, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  result.out = out_;
  result.err = err_;
  return result;
}

BackgroundProcess::~BackgroundProcess() { Stop(); }

std::string KeyrotorBinary() { return KEYROTOR_BINARY; }

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace keyrotor::testing
