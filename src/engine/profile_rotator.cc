#include "engine/profile_rotator.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "base/file_lock.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "engine/rotator.h"
#include "engine/verify.h"

namespace keyrotor::engine {
namespace {

using credentials::FileKind;
using credentials::IniFile;
using ProfileResult = ProfileOutcome::Result;
using UserResult = UserOutcome::Result;

// Keys that make a profile something other than a static long-term key.
constexpr const char* kNonStaticKeys[] = {"role_arn", "source_profile", "credential_process", "credential_source",
                                          "sso_session", "sso_start_url", "web_identity_token_file"};

}  // namespace

ProfileRotator::ProfileRotator(aws::ClientFactory factory, Journal* journal, ProfileRotationOptions options)
    : factory_(std::move(factory)), journal_(journal), options_(std::move(options)) {}

Result<std::vector<ProfileOutcome>> ProfileRotator::Run(const ProfileReporter& report) {
  KR_ASSIGN_OR_RETURN(IniFile file, IniFile::Load(options_.credentials_path));
  std::vector<std::string> profiles;
  for (const std::string& section : file.Sections()) {
    if (auto name = credentials::ProfileNameOfSection(section, FileKind::kCredentials)) profiles.push_back(*name);
  }
  if (!options_.profiles.empty()) {
    for (const std::string& wanted : options_.profiles) {
      if (std::find(profiles.begin(), profiles.end(), wanted) == profiles.end()) {
        return Status::NotFound("profile '" + wanted + "' is not in " + options_.credentials_path);
      }
    }
    profiles = options_.profiles;
  }
  if (options_.keep_backup) {
    // PATH.bak is the file as it was before this run (the destination's own
    // per-write backup is off for profile rotations: with several profiles it
    // would only keep the version before the last one). Rewriting the file as
    // it is, with keep_backup, makes the .bak the way every write does: under
    // the file's lock, with its owner, group, mode and ACL.
    KR_ASSIGN_OR_RETURN(FileLock lock, LockForUpdate(options_.credentials_path));
    KR_ASSIGN_OR_RETURN(std::string text, ReadFile(options_.credentials_path));
    AtomicWriteOptions keep;
    keep.keep_backup = true;
    Status backed_up = AtomicWriteFile(options_.credentials_path, text, keep);
    WipeString(text);
    KR_RETURN_IF_ERROR(backed_up.WithContext("keeping the file as it was before the run"));
  }

  std::vector<ProfileOutcome> outcomes(profiles.size());
  std::atomic<size_t> next{0};
  std::mutex report_mu;
  auto worker = [&] {
    for (size_t i = next++; i < profiles.size(); i = next++) {
      outcomes[i] = RotateOne(profiles[i]);
      if (report) {
        std::lock_guard<std::mutex> lock(report_mu);
        report(outcomes[i]);
      }
    }
  };
  size_t threads = std::min<size_t>(std::max(1, options_.concurrency), profiles.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return outcomes;
}

ProfileOutcome ProfileRotator::RotateOne(const std::string& profile) {
  ProfileOutcome out;
  out.profile = profile;
  auto fail = [&](const Status& s) {
    out.result = ProfileResult::kFailed;
    out.message = s.ToString();
    return out;
  };
  auto skip = [&](std::string why) {
    out.result = ProfileResult::kSkipped;
    out.message = std::move(why);
    return out;
  };

  // Read the profile's current key: an earlier run (or another profile's
  // rotation) may have rewritten the file.
  Result<IniFile> loaded = IniFile::Load(options_.credentials_path);
  if (!loaded.ok()) return fail(loaded.status());
  std::optional<std::string> section = loaded->SectionForProfile(profile, FileKind::kCredentials);
  if (!section) return fail(Status::NotFound("profile is no longer in " + options_.credentials_path));
  if (loaded->Get(*section, "aws_session_token") || loaded->Get(*section, "aws_security_token")) {
    return skip("temporary credentials (session token): nothing to rotate");
  }
  for (const char* key : kNonStaticKeys) {
    if (loaded->Get(*section, key)) return skip(std::string("not a static key profile (") + key + ")");
  }
  std::optional<std::string> key_id = loaded->Get(*section, "aws_access_key_id");
  std::optional<std::string> secret_text = loaded->Get(*section, "aws_secret_access_key");
  if (!key_id || !secret_text) {
    if (secret_text) WipeString(*secret_text);
    return fail(Status::InvalidArgument(options_.credentials_path + ":" + std::to_string(loaded->LineOf(*section)) +
                                        ": profile has no aws_access_key_id/aws_secret_access_key pair"));
  }
  if (profile.find('#') != std::string::npos) {
    WipeString(*secret_text);
    return fail(Status::InvalidArgument("a profile name with '#' cannot be named as a credentials-file destination"));
  }
  const Secret secret(std::move(*secret_text));
  out.old_key_id = *key_id;

  // The profile's own key signs everything of this rotation: who it is, and
  // the rotation itself.
  aws::ClientFactory as_profile = factory_.WithCredentials(StaticKey(*key_id, secret, "profile " + profile));
  Result<aws::StsClient> sts = as_profile.Sts();
  if (!sts.ok()) return fail(sts.status());
  Result<aws::CallerIdentity> identity = sts->GetCallerIdentity();
  if (!identity.ok()) return fail(identity.status().WithContext("identifying the key's user"));
  out.user = aws::UserNameFromArn(identity->arn);
  if (out.user.empty()) {
    return fail(Status::FailedPrecondition("key belongs to " + identity->arn + ", not an IAM user: not rotated"));
  }

  EngineOptions engine;
  engine.policy.mode = options_.delete_old ? RotationMode::kImmediate : RotationMode::kStaged;
  engine.policy.deactivate_after = Duration(0);
  engine.policy.delete_after = options_.delete_after;
  // The command means "rotate now", and it retires the old key at once: the
  // profile's own calls with it would trip the last-used guard.
  engine.policy.quiet_period = Duration(0);
  engine.policy.exempt_tags.clear();  // a self-managing user may not read its tags; the file lists what to rotate
  engine.policy.delete_unknown_inactive = options_.delete_unknown_inactive;
  engine.policy.verify_timeout = options_.verify_timeout;
  engine.destinations = {"credentials-file:" + options_.credentials_path + "#" + profile};
  engine.destination_options.credentials_file_backup = false;  // Run() kept the file as it was
  engine.orphan_settle = options_.orphan_settle;
  Rotator rotator(as_profile, journal_, engine);

  StepOverrides now;
  now.force_rotate = true;
  UserOutcome run = rotator.RotateUser(out.user, now);
  if (run.state == StateName(RotationState::kOldDeactivated) && run.actions.empty()) {
    // An earlier `profiles rotate` left its old key Inactive: it makes room
    // now (the same as at the two-key limit), then the profile is rotated.
    StepOverrides finish;
    finish.delete_now = true;
    UserOutcome finished = rotator.RotateUser(out.user, finish);
    if (finished.result != UserResult::kCompleted) {
      out.rotation_id = finished.rotation_id;
      return fail(Status::FailedPrecondition("finishing the earlier rotation " + finished.rotation_id + ": " +
                                             finished.message));
    }
    out.removed_inactive_key_id = finished.old_key_id;
    run = rotator.RotateUser(out.user, now);
  }
  out.rotation_id = run.rotation_id;
  if (!run.new_key_id.empty()) out.new_key_id = run.new_key_id;
  if (!run.old_key_id.empty()) out.old_key_id = run.old_key_id;
  if (run.oldest_active_key_created && run.old_key_id == out.old_key_id &&
      run.state != StateName(RotationState::kOldDeactivated) && run.state != StateName(RotationState::kDone)) {
    out.old_key_created = *run.oldest_active_key_created;
  }
  if (!run.deleted_inactive_key_id.empty()) out.removed_inactive_key_id = run.deleted_inactive_key_id;

  bool retired = run.state == StateName(RotationState::kOldDeactivated) || run.state == StateName(RotationState::kDone);
  switch (run.result) {
    case UserResult::kCompleted:
    case UserResult::kProgressed:
    case UserResult::kNotDue:
      if (!retired) break;
      out.result = ProfileResult::kRotated;
      out.message = run.state == StateName(RotationState::kDone) ? "old key deleted" : "old key deactivated";
      if (run.created_key_id.empty()) out.message += " (finishing an interrupted rotation)";
      if (!out.removed_inactive_key_id.empty()) {
        out.message += "; inactive key " + out.removed_inactive_key_id + " deleted first (two-key limit)";
      }
      return out;
    case UserResult::kSkipped:
      return skip(run.message);
    case UserResult::kLocked:
      return fail(Status::FailedPrecondition("another keyrotor is working on user " + out.user));
    case UserResult::kRolledBack:
      out.new_key_id.clear();
      return fail(Status::FailedPrecondition(run.message + "; new key " + run.new_key_id +
                                             " deleted, file restored, old key " + run.old_key_id + " kept"));
    case UserResult::kFailed:
    case UserResult::kDeferred:
      break;
  }
  std::string message = run.message;
  if (!retired && !run.new_key_id.empty()) {
    message += " (rotation " + run.rotation_id + " is " + run.state + "; the next run goes on from there)";
  }
  return fail(Status::FailedPrecondition(message));
}

}  // namespace keyrotor::engine
