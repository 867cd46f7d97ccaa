#include "cli/commands.h"

#include <CLI/CLI.hpp>

namespace keyrotor::cli {

int Main(int argc, char** argv) {
  CLI::App app{"keyrotor: rotate AWS IAM user access keys safely"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace keyrotor::cli
