#include "cli/commands.h"

#include <CLI/CLI.hpp>

#include "cli/common.h"

namespace keyrotor::cli {

int Main(int argc, char** argv) {
  CLI::App app{"keyrotor: rotate AWS IAM user access keys safely, on a schedule"};
  app.set_version_flag("--version", [] { return VersionText(); }, "Print the version, commit and library versions, and exit");
  app.require_subcommand(1);
  RegisterRotateCommand(app);
  RegisterEventCommand(app);
  RegisterHistoryCommand(app);
  RegisterLambdaCommand(app);
  RegisterProfilesCommand(app);
  RegisterSandboxCommand(app);
  RegisterDemoCommand(app);
  RegisterWhoamiCommand(app);
  RegisterDoctorCommand(app);
  RegisterVaultCommand(app);
  RegisterKeeperCommand(app);
  RegisterReportCommand(app);
  RegisterPolicyCommand(app);
  RegisterConfigCommand(app);
  RegisterAccountsCommand(app);
  RegisterRespondCommand(app);
  RegisterRunCommands(app);
  RegisterDaemonCommand(app);
  RegisterManpageCommand(app);
  RegisterVersionCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    // Commands report their exit status this way from their callbacks.
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return kExitOk;
}

}  // namespace keyrotor::cli
