// Abandoning a rotation: the destinations restored, the new key deleted.
#include "engine/rotator_run.h"

namespace keyrotor::engine {

using rotator_internal::WipeAllSealed;
using rotator_internal::UndoSlot;
using rotator_internal::kMaxRestoreAttempts;
using rotator_internal::MayPass;
using rotator_internal::DeleteKey;
using rotator_internal::FindKey;

bool Rotator::Run::BeginRollback(const Status& why) {
  if (opts_.dry_run) return Would("abandon the rotation: " + why.ToString());
  record_.last_error = why.ToString();
  record_.state = RotationState::kRollingBack;
  Owe(notify::EventKind::kRotationFailed);
  if (!SaveOrStop()) return false;
  Audit("rollback", "started", record_.new_key_id, "", why.ToString());
  return true;
}

bool Rotator::Run::RollForward(const Status& why) {
  if (opts_.dry_run) return Would("retry the hand-over: " + why.ToString());
  std::string message = why.ToString() +
                        "; rolling forward: a destination that cannot be read back may already hold new key " +
                        record_.new_key_id + ", so it is kept (old key " + record_.old_key_id +
                        " too) and the hand-over is retried by the next run";
  // The owners hear of it once per distinct failure, not on every retry.
  if (record_.last_error != message) Owe(notify::EventKind::kRotationFailed);
  record_.last_error = message;
  if (!SaveOrStop()) return false;
  Audit("store", "deferred", record_.new_key_id, "", message);
  DrainEvents();
  return Stop(Outcome::kFailed, message);
}

bool Rotator::Run::Revert() {
  const std::string& old_id = record_.old_key_id;
  if (record_.state == RotationState::kRollingBack) return true;  // a killed revert: finish it
  if (record_.state != RotationState::kStored && record_.state != RotationState::kOldDeactivated) {
    return Fail(Status::FailedPrecondition("rotation " + record_.id + " is " + StateName(record_.state) +
                                           ": only a key already handed over is taken back this way"));
  }
  if (old_id.empty() || record_.mode == RotationMode::kDeleteFirst) {
    return Fail(Status::FailedPrecondition("rotation " + record_.id +
                                           " has no old key to go back to: the new key stays"));
  }
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* old_key = FindKey(*keys, old_id);
  if (!old_key) {
    return Fail(Status::FailedPrecondition("old key " + old_id +
                                           " no longer exists, so there is nothing to roll back to: new key " +
                                           record_.new_key_id + " stays"));
  }
  if (opts_.dry_run) return Would("re-activate old key " + old_id + " and abandon new key " + record_.new_key_id);
  if (!old_key->active()) {
    // Before the journal says rolling_back: a run killed here finds the old
    // key active and the rotation still open, and reverts again.
    Status activated = iam_->UpdateAccessKey(user(), old_id, /*active=*/true);
    if (!activated.ok()) return Fail(activated.WithContext("re-activating old key " + old_id));
    Audit("reactivate_old", "ok", old_id, iam_->last_request_id(), "rolled back by the caller");
  }
  return BeginRollback(Status::FailedPrecondition("rolled back by the caller after new key " + record_.new_key_id +
                                                  " was handed over"));
}

bool Rotator::Run::StepRollingBack() {
  if (opts_.dry_run) return Would("finish abandoning rotation " + record_.id);
  destinations::KeyHandoff handoff = Handoff(Secret());
  std::string retry;  // why this run stops before deleting the new key
  for (size_t n = record_.destinations.size(); n > 0; --n) {
    size_t i = n - 1;
    DestinationProgress& d = record_.destinations[i];
    if (d.step != Step::kSnapshotted && d.step != Step::kWritten) continue;
    Result<std::optional<Secret>> snapshot = r_.journal_->GetSealed(record_.id, UndoSlot(i));
    if (!snapshot.ok()) return Fail(snapshot.status());
    Result<std::unique_ptr<destinations::Destination>> dest =
        destinations::MakeDestination(d.spec, r_.admin_, opts_.destination_options);
    Secret previous = snapshot->has_value() ? std::move(**snapshot) : Secret();
    Status restored = dest.ok() ? (*dest)->Restore(handoff, previous) : dest.status();
    // FailedPrecondition: the destination holds a key newer than this
    // rotation's (someone wrote it since); it is not ours to take back.
    bool superseded = restored.code() == StatusCode::kFailedPrecondition;
    if (restored.ok() || superseded) {
      Audit("restore", restored.ok() ? "ok" : "skipped", record_.new_key_id, "",
            d.spec + (restored.ok() ? "" : ": " + restored.ToString()));
      d.step = Step::kRestored;
    } else if (MayPass(restored) && ++d.restore_attempts < kMaxRestoreAttempts) {
      std::string attempt = "attempt " + std::to_string(d.restore_attempts) + " of " +
                            std::to_string(kMaxRestoreAttempts) + "; will retry";
      Audit("restore", "failed", record_.new_key_id, "", d.spec + ": " + restored.ToString() + " (" + attempt + ")");
      if (retry.empty()) retry = "restoring " + d.spec + " (" + attempt + "): " + restored.ToString();
    } else {
      // Given up: the new key is deleted all the same (below), so the user is
      // not left with a key nobody holds and its secret leaves the journal.
      d.step = Step::kNeedsAttention;
      std::string note = d.spec + " could not be restored and needs attention (it may still hold abandoned key " +
                         record_.new_key_id + ", which is deleted): " + restored.ToString();
      Audit("restore", "failed", record_.new_key_id, "", note);
      record_.last_error += "; " + note;
      // The owners hear of it, even if they were told of the failure already.
      if (std::find(record_.pending_events.begin(), record_.pending_events.end(),
                    notify::EventKind::kRotationFailed) == record_.pending_events.end()) {
        Owe(notify::EventKind::kRotationFailed);
      }
    }
    if (!SaveOrStop()) return false;
  }
  if (!retry.empty()) return RetryLater(retry);
  if (!record_.new_key_id.empty()) {
    Status deleted = DeleteKey(*iam_, user(), record_.new_key_id);
    if (!deleted.ok()) return RetryLater(deleted.WithContext("deleting the abandoned new key (will retry)").ToString());
    Audit("delete_new", "ok", record_.new_key_id, iam_->last_request_id(), "abandoned");
  }
  record_.state = RotationState::kRolledBack;
  if (!SaveOrStop(WipeAllSealed())) return false;
  Audit("rollback", "ok", record_.old_key_id, "",
        record_.mode == RotationMode::kDeleteFirst ? "old key was deleted first: the user has no key"
                                                   : "old key kept");
  DrainEvents();
  return true;
}

}  // namespace keyrotor::engine
