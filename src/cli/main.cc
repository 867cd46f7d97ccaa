// keyrotor's entry point: parse flags and dispatch to one command file.
#include <cstring>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
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
