// The forward steps of a rotation: create, verify, hand over, retire the old key.
#include "engine/rotator_run.h"

namespace keyrotor::engine {

using rotator_internal::kNewSecretSlot;
using rotator_internal::WipeAllSealed;
using rotator_internal::UndoSlot;
using rotator_internal::FindKey;
using rotator_internal::DeleteKey;

bool Rotator::Run::StepPlanned() {
  if (opts_.dry_run) return Would("resume rotation " + record_.id + ": create the new key");
  // A process killed between CreateAccessKey and the journal leaves a key
  // whose secret nobody has. Give IAM's listing time to show it first.
  if (resumed_ && opts_.orphan_settle.count() > 0) {
    TimePoint settled = record_.updated + opts_.orphan_settle;
    if (Now() < settled) clock()->SleepFor(std::chrono::duration_cast<Duration>(settled - Now()));
  }
  // A rotation this run planned was listed a moment ago; a resumed one is
  // listed again to find a key a killed run may have created.
  Result<std::vector<aws::AccessKeyMetadata>> listed =
      listed_keys_ ? Result<std::vector<aws::AccessKeyMetadata>>(std::move(*listed_keys_)) : ListKeys();
  listed_keys_.reset();
  if (!listed.ok()) return Fail(listed.status().WithContext("listing the user's keys"));
  std::vector<aws::AccessKeyMetadata> keys;
  for (const auto& k : *listed) {
    bool known = std::find(record_.keys_before.begin(), record_.keys_before.end(), k.access_key_id) !=
                 record_.keys_before.end();
    if (known) {
      keys.push_back(k);
      continue;
    }
    Status deleted = DeleteKey(*iam_, user(), k.access_key_id);
    Audit("delete_orphan", deleted.ok() ? "ok" : "failed", k.access_key_id, iam_->last_request_id(),
          deleted.ok() ? "a key created by an interrupted run; its secret was never stored" : deleted.ToString());
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting orphan key " + k.access_key_id));
  }
  if (record_.exposure) {
    if (!RetireExposedBeforeCreating(keys)) return false;
    if (record_.state != RotationState::kPlanned) return true;  // cut off, no successor to make
  }
  if (record_.mode == RotationMode::kDeleteFirst && !record_.exposure) {
    if (const aws::AccessKeyMetadata* old = FindKey(keys, record_.old_key_id)) {
      Status deleted = DeleteKey(*iam_, user(), old->access_key_id);
      if (!deleted.ok()) return Fail(deleted.WithContext("deleting the old key first"));
      Audit("delete_old", "ok", record_.old_key_id, iam_->last_request_id(), "delete-first mode");
      Owe(notify::EventKind::kOldKeyDeleted);
      keys.erase(std::remove_if(keys.begin(), keys.end(),
                                [&](const auto& k) { return k.access_key_id == record_.old_key_id; }),
                 keys.end());
    }
  }
  // Two-key limit: only an Inactive key keyrotor retired (or, when allowed,
  // any Inactive key) makes room. Never an active one.
  if (keys.size() >= 2) {
    const aws::AccessKeyMetadata* other = nullptr;
    for (const auto& k : keys) {
      if (k.access_key_id != record_.old_key_id) other = &k;
    }
    if (!other || other->active()) {
      return BeginRollback(Status::FailedPrecondition("user has two active keys; not creating a third"));
    }
    if (!policy_.delete_unknown_inactive && !IsKnownRetiredKey(other->access_key_id)) {
      return BeginRollback(Status::FailedPrecondition("user is at the two-key limit with inactive key " +
                                                      other->access_key_id + " that keyrotor did not retire"));
    }
    Status deleted = DeleteKey(*iam_, user(), other->access_key_id);
    Audit("delete_inactive", deleted.ok() ? "ok" : "failed", other->access_key_id, iam_->last_request_id(),
          "two-key limit");
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting inactive key " + other->access_key_id));
    out_.deleted_inactive_key_id = other->access_key_id;
  }
  std::vector<std::string> present;
  for (const auto& k : keys) present.push_back(k.access_key_id);
  if (!out_.deleted_inactive_key_id.empty()) std::erase(present, out_.deleted_inactive_key_id);
  Result<aws::NewAccessKey> created = iam_->CreateAccessKey(user(), present);
  if (!created.ok()) {
    Audit("create_key", "failed", "", "", created.status().ToString());
    // A lost response the client could not reconcile: the orphan check above
    // runs again on the next attempt, so stay planned.
    if (created.status().IsUnknownOutcome() || created.status().code() == StatusCode::kNetworkError) {
      return Fail(created.status().WithContext("creating the new key"));
    }
    return BeginRollback(created.status().WithContext("creating the new key"));
  }
  record_.new_key_id = created->metadata.access_key_id;
  record_.new_key_created = created->metadata.create_date;
  record_.state = RotationState::kKeyCreated;
  new_secret_ = std::move(created->secret_access_key);
  Status saved = Save({.put = {{kNewSecretSlot, &*new_secret_}}});
  if (!saved.ok()) {
    // Without a durable record the key must not survive this process.
    Status deleted = DeleteKey(*iam_, user(), record_.new_key_id);
    return Stop(Outcome::kFailed, saved.WithContext("writing the journal").ToString() +
                                      (deleted.ok() ? "; new key deleted" : "; new key could NOT be deleted"));
  }
  Audit("create_key", "ok", record_.new_key_id, iam_->last_request_id(), "");
  out_.created_key_id = record_.new_key_id;
  return true;
}

Result<Secret> Rotator::Run::NewSecret() {
  if (new_secret_) return new_secret_->Clone();
  KR_ASSIGN_OR_RETURN(std::optional<Secret> sealed, r_.journal_->GetSealed(record_.id, kNewSecretSlot));
  if (!sealed) return Status::NotFound("the new key's sealed secret is not in the journal");
  new_secret_ = std::move(*sealed);
  return new_secret_->Clone();
}

bool Rotator::Run::StepKeyCreated() {
  if (opts_.dry_run) return Would("verify new key " + record_.new_key_id + " with STS");
  Result<Secret> secret = NewSecret();
  if (!secret.ok()) return BeginRollback(secret.status());
  Result<aws::CallerIdentity> who = VerifyKeyWorks(r_.admin_, record_.new_key_id, *secret, policy_.verify_timeout);
  if (!who.ok()) return BeginRollback(who.status().WithContext("verifying the new key"));
  if (aws::UserNameFromArn(who->arn) != user() || who->account != out_.account) {
    return BeginRollback(Status::FailedPrecondition("the new key answers as " + who->arn));
  }
  record_.state = RotationState::kVerified;
  if (!SaveOrStop()) return false;
  Audit("verify", "ok", record_.new_key_id, "", "sts:GetCallerIdentity accepted the new key");
  return true;
}

bool Rotator::Run::StepVerified() {
  if (opts_.dry_run) return Would("hand new key " + record_.new_key_id + " to its destinations");
  Result<Secret> secret = NewSecret();
  if (!secret.ok()) return Abandon(secret.status());
  destinations::KeyHandoff handoff = Handoff(*secret);
  std::vector<std::unique_ptr<destinations::Destination>> made(record_.destinations.size());
  for (size_t i = 0; i < made.size(); ++i) {
    if (record_.destinations[i].step == Step::kWritten) continue;
    Result<std::unique_ptr<destinations::Destination>> dest =
        destinations::MakeDestination(record_.destinations[i].spec, r_.admin_, opts_.destination_options);
    if (!dest.ok()) return Abandon(dest.status());
    made[i] = std::move(dest).value();
  }
  // Destinations that can be read back first, write-only ones last: a failure
  // among the first still rolls back cleanly, because no write-only
  // destination has been touched yet (docs/rotation.md).
  std::vector<size_t> order;
  for (size_t i = 0; i < made.size(); ++i) {
    if (made[i] && made[i]->ReadsBack()) order.push_back(i);
  }
  for (size_t i = 0; i < made.size(); ++i) {
    if (made[i] && !made[i]->ReadsBack()) order.push_back(i);
  }
  for (size_t i : order) {
    DestinationProgress& d = record_.destinations[i];
    destinations::Destination& dest = *made[i];
    if (d.step == Step::kPending) {
      // What the destination holds now, kept (sealed) before we overwrite it,
      // so an abandoned rotation can put it back even after a crash.
      Result<Secret> snapshot = dest.Snapshot(handoff);
      if (!snapshot.ok()) return Abandon(snapshot.status().WithContext("reading " + d.spec));
      d.step = Step::kSnapshotted;
      // From its first write on, a write-only destination may hold the new
      // key (a write whose answer was lost included): no rollback after this.
      if (!dest.ReadsBack() && !record_.rolls_forward) record_.rolls_forward = true;
      if (!SaveOrStop({.put = {{UndoSlot(i), &*snapshot}}})) return false;
    }
    Status put = dest.Put(handoff);
    if (!put.ok()) {
      Audit("store", "failed", record_.new_key_id, "", d.spec + ": " + put.ToString());
      return Abandon(put.WithContext("storing the new key in " + d.spec));
    }
    d.step = Step::kWritten;
    if (!SaveOrStop()) return false;
    Audit("store", "ok", record_.new_key_id, "", d.spec);
  }
  if (record_.rolls_forward) record_.last_error.clear();  // rolled forward: every destination holds it now
  record_.state = RotationState::kStored;
  record_.handed_out = Now();
  Owe(notify::EventKind::kKeyCreated);
  // Every destination holds the key: the journal lets go of its secret.
  if (!SaveOrStop(WipeAllSealed())) return false;
  if (new_secret_) new_secret_->Wipe();
  new_secret_.reset();
  DrainEvents();
  if (o_.stop_after_store) {
    return Stop(Outcome::kProgressed, "new key " + record_.new_key_id + " created and stored; old key " +
                                          record_.old_key_id + " still active");
  }
  return true;
}

bool Rotator::Run::StepStored() {
  if (record_.exposure) return RetireExposedAfterStoring();
  if (record_.mode != RotationMode::kStaged) {
    if (record_.mode == RotationMode::kImmediate && !record_.old_key_id.empty()) {
      if (opts_.dry_run) return Would("delete old key " + record_.old_key_id);
      Status deleted = DeleteKey(*iam_, user(), record_.old_key_id);
      if (!deleted.ok()) return Fail(deleted.WithContext("deleting the old key"));
      Audit("delete_old", "ok", record_.old_key_id, iam_->last_request_id(), "immediate mode");
      Owe(notify::EventKind::kOldKeyDeleted);
    }
    record_.state = RotationState::kDone;
    if (!SaveOrStop()) return false;
    DrainEvents();
    return true;
  }
  TimePoint due = record_.new_key_created + policy_.deactivate_after;
  TimePoint forced = policy_.ForcedDeactivationAt(record_.new_key_created, record_.old_key_created);
  if (!o_.deactivate_now && Now() < due && Now() < forced) {
    return NotDue(std::min(due, forced), "old key " + record_.old_key_id + " is deactivated " +
                                             FormatDuration(policy_.deactivate_after) + " after the new key");
  }
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* new_key = FindKey(*keys, record_.new_key_id);
  if (!new_key || !new_key->active()) {
    return Fail(Status::FailedPrecondition("the new key " + record_.new_key_id + " is " +
                                           (new_key ? "inactive" : "gone") + ": keeping old key " +
                                           record_.old_key_id + " active"));
  }
  const aws::AccessKeyMetadata* old_key = FindKey(*keys, record_.old_key_id);
  if (!old_key || !old_key->active()) {
    // Someone retired it already: carry on from where they left it.
    record_.state = old_key ? RotationState::kOldDeactivated : RotationState::kDone;
    record_.old_deactivated = Now();
    Audit("deactivate_old", "ok", record_.old_key_id, "", old_key ? "already inactive" : "already deleted");
    return SaveOrStop();
  }
  // The last-used guard: an old key used after the hand-over, and recently,
  // still has a user somewhere.
  Result<aws::AccessKeyLastUsed> used = iam_->GetAccessKeyLastUsed(record_.old_key_id);
  if (!used.ok()) return Fail(used.status().WithContext("checking when the old key was last used"));
  // IAM reports LastUsedDate in whole seconds.
  TimePoint handed_out = std::chrono::floor<std::chrono::seconds>(record_.handed_out);
  bool in_use = used->last_used_date && *used->last_used_date >= handed_out &&
                Now() - *used->last_used_date < policy_.quiet_period;
  if (in_use && Now() < forced) {
    std::string why = "old key " + record_.old_key_id + " was used at " + FormatIso8601(*used->last_used_date) +
                      " (" + used->service_name + ", " + used->region + ") after the new key was handed out";
    if (opts_.dry_run) return Would("defer deactivating: " + why);
    if (!record_.deferred_since) {
      record_.deferred_since = Now();
      Owe(notify::EventKind::kStepDeferred);
    }
    record_.last_error = why;
    if (!SaveOrStop()) return false;
    Audit("defer", "deferred", record_.old_key_id, iam_->last_request_id(), why);
    DrainEvents();
    out_.next_step_at = std::min(forced, *used->last_used_date + policy_.quiet_period);
    return Stop(Outcome::kDeferred, why + "; deactivation deferred until it is quiet for " +
                                        FormatDuration(policy_.quiet_period) + " (at the latest " +
                                        FormatIso8601(forced) + ")");
  }
  if (opts_.dry_run) return Would("deactivate old key " + record_.old_key_id);
  Status deactivated = iam_->UpdateAccessKey(user(), record_.old_key_id, /*active=*/false);
  if (!deactivated.ok()) return Fail(deactivated.WithContext("deactivating the old key"));
  record_.state = RotationState::kOldDeactivated;
  record_.old_deactivated = Now();
  record_.deferred_since.reset();
  record_.last_error.clear();
  Owe(notify::EventKind::kOldKeyDeactivated);
  if (!SaveOrStop()) return false;
  Audit("deactivate_old", "ok", record_.old_key_id, iam_->last_request_id(),
        in_use ? "still in use, deactivated at the policy's limit" : "");
  DrainEvents();
  return true;
}

bool Rotator::Run::StepOldDeactivated() {
  Duration after = policy_.delete_after;
  TimePoint due = record_.old_deactivated + after;
  if (record_.exposure) {
    ReportExposure();
    after = record_.exposure->delete_after;
    due = record_.exposure->deactivated + after;
  }
  if (!o_.delete_now && Now() < due) {
    return NotDue(due, "old key " + record_.old_key_id + " is inactive; deleted " +
                           FormatDuration(after) + " after deactivation");
  }
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* old_key = FindKey(*keys, record_.old_key_id);
  if (old_key && old_key->active()) {
    return Fail(Status::FailedPrecondition("old key " + record_.old_key_id +
                                           " was re-activated after keyrotor deactivated it: not deleting it"));
  }
  if (opts_.dry_run) return Would("delete old key " + record_.old_key_id);
  if (old_key) {
    Status deleted = DeleteKey(*iam_, user(), record_.old_key_id);
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting the old key"));
    Audit("delete_old", "ok", record_.old_key_id, iam_->last_request_id(), "");
  } else {
    // A run killed between DeleteAccessKey and this step's save deleted it:
    // the audit trail and the owners must still hear of it (found by the
    // random-instant crash trials).
    Audit("delete_old", "ok", record_.old_key_id, "", "already deleted");
  }
  Owe(notify::EventKind::kOldKeyDeleted);
  record_.state = RotationState::kDone;
  if (!SaveOrStop()) return false;
  DrainEvents();
  return true;
}

}  // namespace keyrotor::engine
