#include "cli/engine_flags.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "base/subprocess.h"
#include "engine/crash_points.h"
#include "engine/pg_journal.h"
#include "engine/sqlite_journal.h"

namespace keyrotor::cli {

void AddEngineFlags(CLI::App& app, EngineFlags& f, bool with_handover) {
  app.add_option("--state", f.state,
                 "Journal holding rotations in progress, locks and the audit trail: a SQLite file, or a "
                 "postgresql://... URL shared by several instances (sealing key: KEYROTOR_STATE_KEY or "
                 "~/.local/state/keyrotor/pg.key) (default: KEYROTOR_STATE or ~/.local/state/keyrotor/journal.db)");
  app.add_option("--mode", f.mode, "staged (default), immediate, or delete-first (accepts a gap without a key)")
      ->capture_default_str();
  app.add_option("--rotate-after", f.rotate_after, "Rotate an active key this old")->capture_default_str();
  app.add_option("--deactivate-after", f.deactivate_after, "Staged: deactivate the old key this long after the new one")
      ->capture_default_str();
  app.add_option("--delete-after", f.delete_after, "Staged: delete the old key this long after deactivating it")
      ->capture_default_str();
  app.add_option("--max-age", f.max_age, "No active key gets older than this (0: no limit beyond the above)")
      ->capture_default_str();
  app.add_option("--quiet-period", f.quiet_period,
                 "The old key is not deactivated while it was used after the hand-over and within this period")
      ->capture_default_str();
  app.add_option("--force-after", f.force_after,
                 "Deactivate the old key anyway once the new key is this old, even if still in use")
      ->capture_default_str();
  app.add_option("--verify-timeout", f.verify_timeout, "How long to wait for IAM to accept the new key")
      ->capture_default_str();
  app.add_option("--exempt-tag", f.exempt_tags, "Users with this tag KEY=VALUE are never rotated (repeatable)")
      ->capture_default_str();
  app.add_option("--exempt-group", f.exempt_groups, "Members of this group are never rotated (repeatable)");
  app.add_flag("--delete-unknown-inactive", f.delete_unknown_inactive,
               "At the two-key limit, delete an inactive key keyrotor did not retire itself");
  if (with_handover) {
    app.add_option("--to", f.to,
                   "Hand the new key to DEST (repeatable): credentials-file:PATH#PROFILE, secretsmanager:NAME, "
                   "ssm:/PATH, vault:PATH[#ENTRY], exec:PROGRAM; {user} and {account} are replaced");
    app.add_option("--notify", f.notify, "Notify (repeatable): sns:TOPIC_ARN, webhook:URL, exec:PROGRAM");
    app.add_option("--value-template", f.value_template_file,
                   "File with the JSON written to Secrets Manager/SSM ({{access_key_id}}, {{secret_access_key}}, "
                   "{{user}}, {{account}}, {{created}}); default {\"AccessKey\": ..., \"SecretKey\": ...}");
    app.add_option("--kms-key-id", f.kms_key_id, "KMS key for Secrets Manager and SSM SecureString values");
    app.add_option("--vault-key-file", f.vault_key_file, "Key of vault: destinations (default: VAULT_PATH.key)");
    app.add_option("--webhook-secret-file", f.webhook_secret_file,
                   "File holding the HMAC key that signs webhook notifications (or KEYROTOR_WEBHOOK_SECRET)");
    app.add_option("--exec-timeout", f.exec_timeout, "Kill exec: programs after this long")->capture_default_str();
  }
  // Tests shorten the wait before looking for keys a killed run left behind.
  app.add_option("--orphan-settle-ms", f.orphan_settle_ms)->group("");
  app.add_flag("--json", f.json, "One JSON object per user instead of text");
}

namespace {

Result<Duration> DurationFlag(const std::string& flag, const std::string& value) {
  Result<Duration> d = engine::ParseDuration(value);
  if (!d.ok()) return Status::InvalidArgument(flag + ": " + d.status().message());
  return d;
}

}  // namespace

Result<engine::EngineOptions> BuildEngineOptions(const EngineFlags& f, const EnvMap& env,
                                                 const aws::ClientFactory& admin) {
  engine::EngineOptions o;
  engine::Policy& p = o.policy;
  Result<engine::RotationMode> mode = engine::ParseMode(f.mode);
  if (!mode.ok()) return Status::InvalidArgument("--mode: " + mode.status().message());
  p.mode = *mode;
  KR_ASSIGN_OR_RETURN(p.rotate_after, DurationFlag("--rotate-after", f.rotate_after));
  KR_ASSIGN_OR_RETURN(p.deactivate_after, DurationFlag("--deactivate-after", f.deactivate_after));
  KR_ASSIGN_OR_RETURN(p.delete_after, DurationFlag("--delete-after", f.delete_after));
  KR_ASSIGN_OR_RETURN(p.max_age, DurationFlag("--max-age", f.max_age));
  KR_ASSIGN_OR_RETURN(p.quiet_period, DurationFlag("--quiet-period", f.quiet_period));
  KR_ASSIGN_OR_RETURN(p.force_after, DurationFlag("--force-after", f.force_after));
  KR_ASSIGN_OR_RETURN(p.verify_timeout, DurationFlag("--verify-timeout", f.verify_timeout));
  p.exempt_tags.clear();
  for (const std::string& t : f.exempt_tags) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) return Status::InvalidArgument("--exempt-tag: expected KEY=VALUE, got '" + t + "'");
    p.exempt_tags.push_back({t.substr(0, eq), t.substr(eq + 1)});
  }
  p.exempt_groups = f.exempt_groups;
  p.delete_unknown_inactive = f.delete_unknown_inactive;
  KR_RETURN_IF_ERROR(p.Validate());

  o.destinations = f.to;
  o.notify = f.notify;
  if (!f.value_template_file.empty()) {
    Result<std::string> tmpl = ReadFile(f.value_template_file);
    if (!tmpl.ok()) return tmpl.status().WithContext("--value-template");
    o.destination_options.value_template = *tmpl;
  }
  o.destination_options.kms_key_id = f.kms_key_id;
  o.destination_options.vault_key_file = f.vault_key_file;
  KR_ASSIGN_OR_RETURN(Duration exec_timeout, DurationFlag("--exec-timeout", f.exec_timeout));
  o.destination_options.exec_timeout = exec_timeout;
  o.destination_options.exec_env = ChildEnvironment(env);
  o.notifier_options.transport = admin.context().transport;
  o.notifier_options.exec_timeout = exec_timeout;
  o.notifier_options.exec_env = o.destination_options.exec_env;
  if (!f.webhook_secret_file.empty()) {
    Result<std::string> key = ReadFile(f.webhook_secret_file);
    if (!key.ok()) return key.status().WithContext("--webhook-secret-file");
    std::string k = std::move(key).value();
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
    o.notifier_options.webhook_secret = Secret(std::move(k));
  } else if (auto key = EnvValue(env, "KEYROTOR_WEBHOOK_SECRET")) {
    o.notifier_options.webhook_secret = Secret(*key);
  }
  o.orphan_settle = Duration(std::max(0, f.orphan_settle_ms));
  KR_RETURN_IF_ERROR(engine::ValidateEngineOptions(o, admin));
  return o;
}

std::string DefaultStatePath(const EnvMap& env) {
  if (auto s = EnvValue(env, "KEYROTOR_STATE")) return *s;
  if (auto x = EnvValue(env, "XDG_STATE_HOME")) return *x + "/keyrotor/journal.db";
  return credentials::ExpandHome("~/.local/state/keyrotor/journal.db", env);
}

std::string DefaultStateKeyPath(const EnvMap& env) {
  if (auto s = EnvValue(env, "KEYROTOR_STATE_KEY")) return *s;
  if (auto x = EnvValue(env, "XDG_STATE_HOME")) return *x + "/keyrotor/pg.key";
  return credentials::ExpandHome("~/.local/state/keyrotor/pg.key", env);
}

namespace {

// Creates the parent directory of a state file (mode 0700) when missing.
Status MakeStateDirectory(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IoError(dir.string() + ": cannot create the state directory: " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<engine::Journal>> OpenJournal(const std::string& state, const EnvMap& env) {
  std::unique_ptr<engine::Journal> journal;
  if (engine::IsPostgresUrl(state)) {
    std::string key_file = DefaultStateKeyPath(env);
    KR_RETURN_IF_ERROR(MakeStateDirectory(key_file));
    KR_ASSIGN_OR_RETURN(journal, engine::OpenPostgresJournal(state, key_file));
  } else {
    KR_RETURN_IF_ERROR(MakeStateDirectory(state));
    KR_ASSIGN_OR_RETURN(journal, engine::OpenSqliteJournal(state));
  }
  // The crash-safety tests kill the process at each journal step.
  if (auto point = EnvValue(env, "KEYROTOR_CRASH_POINT")) {
    KR_ASSIGN_OR_RETURN(engine::CrashPoint p, engine::ParseCrashPoint(*point));
    return engine::WithCrashPoint(std::move(journal), p);
  }
  return journal;
}

void PrintOutcome(const engine::UserOutcome& o, bool json) {
  if (json) {
    fmt::print("{}\n", engine::OutcomeToJson(o).dump());
  } else {
    std::string line = fmt::format("{:<11} {}", engine::ResultName(o.result), o.user);
    if (!o.actions.empty()) {
      line += ": ";
      for (size_t i = 0; i < o.actions.size(); ++i) line += (i ? ", " : "") + o.actions[i];
    }
    if (!o.message.empty()) line += (o.actions.empty() ? ": " : "; ") + o.message;
    if (o.next_step_at) line += " (next step " + FormatIso8601(*o.next_step_at) + ")";
    fmt::print("{}\n", line);
  }
  std::fflush(stdout);
}

}  // namespace keyrotor::cli
