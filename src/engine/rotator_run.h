// Rotator::Run, one run of the engine over one user, and what its parts
// share. Internal to the engine: rotator.cc (the run, its start and the
// events it owes), rotator_steps.cc (the forward steps) and
// rotator_rollback.cc (abandoning a rotation).
#pragma once

#include <algorithm>
#include <map>
#include <set>

#include "engine/rotator.h"
#include "aws/retry.h"
#include "base/crypto.h"
#include "destinations/destination_util.h"
#include "engine/verify.h"

namespace keyrotor::engine {
namespace rotator_internal {

inline constexpr char kNewSecretSlot[] = "new_secret";
inline SealedChanges WipeAllSealed() {
  SealedChanges c;
  c.wipe_all = true;
  return c;
}
inline std::string UndoSlot(size_t i) { return "undo/" + std::to_string(i); }

inline int64_t AgeDays(TimePoint now, TimePoint then) {
  return std::chrono::duration_cast<Days>(now - then).count();
}

inline const aws::AccessKeyMetadata* FindKey(const std::vector<aws::AccessKeyMetadata>& keys, const std::string& id) {
  for (const auto& k : keys) {
    if (k.access_key_id == id) return &k;
  }
  return nullptr;
}

// How many runs try to restore a destination whose restore failed in a way
// that may pass (a network error, throttling, a program that timed out): this
// one and the next two. Meanwhile the abandoned key stays (its secret sealed)
// in case the destination still uses it; then the destination is given up as
// needing attention and the key is deleted, so a rollback always ends. Any
// other failure (a program missing or refusing, access denied) is given up at
// once: a later run would fail the same way.
inline constexpr int kMaxRestoreAttempts = 3;

inline bool MayPass(const Status& s) {
  return aws::Classify(s, /*idempotent=*/true) != aws::RetryClass::kNone || s.code() == StatusCode::kIoError;
}

// A delete retried after the key vanished has done its job.
inline Status DeleteKey(aws::IamClient& iam, const std::string& user, const std::string& id) {
  Status s = iam.DeleteAccessKey(user, id);
  return s.IsAws("NoSuchEntity") ? Status::Ok() : s;
}

}  // namespace rotator_internal

// The key_exposed notification of an exposure response (rotator_exposure.cc).
nlohmann::json ExposureDetails(const RotationRecord& record);
std::string ExposureMessage(const RotationRecord& record);

// One run over one user. Each Step* method either moves record_ to its next
// state (saved before the side effect that follows it) and returns true, or
// fills out_ and returns false to end the run.
class Rotator::Run {
 public:
  using Outcome = UserOutcome::Result;
  using Step = DestinationProgress::Step;

  Run(Rotator& rotator, std::string user, const StepOverrides& overrides)
      : r_(rotator), opts_(rotator.options_), policy_(rotator.options_.policy), o_(overrides) {
    out_.user = std::move(user);
  }

  UserOutcome Go();

 private:
  Clock* clock() const { return r_.admin_.context().clock; }
  TimePoint Now() const { return clock()->Now(); }
  const std::string& user() const { return out_.user; }

  bool Start();
  bool Adopt();
  // Responding to an exposed key (rotator_exposure.cc).
  bool StartExposure();
  bool JoinExposure();
  ExposureRecord NewExposureRecord() const;
  // StepPlanned's part: deactivate-first, and the exposed key making room at the two-key limit.
  bool RetireExposedBeforeCreating(std::vector<aws::AccessKeyMetadata>& keys);
  // StepStored's part: the exposed key deactivated at once, no guard.
  bool RetireExposedAfterStoring();
  // Reads CloudTrail, notes the quarantine, owes key_exposed: once per response.
  void ReportExposure();
  bool StepPlanned();
  bool StepKeyCreated();
  bool StepVerified();
  bool StepStored();
  bool StepOldDeactivated();
  bool StepRollingBack();

  // Ends the run with `result`.
  bool Stop(Outcome result, std::string message) {
    out_.result = result;
    out_.message = std::move(message);
    return false;
  }
  bool Fail(const Status& status) {
    if (!record_.id.empty() && !opts_.dry_run) {
      // A refusal (the new key gone, the old one re-activated...) needs a
      // person: tell the owners once. Transient errors just retry next run.
      bool first = record_.last_error != status.ToString();
      record_.last_error = status.ToString();
      if (first && status.code() == StatusCode::kFailedPrecondition) Owe(notify::EventKind::kRotationFailed);
      (void)Save();
      DrainEvents();
    }
    Audit("run", "failed", "", "", status.ToString());
    return Stop(Outcome::kFailed, status.ToString());
  }
  // Nothing (more) is due now; "progressed" when this run did something.
  bool NotDue(TimePoint at, std::string message) {
    out_.next_step_at = at;
    return Stop(out_.actions.empty() ? Outcome::kNotDue : Outcome::kProgressed, std::move(message));
  }
  // A dry run reports the side effect it reached and stops there.
  bool Would(std::string action) {
    out_.actions.push_back("would " + action);
    return Stop(Outcome::kProgressed, "dry run: nothing changed");
  }
  bool BeginRollback(const Status& why);
  // A hand-over failed after a write-only destination may have taken the new
  // key: keep the key (and the old one), retry on the next run, tell the owners once.
  bool RollForward(const Status& why);
  // StepOverrides::revert_new_key_id, for the open rotation in record_.
  bool Revert();
  // BeginRollback, unless the rotation rolls forward.
  bool Abandon(const Status& why) { return record_.rolls_forward ? RollForward(why) : BeginRollback(why); }
  // Ends a rollback's run early, to be resumed by the next run; unlike Fail it
  // keeps record_.last_error, the reason the rotation was abandoned.
  bool RetryLater(const std::string& why) {
    Audit("run", "failed", "", "", why);
    DrainEvents();
    return Stop(Outcome::kFailed, why);
  }

  Status Save(const SealedChanges& sealed = {}) { return Save(record_, sealed); }
  Status Save(RotationRecord& record, const SealedChanges& sealed = {}) {
    if (opts_.dry_run) return Status::Ok();
    record.updated = Now();
    return r_.journal_->Save(record, sealed);
  }
  // Saves, and ends the run if the journal cannot be written: a step whose
  // transition is not durable must not be followed by its side effect.
  bool SaveOrStop(const SealedChanges& sealed = {}) {
    Status s = Save(sealed);
    if (s.ok()) return true;
    return Stop(Outcome::kFailed, s.WithContext("writing the journal").ToString());
  }
  void Audit(const std::string& action, const std::string& outcome, const std::string& key_id,
             const std::string& request_id, const std::string& detail) {
    Audit(record_, action, outcome, key_id, request_id, detail);
  }
  void Audit(const RotationRecord& record, const std::string& action, const std::string& outcome,
             const std::string& key_id, const std::string& request_id, const std::string& detail) {
    if (opts_.dry_run) return;
    AuditRecord a;
    a.time = Now();
    a.rotation_id = record.id;
    a.account = out_.account;
    a.user = user();
    a.action = action;
    a.outcome = outcome;
    a.access_key_id = key_id;
    a.request_id = request_id;
    a.detail = detail;
    (void)r_.journal_->AppendAudit(a);  // the audit trail must not stop a rotation half way
    if (outcome != "ok") return;
    // What the run did, for people: "create_key AKIA...", "store secretsmanager:app/x".
    bool names_target = action == "store" || action == "notify";
    std::string what = names_target ? detail : key_id;
    out_.actions.push_back(action + (what.empty() ? "" : " " + what));
  }
  void Owe(notify::EventKind kind) { record_.pending_events.push_back(kind); }
  // Sends what `record` owes to the notifiers it recorded (its own, whatever
  // today's options say), keeps what could not be delivered, and saves it.
  void DrainEvents(RotationRecord& record);
  void DrainEvents() { DrainEvents(record_); }
  // The new key's secret: in memory since this run created it, else unsealed.
  Result<Secret> NewSecret();
  destinations::KeyHandoff Handoff(const Secret& secret) const {
    return {record_.id, record_.account, record_.user, record_.new_key_id, secret.Clone(), record_.new_key_created,
            record_.old_key_id};
  }
  bool IsKnownRetiredKey(const std::string& key_id);
  Result<std::vector<aws::AccessKeyMetadata>> ListKeys() { return iam_->ListAccessKeys(user()); }

  Rotator& r_;
  const EngineOptions& opts_;
  const Policy& policy_;
  StepOverrides o_;
  UserOutcome out_;
  std::optional<aws::IamClient> iam_;
  RotationRecord record_;
  bool resumed_ = false;
  // The keys this run's start listed, for a rotation it just planned; unset
  // when resuming one (its orphan check must list again).
  std::optional<std::vector<aws::AccessKeyMetadata>> listed_keys_;
  std::optional<Secret> new_secret_;
  // Notifiers by spec, made once per run: the notifier, or why it could not be made.
  std::map<std::string, Result<std::unique_ptr<notify::Notifier>>> notifiers_;
};

}  // namespace keyrotor::engine
