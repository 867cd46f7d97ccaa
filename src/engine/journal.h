// The rotation journal: every user's rotation as a persisted state machine,
// the audit trail, per-user locks and the sealed secrets in flight.
//
// The engine writes each transition here *before* its side effect, so a
// process killed at any instant resumes from the journal. A new key's secret
// is kept only sealed (base/seal.h), and only until every destination holds
// it. One implementation (sealing_journal.h) seals and opens every secret,
// above a store that keeps records, audit and sealed boxes
// (journal_store.h): SQLite (sqlite_journal.h, one machine) or PostgreSQL
// (pg_journal.h, several daemons side by side).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/secret.h"
#include "base/status.h"
#include "engine/policy.h"
#include "notify/notifier.h"

namespace keyrotor::engine {

enum class RotationState {
  kPlanned,         // decided; CreateAccessKey not yet known to have happened
  kKeyCreated,      // new key exists; its secret is sealed in the journal
  kVerified,        // STS accepted the new key
  kStored,          // every destination holds the new key; sealed secret wiped
  kOldDeactivated,  // staged: old key Inactive
  kRollingBack,     // abandoning: destinations being restored, new key being deleted
  kDone,            // old key deleted (or there was none): finished
  kRolledBack,      // abandoned: new key deleted, old key kept
};

std::string StateName(RotationState state);  // "planned", "key_created", ...
Result<RotationState> ParseState(std::string_view name);
bool IsTerminal(RotationState state);  // kDone, kRolledBack

struct DestinationProgress {
  enum class Step {
    kPending,
    kSnapshotted,
    kWritten,
    kRestored,
    kNeedsAttention,  // a rollback could not restore it: it may still hold the abandoned key
  };
  std::string spec;  // as handed to the destination factory, e.g. "secretsmanager:app/key"; no secret
  Step step = Step::kPending;
  int restore_attempts = 0;  // rollback: restores that failed in a way that may pass
};

// A rotation that responds to an exposed key (engine/exposure.h): the
// exposed key is the record's old key, retired at once, whatever the mode.
struct ExposureRecord {
  ExposureOrder order = ExposureOrder::kRotateFirst;
  Duration delete_after{0};     // after deactivation
  Duration lookup_window{0};    // CloudTrail, back from `reported`
  std::vector<std::string> lookup_regions;
  std::string trigger;          // "AWS_RISK_CREDENTIALS_EXPOSED", ..., or "manual"
  std::string event_id;         // the Health event's ARN, when one started it
  TimePoint reported{};         // when keyrotor learned of the exposure
  TimePoint deactivated{};      // when the exposed key stopped working for us (epoch: not yet)
  bool reported_out = false;    // the activity was looked up and key_exposed owed
  std::string activity;         // the CloudTrail summary (JSON text); never a secret
  std::vector<std::string> quarantine_policies;  // AWS's quarantine policies on the user, left in place
};

struct RotationRecord {
  std::string id;  // random UUID; also the idempotency token for destination writes
  std::string account;
  std::string user;
  RotationMode mode = RotationMode::kStaged;
  RotationState state = RotationState::kPlanned;
  std::string old_key_id;                // empty when the user had no key
  TimePoint old_key_created{};
  std::vector<std::string> keys_before;  // the user's key ids when planned: anything else unknown is an orphan
  std::string new_key_id;
  TimePoint started{};
  TimePoint updated{};
  TimePoint new_key_created{};
  TimePoint handed_out{};  // when the last destination got the new key
  TimePoint old_deactivated{};
  std::optional<TimePoint> deferred_since;  // last-used guard holding the deactivation back
  std::string last_error;                   // never a secret
  std::vector<DestinationProgress> destinations;
  std::vector<std::string> notify;          // notifier specs
  // Notifications owed (at least once) to this rotation's own notifiers.
  std::vector<notify::EventKind> pending_events;
  std::optional<ExposureRecord> exposure;  // set for a response to an exposed key
  // A write-only destination may hold the new key: the rotation no longer
  // rolls back; a failed hand-over is retried until every destination holds it.
  bool rolls_forward = false;
};

// One audited action: a JSON line in `keyrotor history`. Never a secret.
struct AuditRecord {
  TimePoint time{};
  std::string rotation_id;
  std::string account;
  std::string user;
  std::string action;   // "create_key", "store", "verify", "deactivate_old", "delete_old", "defer", "rollback", ...
  std::string outcome;  // "ok", "failed", "deferred", "skipped"
  std::string access_key_id;
  std::string request_id;  // the AWS request id, when the action was an AWS call
  std::string detail;
};
nlohmann::json AuditToJson(const AuditRecord& record);
// The inverse, for journals that store the JSON line. `time` has whole seconds
// only; a store that keeps milliseconds overrides it.
Result<AuditRecord> AuditFromJson(const nlohmann::json& json);

// The whole record as one JSON object (timestamps as integer milliseconds since
// the epoch), so every journal implementation persists the same shape and a
// field added later needs no schema change.
nlohmann::json RotationToJson(const RotationRecord& record);
Result<RotationRecord> RotationFromJson(const nlohmann::json& json);

struct AuditFilter {
  std::string account;  // empty: any
  std::string user;     // empty: any
  std::optional<TimePoint> since;
  size_t limit = 0;  // 0: all; otherwise the most recent `limit`, still oldest first
};

// Changes to the sealed slots of one rotation, applied in the same
// transaction as the record.
struct SealedChanges {
  std::vector<std::pair<std::string, const Secret*>> put;  // slot -> plaintext (sealed before it is stored)
  bool wipe_all = false;                                    // remove every slot of this rotation first
};

// Held while one process works on one user; released on destruction, and by
// the OS if the process dies (a SIGKILL never leaves a user locked).
class UserLock {
 public:
  virtual ~UserLock() = default;
};

class Journal {
 public:
  virtual ~Journal() = default;

  // Nullptr (and OK) when another process or thread holds the user.
  virtual Result<std::unique_ptr<UserLock>> TryLockUser(const std::string& account, const std::string& user) = 0;

  // Inserts or replaces `record` (by id), with its sealed changes, atomically and durably.
  virtual Status Save(const RotationRecord& record, const SealedChanges& sealed = {}) = 0;
  // The user's rotation that is not terminal, if any.
  virtual Result<std::optional<RotationRecord>> OpenRotation(const std::string& account, const std::string& user) = 0;
  // The user's rotations, newest first.
  virtual Result<std::vector<RotationRecord>> Rotations(const std::string& account, const std::string& user) = 0;
  // Every rotation that is not terminal (for reports and the crash harness).
  virtual Result<std::vector<RotationRecord>> OpenRotations() = 0;

  virtual Result<std::optional<Secret>> GetSealed(const std::string& rotation_id, const std::string& slot) = 0;

  virtual Status AppendAudit(const AuditRecord& record) = 0;
  virtual Result<std::vector<AuditRecord>> ReadAudit(const AuditFilter& filter) = 0;
};

}  // namespace keyrotor::engine
