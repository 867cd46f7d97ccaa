// keyrotor profiles rotate
#include <fmt/core.h>

#include "cli/common.h"
#include "cli/engine_flags.h"
#include "engine/profile_rotator.h"

namespace keyrotor::cli {
namespace {

struct ProfilesRotateFlags {
  GlobalFlags global;
  std::string credentials_file;
  std::vector<std::string> profiles;
  bool remove = false;
  bool delete_unknown_inactive = false;
  int verify_timeout_s = 30;
  int concurrency = 4;
  int orphan_settle_ms = 5000;
  std::string state;
};

std::string AgeDays(TimePoint created, TimePoint now) {
  if (created == TimePoint{}) return "?";
  return std::to_string(std::chrono::duration_cast<std::chrono::hours>(now - created).count() / 24) + " d";
}

int RunProfilesRotate(const ProfilesRotateFlags& flags) {
  EnvMap env = ProcessEnvironment();
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/false);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  engine::ProfileRotationOptions options;
  options.credentials_path =
      flags.credentials_file.empty() ? credentials::CredentialsFilePath(env) : credentials::ExpandHome(flags.credentials_file, env);
  options.profiles = flags.profiles;
  options.delete_old = flags.remove;
  options.verify_timeout = std::chrono::seconds(flags.verify_timeout_s);
  options.delete_unknown_inactive = flags.delete_unknown_inactive;
  options.concurrency = flags.concurrency;
  options.orphan_settle = Duration(std::max(0, flags.orphan_settle_ms));
  // The same journal as every other rotation: a killed run is finished by the
  // next one, and `keyrotor history` shows what was done.
  Result<std::unique_ptr<engine::Journal>> journal =
      OpenJournal(flags.state.empty() ? DefaultStatePath(env) : flags.state, env);
  if (!journal.ok()) {
    PrintError(journal.status());
    return kExitUsage;
  }
  engine::ProfileRotator rotator(*factory, journal->get(), options);
  TimePoint now = Clock::Real()->Now();
  Result<std::vector<engine::ProfileOutcome>> outcomes = rotator.Run([&](const engine::ProfileOutcome& o) {
    using R = engine::ProfileOutcome::Result;
    switch (o.result) {
      case R::kRotated:
        fmt::print("rotated  {}: user {}: {} (age {}) -> {}; {}\n", o.profile, o.user, o.old_key_id,
                   AgeDays(o.old_key_created, now), o.new_key_id, o.message);
        break;
      case R::kSkipped:
        fmt::print("skipped  {}: {}\n", o.profile, o.message);
        break;
      case R::kFailed:
        fmt::print("FAILED   {}: {}\n", o.profile, o.message);
        break;
    }
    std::fflush(stdout);
  });
  if (!outcomes.ok()) {
    PrintError(outcomes.status());
    return kExitUsage;
  }
  int rotated = 0, skipped = 0, failed = 0;
  for (const auto& o : *outcomes) {
    if (o.result == engine::ProfileOutcome::Result::kRotated) ++rotated;
    if (o.result == engine::ProfileOutcome::Result::kSkipped) ++skipped;
    if (o.result == engine::ProfileOutcome::Result::kFailed) ++failed;
  }
  fmt::print("{} rotated, {} skipped, {} failed\n", rotated, skipped, failed);
  return failed ? kExitPartialFailure : kExitOk;
}

}  // namespace

void RegisterProfilesCommand(CLI::App& app) {
  auto* profiles = app.add_subcommand("profiles", "Work on the profiles of a shared credentials file");
  profiles->require_subcommand(1);
  auto flags = std::make_shared<ProfilesRotateFlags>();
  auto* rotate = profiles->add_subcommand(
      "rotate",
      "Rotate the access key of every static profile (or the named ones), each with its own key, through the "
      "crash-safe engine and its journal: create a new key, verify it with STS, write it into the file, then "
      "deactivate (or with --remove delete) the old key");
  rotate->add_option("--credentials-file", flags->credentials_file,
                     "Credentials file (default: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)");
  rotate->add_option("--profile", flags->profiles, "Rotate only this profile (repeatable)");
  rotate->add_flag("--remove", flags->remove, "Delete the old key instead of deactivating it");
  rotate->add_flag("--delete-unknown-inactive", flags->delete_unknown_inactive,
                   "At the two-key limit, delete an Inactive key keyrotor did not retire itself (without it such "
                   "a profile fails, naming the key)");
  rotate->add_option("--concurrency", flags->concurrency, "Profiles of different users rotated at once")
      ->check(CLI::Range(1, 64))
      ->default_val(4);
  rotate->add_option("--orphan-settle-ms", flags->orphan_settle_ms)->group("");  // as rotate's, for the crash tests
  rotate->add_option("--state", flags->state,
                     "Journal: a SQLite file or a postgresql:// URL (default: KEYROTOR_STATE, else "
                     "~/.local/state/keyrotor/journal.db)");
  rotate->add_option("--verify-timeout", flags->verify_timeout_s,
                     "Seconds to wait for IAM to accept the new key before giving up and undoing")
      ->check(CLI::Range(1, 3600));
  // --profile names the profiles to rotate here; each signs with its own key.
  AddGlobalFlags(*rotate, flags->global, /*with_profile=*/false);
  rotate->callback([flags] { throw CLI::RuntimeError(RunProfilesRotate(*flags)); });
}

}  // namespace keyrotor::cli
