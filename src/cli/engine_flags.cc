#include "cli/engine_flags.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "engine/crash_points.h"
#include "engine/pg_journal.h"
#include "engine/sqlite_journal.h"

namespace keyrotor::cli {

void AddDestinationSettingFlags(CLI::App& app, engine::EngineSettings& settings) {
  for (const engine::DestinationSetting& d : engine::DestinationSettings()) {
    std::string flag = "--" + std::string(d.key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    app.add_option(flag, settings.*d.setting, d.help);
  }
}

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
                   "ssm:/PATH, vault:PATH[#ENTRY], github:OWNER/REPO[@ENV][#NAME], github-org:ORG[#NAME], "
                   "gitlab:PROJECT[#KEY], gitlab-group:GROUP[#KEY], vault-kv:MOUNT/PATH, kubernetes:NAMESPACE/NAME, "
                   "exec:PROGRAM; {user} and {account} are replaced (docs/destinations.md)");
    app.add_option("--notify", f.notify, "Notify (repeatable): sns:TOPIC_ARN, webhook:URL, exec:PROGRAM");
    app.add_option("--value-template", f.value_template_file,
                   "File with the JSON written to Secrets Manager/SSM ({{access_key_id}}, {{secret_access_key}}, "
                   "{{user}}, {{account}}, {{created}}); default {\"AccessKey\": ..., \"SecretKey\": ...}");
    app.add_option("--kms-key-id", f.kms_key_id, "KMS key for Secrets Manager and SSM SecureString values");
    app.add_option("--vault-key-file", f.vault_key_file, "Key of vault: destinations (default: VAULT_PATH.key)");
    app.add_option("--webhook-secret-file", f.webhook_secret_file,
                   "File holding the HMAC key that signs webhook notifications (or KEYROTOR_WEBHOOK_SECRET)");
    app.add_option("--exec-timeout", f.exec_timeout, "Kill exec: programs after this long")->capture_default_str();
    AddDestinationSettingFlags(app, f);
  }
  // Tests shorten the wait before looking for keys a killed run left behind.
  app.add_option("--orphan-settle-ms", f.orphan_settle_ms)->group("");
  app.add_flag("--json", f.json, "One JSON object per user instead of text");
}

namespace {

// The flag that sets a config-file key: "rotate_after" -> "--rotate-after";
// the repeatable list flags are singular.
std::string FlagName(std::string_view key) {
  if (key == "exempt_tags") return "--exempt-tag";
  if (key == "exempt_groups") return "--exempt-group";
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

}  // namespace

Result<engine::EngineOptions> BuildEngineOptions(const EngineFlags& f, const EnvMap& env,
                                                 const aws::ClientFactory& admin) {
  KR_ASSIGN_OR_RETURN(engine::EngineOptions o, engine::ResolveEngineSettings(f, env, FlagName));
  o.notifier_options.transport = admin.context().transport;
  KR_RETURN_IF_ERROR(engine::ValidateEngineOptions(o, admin));
  return o;
}

std::string DefaultStateKeyPath(const EnvMap& env) {
  if (auto s = EnvValue(env, "KEYROTOR_STATE_KEY")) return *s;
  if (auto x = EnvValue(env, "XDG_STATE_HOME")) return *x + "/keyrotor/pg.key";
  return credentials::ExpandHome("~/.local/state/keyrotor/pg.key", env);
}

namespace {

// Creates the parent directory of a state file when missing, 0700 at every
// level. A path that cannot be one (a symlink loop, a component longer than
// NAME_MAX, a file on the way) is an error naming it.
Status MakeStateDirectory(const std::string& path) {
  Status made = CreatePrivateDirectories(std::filesystem::path(path).parent_path().string());
  return made.ok() ? made : made.WithContext("the state directory");
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
    if (!o.notifications_owed.empty()) {
      // The rotation may have gone well; its owners have not heard of it yet.
      line += fmt::format("; notification{} owed: ", o.notifications_owed.size() == 1 ? "" : "s");
      for (size_t i = 0; i < o.notifications_owed.size(); ++i) {
        line += (i ? ", " : "") + notify::EventName(o.notifications_owed[i]);
      }
      line += " (retried by the next run";
      line += o.notification_error.empty() ? ")" : "; last failure: " + o.notification_error + ")";
    }
    fmt::print("{}\n", line);
  }
  std::fflush(stdout);
}

}  // namespace keyrotor::cli
