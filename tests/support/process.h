// Runs keyrotor (or any program) as a child for CLI-level tests: captures
// stdout and stderr, passes an explicit environment, bounds the run time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace keyrotor::testing {

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv with exactly `env` as its environment (PATH is added if absent).
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         int timeout_seconds = 120, const std::string& stdin_data = "");

// A child left running (e.g. `keyrotor sandbox`); killed with SIGTERM on destruction.
class BackgroundProcess {
 public:
  static std::unique_ptr<BackgroundProcess> Start(const std::vector<std::string>& argv,
                                                  const std::map<std::string, std::string>& env);
  ~BackgroundProcess();
  // Reads stdout until a line containing `needle` appears (or timeout); returns that line.
  std::string WaitForLine(const std::string& needle, int timeout_seconds = 30);
  // SIGTERM, then waits; returns everything it printed.
  ProcessResult Stop();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool stopped_ = false;
};

// The path of the keyrotor binary under test.
std::string KeyrotorBinary();
// A fresh temporary directory, removed by the caller (or left in /tmp).
std::string MakeTempDir(const std::string& prefix = "keyrotor-test");

}  // namespace keyrotor::testing
