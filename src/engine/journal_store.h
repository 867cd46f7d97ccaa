// What a journal's storage must do: keep rotation records, the audit trail
// and sealed boxes durably, hand out per-user locks, and serialise the
// sealing key's first use. Nothing more: sealing, unsealing and deciding when
// to wipe live once, above every store, in sealing_journal.h, so a store only
// ever sees sealed boxes (opaque bytes), never a plaintext secret.
//
// Stores: SQLite (sqlite_journal.h, one machine) and PostgreSQL
// (pg_journal.h, several daemons side by side). Both must pass the one
// contract suite, tests/integration/journal_contract_test.cc.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/journal.h"

namespace keyrotor::engine {

// Changes to the sealed boxes of one rotation, applied in the same
// transaction as its record.
struct BoxChanges {
  std::vector<std::pair<std::string, std::string>> put;  // slot -> box (SealingKey::Seal's output)
  // Remove every box of this rotation first, leaving no copy the store can
  // reach (SQLite: secure_delete and a WAL checkpoint before Save returns).
  bool wipe_all = false;
};

class JournalStore {
 public:
  virtual ~JournalStore() = default;

  // The store named for messages (a path, a URL without its password).
  virtual const std::string& where() const = 0;

  // Nullptr (and OK) when another process or thread holds the user.
  virtual Result<std::unique_ptr<UserLock>> TryLockUser(const std::string& account, const std::string& user) = 0;

  // Inserts or replaces `record` (by id, never empty) with its box changes,
  // atomically and durably.
  virtual Status Save(const RotationRecord& record, const BoxChanges& boxes) = 0;
  // The user's rotation that is not terminal, if any (the newest should more be open).
  virtual Result<std::optional<RotationRecord>> OpenRotation(const std::string& account, const std::string& user) = 0;
  // The user's rotations, newest first (by start time, then by insertion).
  virtual Result<std::vector<RotationRecord>> Rotations(const std::string& account, const std::string& user) = 0;
  // Every rotation that is not terminal.
  virtual Result<std::vector<RotationRecord>> OpenRotations() = 0;
  // The box stored for a rotation's slot, as it was put.
  virtual Result<std::optional<std::string>> GetBox(const std::string& rotation_id, const std::string& slot) = 0;

  // Appended in order; read back oldest first, with millisecond times.
  virtual Status AppendAudit(const AuditRecord& record) = 0;
  virtual Result<std::vector<AuditRecord>> ReadAudit(const AuditFilter& filter) = 0;

  // Runs `body` with the sealing key's first use serialised across every
  // process sharing this store, so two cannot both create a key file. A
  // store that keeps a key-check box (a constant sealed with the key, so a
  // process holding another key is refused before it seals anything) hands
  // it in `*check` (nullopt until the first use stored one) and stores what
  // `body` sets there when it was empty. A store without one passes nullptr.
  // `body` may be run again when the store retries its transaction.
  using KeyCheckBody = std::function<Status(std::optional<std::string>* check)>;
  virtual Status WithSealingKeyCheck(const KeyCheckBody& body) = 0;
};

}  // namespace keyrotor::engine
