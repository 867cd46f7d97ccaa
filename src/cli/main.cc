// keyrotor's entry point: parse flags and dispatch to one command file.
#include <sys/prctl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // First, before anything holds a secret: not dumpable. No core file of our
  // memory, and no other process of our user (an exec: hook we run, anything
  // else running as us) can read /proc/<pid>/environ, mem or maps, or ptrace
  // us; only a process with CAP_SYS_PTRACE can. Programs we spawn get their
  // own dumpable flag back at exec.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::fprintf(stderr, "keyrotor: warning: cannot mark the process non-dumpable: %s\n", std::strerror(errno));
  }
  // In a Lambda deployment package the binary is `bootstrap`, which Lambda
  // runs without arguments: that means the custom runtime.
  const char* slash = std::strrchr(argv[0], '/');
  if (std::strcmp(slash ? slash + 1 : argv[0], "bootstrap") == 0) {
    static char lambda[] = "lambda";
    std::vector<char*> args(argv, argv + argc);
    args.insert(args.begin() + 1, lambda);
    args.push_back(nullptr);
    return keyrotor::cli::Main(argc + 1, args.data());
  }
  return keyrotor::cli::Main(argc, argv);
}
