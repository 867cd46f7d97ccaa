// keyrotor keeper: a Keeper PAM post-rotation script. Reads Keeper's one
// base64 line on stdin, rotates `user`'s access key through the engine and
// hands the new key to the record writer (see contrib/keeper/README.md).
#include <fmt/core.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/subprocess.h"
#include "cli/common.h"
#include "cli/engine_flags.h"
#include "engine/exposure.h"
#include "engine/policy.h"
#include "keeper/keeper_destination.h"
#include "keeper/keeper_rotation.h"
#include "keeper/payload.h"

namespace keyrotor::cli {
namespace {

// Keeper's line is a few KiB; anything much larger is not a Keeper payload.
constexpr size_t kMaxPayload = 1u << 20;

struct KeeperFlags {
  GlobalFlags global;
  std::string state;
  std::string record_writer;
  bool print_fields = false;
  bool keep_old_key = false;
  std::string rollback;  // the new key id of the rotation to take back
  std::string verify_timeout = "60s";
  std::string writer_timeout = "60s";
};

Result<Secret> ReadStdin() {
  std::string data;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
    if (data.size() + n > kMaxPayload) {
      WipeString(data);
      return Status::InvalidArgument("Keeper payload: stdin is larger than 1 MiB");
    }
    data.append(buf, n);
  }
  std::fill(std::begin(buf), std::end(buf), '\0');
  if (std::ferror(stdin)) {
    WipeString(data);
    return Status::IoError("reading the Keeper payload from stdin");
  }
  return Secret(std::move(data));
}

int Usage(const Status& status) {
  PrintError(status);
  return kExitUsage;
}

int RunKeeper(const KeeperFlags& flags) {
  if (!flags.rollback.empty()) {
    // A rollback hands no key to anybody.
    if (!flags.record_writer.empty() || flags.print_fields) {
      return Usage(Status::InvalidArgument("--rollback takes neither --record-writer nor --print-fields"));
    }
  } else if (flags.record_writer.empty() == !flags.print_fields) {
    return Usage(Status::InvalidArgument(
        flags.print_fields ? "--record-writer and --print-fields exclude each other"
                           : "--record-writer PROGRAM is required (or --print-fields to print the new key on stdout)"));
  }
  if (!flags.record_writer.empty()) {
    Result<std::vector<std::string>> argv = SplitCommandLine(flags.record_writer);
    if (!argv.ok()) return Usage(argv.status().WithContext("--record-writer"));
    if (argv->empty()) return Usage(Status::InvalidArgument("--record-writer: no program named"));
  }
  if (!flags.rollback.empty()) {
    if (Status id = engine::ValidateExposedKeyId(flags.rollback); !id.ok()) return Usage(id.WithContext("--rollback"));
    if (flags.keep_old_key) return Usage(Status::InvalidArgument("--rollback and --keep-old-key exclude each other"));
  }
  Result<Duration> verify_timeout = engine::ParseDuration(flags.verify_timeout);
  if (!verify_timeout.ok()) return Usage(verify_timeout.status().WithContext("--verify-timeout"));
  Result<Duration> writer_timeout = engine::ParseDuration(flags.writer_timeout);
  if (!writer_timeout.ok()) return Usage(writer_timeout.status().WithContext("--writer-timeout"));

  Result<Secret> input = ReadStdin();
  if (!input.ok()) return Usage(input.status());
  Result<keeper::KeeperPayload> payload = keeper::ParseKeeperPayload(input->reveal());
  input->Wipe();
  if (!payload.ok()) return Usage(payload.status());
  if (!aws::IsValidUserName(payload->user)) {
    return Usage(Status::InvalidArgument(
        "Keeper payload: 'user' is not a valid IAM user name (1-128 of letters, digits and +=,.@_-)"));
  }
  Result<std::optional<keeper::RecordCredentials>> record_credentials = keeper::AdminCredentialsFromRecords(*payload);
  if (!record_credentials.ok()) return Usage(record_credentials.status());

  EnvMap env = ProcessEnvironment();
  std::string admin_source;
  Result<aws::ClientFactory> factory = Status::Internal("unset");
  if (record_credentials->has_value()) {
    keeper::RecordCredentials& rc = **record_credentials;
    admin_source = rc.credentials.provider;
    factory = BuildClientFactory(flags.global, env, /*with_credentials=*/false);
    if (factory.ok()) {
      *factory = factory->WithCredentials(std::make_shared<aws::StaticCredentialsProvider>(std::move(rc.credentials)));
    }
  } else {
    factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true, nullptr, &admin_source);
  }
  if (!factory.ok()) return Usage(factory.status().WithContext("admin credentials"));

  std::string state = flags.state.empty() ? DefaultStatePath(env) : flags.state;
  Result<std::unique_ptr<engine::Journal>> journal = OpenJournal(state, env);
  if (!journal.ok()) return Usage(journal.status());

  keeper::KeeperOptions options;
  options.destination = flags.print_fields || !flags.rollback.empty() ? std::string(keeper::kStdoutKind) + ":"
                                           : std::string(keeper::kWriterKind) + ":" + flags.record_writer;
  options.verify_timeout = *verify_timeout;
  options.writer_timeout = *writer_timeout;
  options.exec_env = ChildEnvironment(env);
  // Which records the writer is to update: uids are not secrets.
  options.exec_env["KEEPER_USER_RECORD_UID"] = payload->user_record_uid;
  options.exec_env["KEEPER_RESOURCE_RECORD_UID"] = payload->resource_record_uid;
  options.exec_env["KEEPER_PROVIDER_RECORD_UID"] = payload->provider_record_uid;
  options.delete_all_keys = keeper::DeleteAllKeysRequested(*payload);
  options.fields_out = stdout;
  options.keep_old_key = flags.keep_old_key;
  keeper::KeeperOutcome outcome =
      flags.rollback.empty() ? keeper::RotateForKeeper(payload->user, *factory, journal->get(), options)
                             : keeper::RevertForKeeper(payload->user, flags.rollback, *factory, journal->get(), options);

  nlohmann::json summary = {{"user", outcome.user},
                            {"account", outcome.account},
                            {"result", !outcome.ok ? "failed" : flags.rollback.empty() ? "rotated" : "rolled_back"},
                            {"engine_result", outcome.result},
                            {"new_access_key_id", outcome.new_key_id},
                            {"removed_access_key_ids", outcome.removed_key_ids},
                            {"delete_all_keys_before_rotating", options.delete_all_keys},
                            {"admin_credentials", admin_source},
                            {"kept_access_key_id", outcome.kept_key_id},
                            {"message", outcome.message}};
  // With --print-fields stdout carries the fields document alone.
  fmt::print(flags.print_fields ? stderr : stdout, "{}\n", summary.dump());
  std::fflush(stdout);
  return outcome.ok ? kExitOk : kExitPartialFailure;
}

}  // namespace

void RegisterKeeperCommand(CLI::App& app) {
  auto flags = std::make_shared<KeeperFlags>();
  auto* cmd = app.add_subcommand(
      "keeper",
      "Keeper PAM post-rotation script: read Keeper's base64 payload on stdin, rotate its user's access key "
      "(create, verify with STS, hand to the record writer, delete the old key) and print a summary without secrets");
  cmd->add_option("--record-writer", flags->record_writer,
                  "Program (with arguments) that gets {\"aws_access_key_id\", \"aws_secret_access_key\", "
                  "\"CreateDate\", \"Access_Key_ID_Removed_during_previous_rotation\"} on stdin and stores it in the "
                  "Keeper record; exit 0 = stored (see contrib/keeper/)");
  cmd->add_flag("--print-fields", flags->print_fields,
                "Instead of a record writer, print that JSON -- WITH THE NEW SECRET KEY -- on stdout (the summary "
                "goes to stderr), for Keeper setups that read the script's output");
  cmd->add_flag("--keep-old-key", flags->keep_old_key,
                "Deactivate the old key instead of deleting it, so that --rollback can still take the rotation back; "
                "the next rotation of the user deletes it first (Keeper SaaS plugins, contrib/keeper/saas/)");
  cmd->add_option("--rollback", flags->rollback,
                  "Take back the --keep-old-key rotation that created this key: re-activate the old key, delete this "
                  "one (refused once the old key is gone)");
  cmd->add_option("--state", flags->state,
                  "Journal (SQLite) holding the audit trail and any rotation in progress "
                  "(default: KEYROTOR_STATE or ~/.local/state/keyrotor/journal.db)");
  cmd->add_option("--verify-timeout", flags->verify_timeout, "How long to wait for IAM to accept the new key")
      ->capture_default_str();
  cmd->add_option("--writer-timeout", flags->writer_timeout, "Kill the record writer after this long")
      ->capture_default_str();
  AddGlobalFlags(*cmd, flags->global, /*with_profile=*/false);
  cmd->callback([flags] { throw CLI::RuntimeError(RunKeeper(*flags)); });
}

}  // namespace keyrotor::cli
