// keyrotor demo: real rotations against an in-process sandbox. It builds a
// small fleet with aged keys and a credentials file, runs `profiles rotate`
// over it, then runs the rotation engine over service users through the
// staged lifecycle, then one fleet pass (`keyrotor run`) over 200 users, and
// shows the keys before and after. It prints no secret.
#include <fmt/core.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli/common.h"
#include "base/file_util.h"
#include "base/strings.h"
#include "credentials/ini_file.h"
#include "credentials/profile_writer.h"
#include "engine/profile_rotator.h"
#include "engine/rotator.h"
#include "engine/sqlite_journal.h"
#include "fleet/config.h"
#include "fleet/runner.h"
#include "sandbox/server.h"

namespace keyrotor::cli {
namespace {

struct DemoFlags {
  int consistency_ms = 1000;
  bool keep = false;
};

long AgeDays(TimePoint created) {
  return std::chrono::duration_cast<std::chrono::hours>(Clock::Real()->Now() - created).count() / 24;
}

void PrintKeys(sandbox::Sandbox& sb, const std::vector<std::string>& users) {
  fmt::print("  {:<12} {:<22} {:<9} {:>8}\n", "user", "access key id", "status", "age");
  for (const auto& user : users) {
    for (const auto& k : sb.ListKeys(user)) {
      fmt::print("  {:<12} {:<22} {:<9} {:>6} d\n", user, k.access_key_id, k.active ? "Active" : "Inactive",
                 AgeDays(k.created));
    }
  }
}

int RunEngineDemo(sandbox::Sandbox& sb, const aws::ClientFactory& admin, const std::string& dir);
int RunFleetDemo(sandbox::Sandbox& sb, const aws::ClientFactory& admin, const std::string& dir);

int RunDemo(const DemoFlags& flags) {
  std::error_code ec;
  std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  std::string dir_template = ((ec ? std::filesystem::path("/tmp") : tmp) / "keyrotor-demo-XXXXXX").string();
  if (!mkdtemp(dir_template.data())) {
    PrintError(Status::IoError(dir_template + ": cannot create a temporary directory: " + std::strerror(errno)));
    return kExitUsage;
  }
  const std::string dir = dir_template;
  const std::string creds_path = dir + "/credentials";

  sandbox::SandboxOptions options;
  options.consistency_ms = flags.consistency_ms;
  auto server = sandbox::SandboxServer::Start(options);
  if (!server.ok()) {
    PrintError(server.status());
    return kExitUsage;
  }
  sandbox::Sandbox& sb = (*server)->sandbox();
  fmt::print("== sandbox on {} (IAM eventual consistency: new keys accepted after {} ms)\n", (*server)->endpoint(),
             flags.consistency_ms);

  // A small fleet: keys of various ages; carol also has an old Inactive key,
  // so she is at the two-key limit.
  auto days_ago = [](int d) { return Clock::Real()->Now() - std::chrono::hours(24 * d); };
  struct Seed {
    const char* user;
    int age_days;
  };
  const std::vector<Seed> seeds = {{"alice", 120}, {"bob", 95}, {"carol", 30}};
  std::vector<std::string> users;
  Status status;
  for (const auto& s : seeds) {
    auto key = sb.CreateUserWithKey(s.user, days_ago(s.age_days));
    if (!key.ok()) {
      PrintError(key.status());
      return kExitUsage;
    }
    users.push_back(s.user);
    if (status.ok()) status = credentials::WriteProfile(creds_path, s.user, key->access_key_id, key->secret);
  }
  auto spare = sb.CreateUserWithKey("carol", days_ago(200));
  sandbox::Sandbox::IssuedKey admin = sb.CreateAdmin("demo-admin");
  aws::ClientContext context;
  context.transport = SharedTransport("");
  context.credentials = std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{admin.access_key_id, admin.secret.Clone(), Secret(), std::nullopt, "demo admin"});
  aws::EndpointSettings endpoints;
  endpoints.explicit_url = (*server)->endpoint();
  aws::ClientFactory admin_clients(context, "us-east-1", endpoints, {});
  if (spare.ok()) {
    // (The sandbox back-dates the admin's key, so it works at once.)
    status = admin_clients.Iam()->UpdateAccessKey("carol", spare->access_key_id, /*active=*/false);
  } else {
    status = spare.status();
  }
  if (status.ok()) {
    // A profile with temporary credentials: there is nothing to rotate there.
    auto file = credentials::IniFile::Load(creds_path);
    status = file.status();
    if (file.ok()) {
      status = file->Set("ci-session", "aws_access_key_id", "ASIAEXAMPLETEMPORARY");
      if (status.ok()) status = file->Set("ci-session", "aws_secret_access_key", "not-a-real-secret");
      if (status.ok()) status = file->Set("ci-session", "aws_session_token", "not-a-real-token");
      if (status.ok()) status = AtomicWriteFile(creds_path, file->Serialize(), {0600, false});
    }
  }
  if (!status.ok()) {
    PrintError(status);
    return kExitUsage;
  }

  fmt::print("\n== before: credentials file {} (profiles alice, bob, carol, ci-session)\n", creds_path);
  PrintKeys(sb, users);

  // carol's Inactive second key is not one keyrotor retired: the engine deletes
  // it to make room only when told to.
  fmt::print("\n== keyrotor profiles rotate --credentials-file {} --delete-unknown-inactive --endpoint-url {}\n",
             creds_path, (*server)->endpoint());
  engine::ProfileRotationOptions rotate_options;
  rotate_options.credentials_path = creds_path;
  rotate_options.delete_unknown_inactive = true;
  Result<std::unique_ptr<engine::Journal>> profiles_journal = engine::OpenSqliteJournal(dir + "/journal.db");
  if (!profiles_journal.ok()) {
    PrintError(profiles_journal.status());
    return kExitUsage;
  }
  engine::ProfileRotator rotator(admin_clients.WithCredentials(nullptr), profiles_journal->get(), rotate_options);
  TimePoint start = Clock::Real()->Now();
  int failed = 0;
  auto outcomes = rotator.Run([&](const engine::ProfileOutcome& o) {
    using R = engine::ProfileOutcome::Result;
    if (o.result == R::kRotated) {
      fmt::print("  rotated {:<10} user {:<6} {} -> {} ({})\n", o.profile, o.user, o.old_key_id, o.new_key_id,
                 o.message);
    } else if (o.result == R::kSkipped) {
      fmt::print("  skipped {:<10} {}\n", o.profile, o.message);
    } else {
      ++failed;
      fmt::print("  FAILED  {:<10} {}\n", o.profile, o.message);
    }
    std::fflush(stdout);
  });
  if (!outcomes.ok()) {
    PrintError(outcomes.status());
    return kExitUsage;
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::Real()->Now() - start);

  fmt::print("\n== after ({} ms, each new key verified with STS before the old one was deactivated)\n",
             elapsed.count());
  PrintKeys(sb, users);
  struct stat st {};
  stat(creds_path.c_str(), &st);
  fmt::print("\n  {} now holds the new keys (mode {:o}); the previous version is kept as {}\n", creds_path,
             st.st_mode & 0777, creds_path + ".bak");
  auto file = credentials::IniFile::Load(creds_path);
  if (file.ok()) {
    for (const auto& user : users) {
      fmt::print("  [{}] aws_access_key_id = {}\n", user, file->Get(user, "aws_access_key_id").value_or("?"));
    }
  }
  profiles_journal->reset();  // part 2 opens the same journal: `history` shows both
  failed += RunEngineDemo(sb, admin_clients, dir);
  failed += RunFleetDemo(sb, admin_clients, dir);
  (*server)->Stop();
  if (!flags.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  } else {
    fmt::print("  (kept {})\n", dir);
  }
  return failed ? kExitPartialFailure : kExitOk;
}


// Part two: the rotation engine (`keyrotor rotate`) over service users, with
// Secrets Manager, SSM and the local vault as destinations and SNS
// notifications, through the whole staged lifecycle.
int RunEngineDemo(sandbox::Sandbox& sb, const aws::ClientFactory& admin, const std::string& dir) {
  auto days_ago = [](int d) { return Clock::Real()->Now() - std::chrono::hours(24 * d); };
  const std::vector<std::pair<std::string, int>> seeds = {{"svc-billing", 120}, {"svc-etl", 95}, {"svc-web", 20}};
  std::vector<std::string> users;
  for (const auto& [user, age] : seeds) {
    if (!sb.CreateUserWithKey(user, days_ago(age)).ok()) return 1;
    users.push_back(user);
  }
  Result<aws::SnsClient> sns = admin.Sns();
  Result<std::string> topic = sns.ok() ? sns->CreateTopic("key-rotations") : Result<std::string>(sns.status());
  Result<std::unique_ptr<engine::Journal>> journal = engine::OpenSqliteJournal(dir + "/journal.db");
  if (!topic.ok() || !journal.ok()) {
    PrintError(!topic.ok() ? topic.status() : journal.status());
    return 1;
  }
  engine::EngineOptions options;
  options.destinations = {"secretsmanager:apps/{user}", "ssm:/keys/{user}", "vault:" + dir + "/vault#{user}"};
  options.notify = {"sns:" + *topic};
  fmt::print("\n\n== part 2: the rotation engine (staged: new key -> old deactivated -> old deleted)\n");
  fmt::print("== keyrotor rotate --user svc-billing --user svc-etl --user svc-web \\\n"
             "     --to secretsmanager:apps/{{user}} --to ssm:/keys/{{user}} --to vault:{}/vault#{{user}} \\\n"
             "     --notify sns:{}\n",
             dir, *topic);
  PrintKeys(sb, users);
  int failed = 0;
  auto run = [&](const std::string& title, const engine::StepOverrides& overrides) {
    fmt::print("\n{}\n", title);
    engine::Rotator rotator(admin, journal->get(), options);
    for (const std::string& user : users) {
      engine::UserOutcome o = rotator.RotateUser(user, overrides);
      failed += o.failed() ? 1 : 0;
      std::string actions;
      for (const auto& a : o.actions) actions += (actions.empty() ? "" : ", ") + a;
      fmt::print("  {:<12} {:<11} {}{}{}\n", user, engine::ResultName(o.result), actions,
                 actions.empty() || o.message.empty() ? "" : "; ", o.message);
    }
    std::fflush(stdout);
  };
  run("-- day 0: keys older than 90 days get a successor, verified with STS before it is handed out", {});
  PrintKeys(sb, users);
  engine::StepOverrides later;
  later.deactivate_now = true;
  run("-- day 10 (--deactivate-after elapsed; the last-used guard checks the old keys are idle)", later);
  later = {};
  later.delete_now = true;
  run("-- day 20 (--delete-after elapsed)", later);
  PrintKeys(sb, users);
  std::optional<Secret> current = sb.SecretValue("apps/svc-billing");
  fmt::print("\n  Secrets Manager apps/svc-billing (AWSCURRENT) holds a {}-byte JSON value; SSM /keys/svc-billing and "
             "the vault hold the same key\n",
             current ? current->size() : 0);
  fmt::print("  {} notifications published to {}\n", sb.PublishedMessages(*topic).size(), *topic);
  fmt::print("\n== keyrotor history (the audit trail; no secrets), last 6 lines:\n");
  engine::AuditFilter filter;
  filter.limit = 6;
  Result<std::vector<engine::AuditRecord>> audit = (*journal)->ReadAudit(filter);
  if (audit.ok()) {
    for (const auto& a : *audit) fmt::print("  {}\n", engine::AuditToJson(a).dump());
  }
  return failed;
}

// Part three: one fleet pass (`keyrotor run --config keyrotor.toml`) over 200
// users whose keys are 91 to 150 days old: a selection by regex, a Secrets
// Manager name template, users in parallel.
int RunFleetDemo(sandbox::Sandbox& sb, const aws::ClientFactory& admin, const std::string& dir) {
  constexpr int kUsers = 200;
  for (int i = 0; i < kUsers; ++i) {
    TimePoint created = Clock::Real()->Now() - std::chrono::hours(24 * (91 + i % 60));
    if (!sb.CreateUserWithKey(fmt::format("fleet-{:03d}", i), created).ok()) return 1;
  }
  const std::string path = dir + "/keyrotor.toml";
  const std::string text = fmt::format(
      "state = \"{}/fleet-journal.db\"\n"
      "concurrency = 32\n"
      "[[selection]]\n"
      "user_regex = \"^fleet-\"\n"
      "mode = \"immediate\"\n"
      "to = \"secretsmanager:Account_{{account}}_User_{{user}}_AccessKey\"\n",
      dir);
  Result<fleet::FleetConfig> config = fleet::ParseFleetConfig(text, path, EnvMap{});
  Status written = config.ok() ? AtomicWriteFile(path, text, {0600, false}) : config.status();
  Result<std::unique_ptr<engine::Journal>> journal =
      written.ok() ? engine::OpenSqliteJournal(config->state) : Result<std::unique_ptr<engine::Journal>>(written);
  if (!journal.ok()) {
    PrintError(journal.status());
    return 1;
  }
  fmt::print("\n\n== part 3: a fleet pass over {} users (immediate: new key -> verified -> stored -> old deleted)\n",
             kUsers);
  fmt::print("== keyrotor run --config {}\n", path);
  for (const std::string& line : Split(text, '\n')) {
    if (!line.empty()) fmt::print("     {}\n", line);
  }
  fleet::FleetRunner runner(*config, admin, journal->get());
  fleet::RunSummary summary = runner.Run({});
  fmt::print("\n  {} users in {:.1f} s ({} at once):", summary.users,
             std::chrono::duration<double>(summary.finished - summary.started).count(), config->concurrency);
  for (const auto& [result, count] : summary.results) fmt::print(" {} {}", count, result);
  fmt::print("; {} failed\n", summary.failed_users);
  std::string account = summary.accounts.empty() ? "" : summary.accounts[0].id;
  for (const char* user : {"fleet-000", "fleet-199"}) {
    auto keys = sb.ListKeys(user);
    std::string name = "Account_" + account + "_User_" + user + "_AccessKey";
    fmt::print("  {:<10} {} key ({}), held by secret {}: {}\n", user, keys.size(),
               keys.empty() ? "-" : keys[0].access_key_id, name, sb.SecretValue(name) ? "yes" : "MISSING");
  }
  return summary.ok() ? 0 : 1;
}

}  // namespace

void RegisterDemoCommand(CLI::App& app) {
  auto flags = std::make_shared<DemoFlags>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Demonstrate real rotations against a local sandbox: profiles rotate over a credentials file, then the "
      "rotation engine's staged lifecycle with Secrets Manager, SSM, vault and SNS, then a fleet pass over 200 users");
  cmd->add_option("--consistency-ms", flags->consistency_ms, "Simulated IAM propagation delay")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  cmd->add_flag("--keep", flags->keep, "Keep the temporary directory with the credentials file");
  cmd->callback([flags] { throw CLI::RuntimeError(RunDemo(*flags)); });
}

}  // namespace keyrotor::cli
