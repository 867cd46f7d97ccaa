// keyrotor sandbox: the local AWS-compatible endpoint, in the foreground.
#include <fmt/core.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "cli/common.h"
#include "credentials/profile_writer.h"
#include "base/strings.h"
#include "sandbox/seed.h"
#include "sandbox/server.h"

namespace keyrotor::cli {
namespace {

struct SandboxFlags {
  std::string listen = "127.0.0.1:0";
  std::string write_credentials;
  std::string admin_profile = "default";
  std::string admin_user = "sandbox-admin";
  int latency_ms = 0;
  double fail_rate = 0;
  double throttle_rps = 0;
  int consistency_ms = 0;
  double iam_rps_per_account = 0;
  int credential_report_ms = 0;
  int accounts = 0;
  uint64_t seed = 0;
};

int RunSandbox(const SandboxFlags& flags) {
  auto listen = ParseListenAddress("--listen", flags.listen);
  if (!listen.ok()) {
    PrintError(listen.status());
    return kExitUsage;
  }
  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  sandbox::SandboxOptions options;
  options.latency_ms = flags.latency_ms;
  options.fail_rate = flags.fail_rate;
  options.throttle_rps = flags.throttle_rps;
  options.consistency_ms = flags.consistency_ms;
  options.iam_rps_per_account = flags.iam_rps_per_account;
  options.credential_report_ms = flags.credential_report_ms;
  options.seed = flags.seed;
  auto server = sandbox::SandboxServer::Start(options, listen->first, listen->second);
  if (!server.ok()) {
    PrintError(server.status());
    return kExitUsage;
  }
  sandbox::Sandbox::IssuedKey admin = (*server)->sandbox().CreateAdmin(flags.admin_user);
  if (!flags.write_credentials.empty()) {
    Status written =
        credentials::WriteProfile(flags.write_credentials, flags.admin_profile, admin.access_key_id, admin.secret);
    if (!written.ok()) {
      PrintError(written);
      return kExitUsage;
    }
  }
  fmt::print("keyrotor sandbox listening on {}\n", (*server)->endpoint());
  if (flags.accounts > 0) {
    Result<sandbox::OrganizationLayout> org = sandbox::SeedOrganization((*server)->sandbox(), flags.accounts);
    if (!org.ok()) {
      PrintError(org.status());
      return kExitUsage;
    }
    fmt::print("organization: management account {}, root {}; OUs Workloads {} (Prod {}, Dev {}), Sandbox {}\n",
               (*server)->sandbox().options().account_id, org->root, org->workloads_ou, org->prod_ou, org->dev_ou,
               org->sandbox_ou);
    fmt::print("member accounts (role OrganizationAccountAccessRole): {}\n", Join(org->members, ", "));
  }
  fmt::print("request counts per account and action: GET {}{}\n", (*server)->endpoint(), sandbox::kCallCountsPath);
  // What AWS does on finding a key in public: quarantine its user, send the Health event (the answer).
  fmt::print("expose a key (AWS quarantine + Health event for keyrotor respond --event -): POST {}{}?access_key_id=AKIA...\n",
             (*server)->endpoint(), sandbox::kExposePath);
  fmt::print("admin user {} with key {}{}\n", admin.user, admin.access_key_id,
             flags.write_credentials.empty() ? " (use --write-credentials to get its secret into a profile)"
                                             : " written to profile '" + flags.admin_profile + "' in " +
                                                   flags.write_credentials);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*server)->Stop();
  auto stats = (*server)->sandbox().stats();
  fmt::print("stopped: {} requests, {} faults injected, {} throttled, {} auth failures\n", stats.requests,
             stats.faults_injected, stats.throttled, stats.auth_failures);
  return kExitOk;
}

}  // namespace

void RegisterSandboxCommand(CLI::App& app) {
  auto flags = std::make_shared<SandboxFlags>();
  auto* cmd = app.add_subcommand(
      "sandbox", "Run a local AWS-compatible endpoint (IAM, STS, Organizations, Secrets Manager, SSM, SNS) for tests and demos");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (loopback only; port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--write-credentials", flags->write_credentials,
                  "Write the admin user's key as a profile into this credentials file (mode 0600)");
  cmd->add_option("--admin-profile", flags->admin_profile, "Profile name for --write-credentials")
      ->capture_default_str();
  cmd->add_option("--latency-ms", flags->latency_ms, "Add this latency to every response")->check(CLI::Range(0, 600000));
  cmd->add_option("--fail-rate", flags->fail_rate, "Probability of an injected 500/503/connection reset")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--throttle-rps", flags->throttle_rps, "Throttle above this many requests/s (0 = off)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--consistency-ms", flags->consistency_ms,
                  "IAM eventual consistency: new keys work, and deleted keys stop working, only after this delay")
      ->check(CLI::Range(0, 3600000));
  cmd->add_option("--iam-rps-per-account", flags->iam_rps_per_account,
                  "IAM's per-account request limit: throttle each account's IAM calls above this rate (0 = off)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--credential-report-ms", flags->credential_report_ms,
                  "How long generating an IAM credential report takes")
      ->check(CLI::Range(0, 3600000));
  cmd->add_option("--accounts", flags->accounts,
                  "Make the sandbox an AWS Organization with this many member accounts (OUs Workloads/Prod, "
                  "Workloads/Dev, Sandbox), each with OrganizationAccountAccessRole")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--seed", flags->seed, "Seed for reproducible fault injection (0 = random)");
  cmd->callback([flags] { throw CLI::RuntimeError(RunSandbox(*flags)); });
}

}  // namespace keyrotor::cli
