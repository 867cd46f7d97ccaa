// What every command shares: the global AWS flags and building clients from
// the environment, the shared files and those flags.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aws/clients.h"
#include "aws/curl_transport.h"
#include "base/environment.h"
#include "credentials/shared_config.h"

namespace keyrotor::cli {

struct GlobalFlags {
  std::string profile;
  std::string region;
  std::string endpoint_url;
  std::string mfa_token;  // for role profiles with mfa_serial; else asked on the terminal
};

// --region and --endpoint-url; --profile (the admin profile) too unless the
// command gives --profile another meaning.
void AddGlobalFlags(CLI::App& app, GlobalFlags& flags, bool with_profile = true);

// Exit statuses: 0 all done, 1 some item failed, 2 bad input (nothing changed).
constexpr int kExitOk = 0;
constexpr int kExitPartialFailure = 1;
constexpr int kExitUsage = 2;

// One process-wide transport: its pooled connections serve every client.
aws::HttpTransport* SharedTransport(const std::string& ca_bundle);

// Settings and clients for the admin identity, found by the SDKs' provider
// chain (or none, when `with_credentials` is false). `source_out` names the
// provider that supplied the credentials.
Result<aws::ClientFactory> BuildClientFactory(const GlobalFlags& flags, const EnvMap& env, bool with_credentials,
                                              credentials::Settings* settings_out = nullptr,
                                              std::string* source_out = nullptr);

// Prints "keyrotor: error: <message>" to stderr.
void PrintError(const Status& status);

// HOST:PORT as a listening flag takes it (`flag` names it in messages): an
// IPv6 host may be bracketed; port 0 picks a free one. The server itself
// refuses non-loopback hosts.
Result<std::pair<std::string, int>> ParseListenAddress(std::string_view flag, const std::string& text);

// Registers each command; defined in its own file.
void RegisterProfilesCommand(CLI::App& app);
void RegisterSandboxCommand(CLI::App& app);
void RegisterDemoCommand(CLI::App& app);
void RegisterWhoamiCommand(CLI::App& app);
void RegisterDoctorCommand(CLI::App& app);
void RegisterRotateCommand(CLI::App& app);
void RegisterEventCommand(CLI::App& app);
void RegisterHistoryCommand(CLI::App& app);
void RegisterLambdaCommand(CLI::App& app);
void RegisterVaultCommand(CLI::App& app);
void RegisterKeeperCommand(CLI::App& app);
void RegisterReportCommand(CLI::App& app);
void RegisterPolicyCommand(CLI::App& app);
void RegisterConfigCommand(CLI::App& app);
void RegisterAccountsCommand(CLI::App& app);
void RegisterRespondCommand(CLI::App& app);
void RegisterRunCommands(CLI::App& app);  // plan, run
void RegisterDaemonCommand(CLI::App& app);
void RegisterManpageCommand(CLI::App& app);  // hidden: the build's man pages
void RegisterVersionCommand(CLI::App& app);
// What `keyrotor version` prints, for --version.
std::string VersionText();

}  // namespace keyrotor::cli
