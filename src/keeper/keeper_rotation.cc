#include "keeper/keeper_rotation.h"

#include <algorithm>

#include "base/strings.h"
#include "keeper/keeper_destination.h"

namespace keyrotor::keeper {
namespace {

using Outcome = engine::UserOutcome::Result;

Status NotBothFields(const KeeperRecord& r) {
  return Status::InvalidArgument("Keeper record " + r.uid + " has only one of " + kAccessKeyIdField + " and " +
                                 kSecretAccessKeyField + ": attach both, or neither to use the default credentials");
}

// Deletes every key of `user` but the newest active one, which the engine's
// delete-first mode deletes itself before creating the new key. Each deletion
// is audited. Keys deleted are appended to `removed`.
Status DeleteOtherKeys(aws::IamClient& iam, engine::Journal* journal, Clock* clock, const std::string& account,
                       const std::string& user, std::vector<std::string>* removed) {
  Result<std::vector<aws::AccessKeyMetadata>> keys = iam.ListAccessKeys(user);
  if (!keys.ok()) return keys.status().WithContext("listing the user's keys");
  const aws::AccessKeyMetadata* keep = nullptr;
  for (const auto& k : *keys) {
    if (k.active() && (!keep || k.create_date >= keep->create_date)) keep = &k;
  }
  // The engine replaces an active key; without one it would skip the user
  // after we deleted everything, leaving Keeper's record pointing at nothing.
  if (!keep) {
    return Status::FailedPrecondition("user has no active access key to replace; nothing was deleted");
  }
  for (const auto& k : *keys) {
    if (&k == keep) continue;
    Status deleted = iam.DeleteAccessKey(user, k.access_key_id);
    if (deleted.IsAws("NoSuchEntity")) deleted = Status::Ok();
    engine::AuditRecord a;
    a.time = clock->Now();
    a.account = account;
    a.user = user;
    a.action = "delete_all";
    a.outcome = deleted.ok() ? "ok" : "failed";
    a.access_key_id = k.access_key_id;
    a.request_id = iam.last_request_id();
    a.detail = std::string(kDeleteAllKeysField) + " (Keeper)" + (deleted.ok() ? "" : ": " + deleted.ToString());
    (void)journal->AppendAudit(a);  // the audit trail must not stop a rotation half way
    if (!deleted.ok()) return deleted.WithContext("deleting key " + k.access_key_id);
    removed->push_back(k.access_key_id);
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<RecordCredentials>> AdminCredentialsFromRecords(const KeeperPayload& payload) {
  for (const KeeperRecord& r : payload.records) {
    if (!payload.user_record_uid.empty() && r.uid == payload.user_record_uid) continue;
    for (const char* label : {kAccessKeyIdField, kSecretAccessKeyField, kSessionTokenField}) {
      if (r.HasUnusableField(label)) {
        return Status::InvalidArgument("Keeper record " + r.uid + ": field " + label +
                                       " is neither a string nor a one-element list of strings");
      }
    }
    const Secret* id = r.Field(kAccessKeyIdField);
    const Secret* secret = r.Field(kSecretAccessKeyField);
    if (!id && !secret) continue;
    if (!id || !secret) return NotBothFields(r);
    RecordCredentials out;
    out.record_uid = r.uid;
    out.credentials.access_key_id = std::string(Trim(id->reveal()));
    out.credentials.secret_access_key = Secret(std::string(Trim(secret->reveal())));
    if (const Secret* token = r.Field(kSessionTokenField)) {
      out.credentials.session_token = Secret(std::string(Trim(token->reveal())));
    }
    out.credentials.provider = "Keeper record " + r.uid;
    return std::optional<RecordCredentials>(std::move(out));
  }
  return std::optional<RecordCredentials>();
}

bool DeleteAllKeysRequested(const KeeperPayload& payload) {
  for (const KeeperRecord& r : payload.records) {
    if (const Secret* v = r.Field(kDeleteAllKeysField)) return IsTruthy(v->reveal());
  }
  return false;
}

namespace {

// The engine set up for Keeper: Keeper decides when (force_rotate) and holds
// the only copy, in `options.destination`.
engine::EngineOptions KeeperEngineOptions(const KeeperOptions& options) {
  engine::EngineOptions engine_options;
  engine::Policy& policy = engine_options.policy;
  if (options.keep_old_key) {
    // Staged, the old key deactivated as soon as the record holds the new
    // one (deactivate_now) and deleted by the next Keeper rotation.
    policy.mode = engine::RotationMode::kStaged;
    policy.deactivate_after = Duration::zero();
    policy.delete_after = engine::Days(3650);
    // No last-used guard: Keeper's record is the only holder and now holds
    // the new key (the immediate mode deletes the old key at this point;
    // deactivating it is the milder step, and undone by a rollback).
    policy.quiet_period = Duration::zero();
  } else {
    // The old key goes as soon as the writer has the new one.
    policy.mode = options.delete_all_keys ? engine::RotationMode::kDeleteFirst : engine::RotationMode::kImmediate;
  }
  policy.exempt_tags.clear();  // Keeper's schedule is the policy; a tag does not overrule it
  // At the two-key limit an Inactive key signs nothing; Keeper's record holds
  // the active one. Two Active keys are still refused by the engine.
  policy.delete_unknown_inactive = true;
  policy.verify_timeout = options.verify_timeout;
  engine_options.destinations = {options.destination};
  engine_options.destination_options.exec_timeout = options.writer_timeout;
  engine_options.destination_options.exec_env = options.exec_env;
  RegisterKeeperDestinations(engine_options.destination_options, options.fields_out);
  return engine_options;
}

void CollectRemoved(const engine::UserOutcome& o, std::vector<std::string>* removed) {
  for (const std::string& action : o.actions) {
    for (const char* prefix : {"delete_old ", "delete_inactive ", "delete_orphan "}) {
      if (action.rfind(prefix, 0) == 0) removed->push_back(action.substr(std::string(prefix).size()));
    }
  }
}

}  // namespace

KeeperOutcome RotateForKeeper(const std::string& user, const aws::ClientFactory& admin, engine::Journal* journal,
                              const KeeperOptions& options) {
  KeeperOutcome out;
  out.user = user;
  out.result = "failed";
  engine::EngineOptions engine_options = KeeperEngineOptions(options);
  if (Status valid = engine::ValidateEngineOptions(engine_options, admin); !valid.ok()) {
    out.message = valid.ToString();
    return out;
  }

  engine::Rotator rotator(admin, journal, engine_options);
  Result<std::string> account = rotator.Account();
  if (!account.ok()) {
    out.message = account.status().WithContext("identifying the account").ToString();
    return out;
  }
  out.account = *account;
  Result<std::optional<engine::RotationRecord>> open = journal->OpenRotation(out.account, user);
  if (!open.ok()) {
    out.message = open.status().ToString();
    return out;
  }
  bool handed_over_before = open->has_value() && ((*open)->state == engine::RotationState::kStored ||
                                                   (*open)->state == engine::RotationState::kOldDeactivated);
  if (options.keep_old_key && handed_over_before) {
    // The previous Keeper rotation kept its old key for a rollback that did
    // not come: Keeper's record holds that rotation's key, so it is finished
    // (the old key deleted) before the next one starts. (A rotation a killed
    // run left before its hand-over is simply resumed below: it is this one.)
    engine::StepOverrides finish;
    finish.deactivate_now = true;
    finish.delete_now = true;
    engine::UserOutcome done = rotator.RotateUser(user, finish);
    CollectRemoved(done, &out.removed_key_ids);
    if (done.result != engine::UserOutcome::Result::kCompleted) {
      out.result = engine::ResultName(done.result);
      out.message = "finishing the previous rotation " + done.rotation_id + ": " + done.message;
      return out;
    }
  }
  if (options.delete_all_keys && !open->has_value()) {
    // A rotation a killed run left open is finished first, as it stands:
    // deleting keys under it could delete the key its writer already got.
    Result<aws::IamClient> iam = admin.Iam();
    Status deleted = iam.ok() ? DeleteOtherKeys(*iam, journal, admin.context().clock, out.account, user,
                                                &out.removed_key_ids)
                              : iam.status();
    if (!deleted.ok()) {
      out.message = deleted.ToString();
      return out;
    }
  }

  engine::StepOverrides overrides;
  overrides.force_rotate = true;
  overrides.deactivate_now = options.keep_old_key;
  engine::UserOutcome o = rotator.RotateUser(user, overrides);
  out.result = engine::ResultName(o.result);
  out.message = o.message;
  CollectRemoved(o, &out.removed_key_ids);
  if (options.keep_old_key) {
    // Handed over, the old key kept: deactivated (progressed), or still in
    // use and left active by the last-used guard (deferred).
    bool handed_over = o.state == "stored" || o.state == "old_deactivated";
    out.ok = handed_over && (o.result == Outcome::kProgressed || o.result == Outcome::kDeferred);
    if (out.ok) out.kept_key_id = o.old_key_id;
  } else {
    out.ok = o.result == Outcome::kCompleted;
  }
  if (out.ok) out.new_key_id = o.new_key_id;
  if (!out.ok && out.message.empty()) out.message = "the rotation did not complete (" + out.result + ")";
  return out;
}

KeeperOutcome RevertForKeeper(const std::string& user, const std::string& new_key_id, const aws::ClientFactory& admin,
                              engine::Journal* journal, const KeeperOptions& options) {
  KeeperOutcome out;
  out.user = user;
  out.result = "failed";
  KeeperOptions keep = options;
  keep.keep_old_key = true;
  engine::EngineOptions engine_options = KeeperEngineOptions(keep);
  if (Status valid = engine::ValidateEngineOptions(engine_options, admin); !valid.ok()) {
    out.message = valid.ToString();
    return out;
  }
  engine::Rotator rotator(admin, journal, engine_options);
  engine::StepOverrides overrides;
  overrides.revert_new_key_id = new_key_id;
  engine::UserOutcome o = rotator.RotateUser(user, overrides);
  out.account = o.account;
  out.result = engine::ResultName(o.result);
  out.message = o.message;
  out.ok = o.result == Outcome::kRolledBack;
  if (out.ok) {
    out.removed_key_ids.push_back(new_key_id);
    out.kept_key_id = o.old_key_id;
  }
  return out;
}

}  // namespace keyrotor::keeper
