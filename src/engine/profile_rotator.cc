#include "engine/profile_rotator.h"

#include <algorithm>

#include "base/file_lock.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "engine/verify.h"

namespace keyrotor::engine {
namespace {

using credentials::FileKind;
using credentials::IniFile;
using Outcome = ProfileOutcome::Result;

// Keys that make a profile something other than a static long-term key.
constexpr const char* kNonStaticKeys[] = {"role_arn", "source_profile", "credential_process", "credential_source",
                                          "sso_session", "sso_start_url", "web_identity_token_file"};

// Moves the profile's key pair from `from_id` to `to_id` in the file as it is
// now, under the file's update lock (base/file_lock.h): other writers (a
// fleet run's credentials-file destination, another `profiles rotate`) may
// have replaced the file since it was read, and their profiles must survive.
// Nothing is written when the profile already holds `to_id`; the profile
// holding neither key is an error and nothing changes.
Status MoveProfileKey(const std::string& path, const std::string& section, const std::string& from_id,
                      const std::string& to_id, const Secret& to_secret, const AtomicWriteOptions& opts) {
  KR_ASSIGN_OR_RETURN(FileLock lock, LockForUpdate(path));
  KR_ASSIGN_OR_RETURN(IniFile file, IniFile::Load(path));
  std::optional<std::string> held = file.Get(section, "aws_access_key_id");
  if (held == to_id) return Status::Ok();
  if (held != from_id) {
    return Status::FailedPrecondition(path + ": profile [" + section + "] holds " +
                                      (held ? "key " + *held : std::string("no key")) + ", not " + from_id +
                                      ": someone changed it; not written");
  }
  KR_RETURN_IF_ERROR(file.Set(section, "aws_access_key_id", to_id));
  KR_RETURN_IF_ERROR(file.Set(section, "aws_secret_access_key", to_secret.reveal()));
  std::string text = file.Serialize();
  Status written = AtomicWriteFile(path, text, opts);
  WipeString(text);
  return written;
}

}  // namespace

ProfileRotator::ProfileRotator(aws::ClientFactory factory, ProfileRotationOptions options)
    : factory_(std::move(factory)), options_(std::move(options)) {}

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
  std::vector<ProfileOutcome> outcomes;
  for (const std::string& profile : profiles) {
    outcomes.push_back(RotateOne(profile));
    if (report) report(outcomes.back());
  }
  return outcomes;
}

ProfileOutcome ProfileRotator::RotateOne(const std::string& profile) {
  ProfileOutcome out;
  out.profile = profile;
  auto fail = [&](const Status& s) {
    out.result = Outcome::kFailed;
    out.message = s.ToString();
    return out;
  };
  auto skip = [&](std::string why) {
    out.result = Outcome::kSkipped;
    out.message = std::move(why);
    return out;
  };

  // Re-read the file for each profile: an earlier profile rewrote it.
  Result<IniFile> loaded = IniFile::Load(options_.credentials_path);
  if (!loaded.ok()) return fail(loaded.status());
  IniFile file = std::move(loaded).value();
  std::optional<std::string> section = file.SectionForProfile(profile, FileKind::kCredentials);
  if (!section) return fail(Status::NotFound("profile is no longer in " + options_.credentials_path));

  if (file.Get(*section, "aws_session_token") || file.Get(*section, "aws_security_token")) {
    return skip("temporary credentials (session token): nothing to rotate");
  }
  for (const char* key : kNonStaticKeys) {
    if (file.Get(*section, key)) return skip(std::string("not a static key profile (") + key + ")");
  }
  std::optional<std::string> old_id = file.Get(*section, "aws_access_key_id");
  std::optional<std::string> old_secret_text = file.Get(*section, "aws_secret_access_key");
  if (!old_id || !old_secret_text) {
    return fail(Status::InvalidArgument(options_.credentials_path + ":" + std::to_string(file.LineOf(*section)) +
                                        ": profile has no aws_access_key_id/aws_secret_access_key pair"));
  }
  const Secret old_secret(std::move(*old_secret_text));
  out.old_key_id = *old_id;

  aws::ClientFactory as_old = factory_.WithCredentials(StaticKey(*old_id, old_secret, "profile " + profile));
  auto sts_old = as_old.Sts();
  auto iam_old = as_old.Iam();
  if (!sts_old.ok()) return fail(sts_old.status());
  if (!iam_old.ok()) return fail(iam_old.status());

  // 1. Who is this key? Rotation is for IAM users' long-term keys only.
  auto identity = sts_old->GetCallerIdentity();
  if (!identity.ok()) return fail(identity.status().WithContext("identifying the key's user"));
  out.user = aws::UserNameFromArn(identity->arn);
  if (out.user.empty()) {
    return fail(Status::FailedPrecondition("key belongs to " + identity->arn + ", not an IAM user: not rotated"));
  }

  // 2. The two-key limit, handled before creating anything.
  auto keys = iam_old->ListAccessKeys();
  if (!keys.ok()) return fail(keys.status().WithContext("listing the user's keys"));
  auto current = std::find_if(keys->begin(), keys->end(),
                              [&](const aws::AccessKeyMetadata& k) { return k.access_key_id == *old_id; });
  if (current == keys->end()) {
    return fail(Status::FailedPrecondition("key " + *old_id + " is not among user " + out.user + "'s keys"));
  }
  out.old_key_created = current->create_date;
  for (const auto& other : *keys) {
    if (other.access_key_id == *old_id) continue;
    if (other.active()) {
      return fail(Status::FailedPrecondition("user " + out.user + " already has two active keys (" + *old_id +
                                             " and " + other.access_key_id +
                                             "); deactivate the one not in use, then run again"));
    }
    // An Inactive second key is not in use by definition: it makes room.
    Status deleted = iam_old->DeleteAccessKey("", other.access_key_id);
    if (!deleted.ok()) {
      return fail(deleted.WithContext("deleting inactive key " + other.access_key_id + " to make room"));
    }
    out.removed_inactive_key_id = other.access_key_id;
  }

  // 3. Create the new key and put it in the file at once: the smaller the
  //    window between the two, the less a crash can strand.
  auto created = iam_old->CreateAccessKey();
  if (!created.ok()) return fail(created.status().WithContext("creating the new key"));
  out.new_key_id = created->metadata.access_key_id;
  auto undo_create = [&](const Status& why) {
    Status restore =
        MoveProfileKey(options_.credentials_path, *section, out.new_key_id, out.old_key_id, old_secret, {0600, false});
    Status removed = iam_old->DeleteAccessKey("", out.new_key_id);
    std::string msg = why.ToString() + "; new key " + out.new_key_id +
                      (removed.ok() ? " deleted" : " could NOT be deleted (" + removed.ToString() + ")") +
                      (restore.ok() ? ", file restored" : ", file NOT restored (" + restore.ToString() + ")") +
                      ", old key " + out.old_key_id + " kept";
    out.new_key_id.clear();
    return fail(Status::FailedPrecondition(msg));
  };
  Status set = MoveProfileKey(options_.credentials_path, *section, out.old_key_id, out.new_key_id,
                              created->secret_access_key, {0600, options_.keep_backup && !backup_taken_});
  backup_taken_ = backup_taken_ || set.ok();
  if (!set.ok()) return undo_create(set.WithContext("writing the new key"));

  // 4. Verify the new key works, waiting out IAM propagation (bounded).
  aws::ClientFactory as_new =
      factory_.WithCredentials(StaticKey(out.new_key_id, created->secret_access_key, "new key of " + profile));
  auto iam_new = as_new.Iam();
  if (!iam_new.ok()) return undo_create(iam_new.status());
  auto who = VerifyKeyWorks(factory_, out.new_key_id, created->secret_access_key, options_.verify_timeout);
  if (!who.ok()) return undo_create(who.status().WithContext("verifying the new key"));
  if (who->arn != identity->arn) {
    return undo_create(Status::FailedPrecondition("new key answers as " + who->arn + ", expected " + identity->arn));
  }

  // 5. Retire the old key, signed with the new one (the old may be refused
  //    once retired; the new must work from now on). IAM may still be
  //    propagating the new key to its own endpoint: same bounded wait.
  Status retired = RetryWhilePropagating(clock(), options_.verify_timeout, [&] {
    return options_.delete_old ? iam_new->DeleteAccessKey("", out.old_key_id)
                               : iam_new->UpdateAccessKey("", out.old_key_id, /*active=*/false);
  });
  if (!retired.ok()) {
    out.result = Outcome::kFailed;
    out.message = "new key " + out.new_key_id + " is in the file and works, but the old key " + out.old_key_id +
                  " is still active: " + retired.ToString();
    return out;
  }
  out.result = Outcome::kRotated;
  out.message = options_.delete_old ? "old key deleted" : "old key deactivated";
  if (!out.removed_inactive_key_id.empty()) {
    out.message += "; inactive key " + out.removed_inactive_key_id + " deleted first (two-key limit)";
  }
  return out;
}

}  // namespace keyrotor::engine
