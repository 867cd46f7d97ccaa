// Concurrency model. Within a process: one main connection per Journal
// object, serialised by a mutex. Every call is one short statement or
// transaction, and the engine's calls are few per rotation step, so a pool
// would add reconnect and sizing logic for no measurable gain; the lock
// connections below are separate and never wait on the mutex.
//
// Across processes and hosts: PostgreSQL's own transactions. Every Save is one
// READ COMMITTED transaction whose first statement upserts the rotation row,
// which takes that row's lock, so two Saves of one rotation queue behind each
// other (the per-user lock already keeps two writers apart; this makes it
// safe without it). No statement reads a value to write another, so READ
// COMMITTED loses nothing; a transaction the server aborts as a serialization
// failure or deadlock (SQLSTATE class 40) is retried, up to kMaxAttempts.
//
// libpqxx reports errors by throwing; every exception is caught in this file
// and becomes a Status naming the database (password redacted).
#include "engine/pg_journal.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <libpq-fe.h>

#include <pqxx/pqxx>
#include <thread>

#include "base/conninfo_redact.h"
#include "base/crypto.h"
#include "engine/sealing_journal.h"

namespace keyrotor::engine {
namespace {

constexpr int kPgSchemaVersion = 1;
// Transaction retries on serialization failures and deadlocks, and reconnects.
constexpr int kMaxAttempts = 8;

// Keys of transaction-level advisory locks that serialise one-off work across
// every process sharing the database: creating the schema (two daemons
// starting against an empty database) and first use of the sealing key. 'KRTJ'
// in the high half; user locks are hashes and cannot be told apart from these
// in principle, but a collision among 2^64 values is not a practical concern.
constexpr int64_t kSchemaLockKey = 0x4B52544A'00000001;
constexpr int64_t kSealingKeyLockKey = 0x4B52544A'00000002;

// Everything in one schema, so the journal can share a database with other
// applications and is removed with one DROP SCHEMA. Column names mirror the
// SQLite journal (sqlite_journal.cc) except `user`, a reserved word here.
constexpr const char* kPgSchema = R"sql(
CREATE SCHEMA keyrotor;
CREATE TABLE keyrotor.schema_version (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version integer NOT NULL
);
CREATE TABLE keyrotor.rotations (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,  -- insertion order: breaks ties between equal start times
  account text NOT NULL,
  user_name text NOT NULL,
  state text NOT NULL,
  mode text NOT NULL,
  open boolean NOT NULL,                    -- while the state is not terminal
  started_ms bigint NOT NULL,
  updated_ms bigint NOT NULL,
  record text NOT NULL                      -- the whole RotationRecord (RotationToJson); never a secret
);
CREATE INDEX rotations_by_user ON keyrotor.rotations(account, user_name, started_ms);
CREATE INDEX rotations_open ON keyrotor.rotations(account, user_name) WHERE open;
CREATE TABLE keyrotor.sealed (
  rotation_id text NOT NULL REFERENCES keyrotor.rotations(id) ON DELETE CASCADE,
  slot text NOT NULL,
  box bytea NOT NULL,                       -- SealingKey::Seal(secret, rotation_id || '/' || slot)
  PRIMARY KEY (rotation_id, slot)
);
CREATE TABLE keyrotor.sealing_key_check (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  box bytea NOT NULL
);
CREATE TABLE keyrotor.audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time_ms bigint NOT NULL,
  account text NOT NULL,
  user_name text NOT NULL,
  json text NOT NULL                        -- AuditToJson; never a secret
);
CREATE INDEX audit_by_user ON keyrotor.audit(account, user_name, seq);
)sql";


// libpq's messages end in a newline and may span lines ("DETAIL: ...").
std::string OneLine(std::string_view text) {
  std::string out(text);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

// Maps what libpqxx threw to a Status. The server's messages quote no bound
// parameter, and only sealed boxes are ever bound where a secret could be;
// but libpq's own messages may quote the connection string `url`, whole or
// in pieces (a malformed URI), so its passwords are redacted from them.
Status ToStatus(const std::string& where, std::string_view what, const std::exception& e, std::string_view url) {
  std::string message = where + ": " + std::string(what) + ": " + RedactConnectionSecrets(OneLine(e.what()), url);
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return Status::UnknownOutcome(message + " (the connection broke during COMMIT: it may have happened)");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return Status::NetworkError(message);
  return Status::IoError(message);
}

// A 64-bit advisory lock key for one IAM user. Prefixed so that another
// application hashing plain "account/user" strings does not collide with us.
int64_t UserLockKey(const std::string& account, const std::string& user) {
  std::string digest = Sha256("keyrotor user lock\n" + account + "/" + user);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | static_cast<unsigned char>(digest[static_cast<size_t>(i)]);
  int64_t out;
  std::memcpy(&out, &key, sizeof out);
  return out;
}

class PgUserLock;

// The locks this journal object has handed out and that are still held, by
// key, so that Save can check the one covering its record. Shared with the
// locks, which may outlive the journal.
struct HeldLocks {
  std::mutex mu;
  std::map<int64_t, PgUserLock*> by_key;
};

// A session-level advisory lock on a connection of its own. Session-level,
// not transaction-level (pg_try_advisory_xact_lock): a rotation step spans
// AWS calls and many journal transactions, and holding one transaction open
// all that time would pin the main connection (blocking every other thread's
// journal call) and hold back VACUUM. A session lock lives exactly as long as
// this connection: ended by the destructor, or by the server when the process
// dies and the kernel closes its socket. libpq opens the socket close-on-exec,
// so a destination or notifier we spawn cannot prolong it.
class PgUserLock : public UserLock {
 public:
  PgUserLock(std::unique_ptr<pqxx::connection> connection, int64_t key, std::shared_ptr<HeldLocks> held)
      : connection_(std::move(connection)), key_(key), held_(std::move(held)) {
    std::lock_guard lock(held_->mu);
    held_->by_key[key_] = this;
  }
  ~PgUserLock() override {
    {
      std::lock_guard lock(held_->mu);
      auto it = held_->by_key.find(key_);
      if (it != held_->by_key.end() && it->second == this) held_->by_key.erase(it);
    }
    std::lock_guard lock(mu_);
    // Unlock explicitly before closing: closing alone makes the server drop
    // the lock only when the backend exits, a moment later, and a caller that
    // relocks right away would find the user still taken.
    try {
      pqxx::nontransaction unlock(*connection_);
      unlock.exec_params("SELECT pg_advisory_unlock($1)", key_);
    } catch (const std::exception&) {
      // The session is gone, and the lock with it.
    }
  }

  // Whether this session still holds the lock. It may not: the server
  // restarted, or an administrator ended the session (pg_terminate_backend),
  // and libpqxx would then quietly reconnect without it. Asked of pg_locks,
  // where a bigint advisory key appears as classid (high half), objid (low
  // half) and objsubid 1.
  bool StillHeld() {
    std::lock_guard lock(mu_);
    try {
      auto bits = static_cast<uint64_t>(key_);
      pqxx::nontransaction t(*connection_);
      pqxx::result r = t.exec_params(
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
          "AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
          static_cast<int64_t>(bits >> 32), static_cast<int64_t>(bits & 0xffffffffu));
      return !r.empty();
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  std::mutex mu_;  // guards connection_: the holder's thread and Save's check may differ
  std::unique_ptr<pqxx::connection> connection_;
  int64_t key_;
  std::shared_ptr<HeldLocks> held_;
};

// The store under the journal (journal_store.h): it keeps sealed boxes as
// opaque bytea and never sees a plaintext secret.
class PgJournal : public JournalStore {
 public:
  explicit PgJournal(std::string url) : url_(std::move(url)), where_(RedactPostgresUrl(url_)) {}

  // Connects and creates or checks the schema.
  Status Init();

  const std::string& where() const override { return where_; }
  Result<std::unique_ptr<UserLock>> TryLockUser(const std::string& account, const std::string& user) override;
  Status Save(const RotationRecord& record, const BoxChanges& boxes) override;
  Result<std::optional<RotationRecord>> OpenRotation(const std::string& account, const std::string& user) override;
  Result<std::vector<RotationRecord>> Rotations(const std::string& account, const std::string& user) override;
  Result<std::vector<RotationRecord>> OpenRotations() override;
  Result<std::optional<std::string>> GetBox(const std::string& rotation_id, const std::string& slot) override;
  Status AppendAudit(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> ReadAudit(const AuditFilter& filter) override;
  Status WithSealingKeyCheck(const KeyCheckBody& body) override;

 private:
  // Runs `body(connection)` (which may throw) on the main connection, with
  // mu_ held by the caller. A transaction the server rolled back as a
  // serialization failure or deadlock is run again; so is one whose
  // connection broke before COMMIT (on a fresh connection: the server rolled
  // it back), but not one that could not connect at all. A connection lost
  // during COMMIT is an UnknownOutcome, not retried: it may have happened.
  template <typename Body>
  Status Run(std::string_view what, Body body) {
    std::chrono::milliseconds backoff{5};
    for (int attempt = 1;; ++attempt) {
      try {
        if (!connection_) connection_ = std::make_unique<pqxx::connection>(url_);
        body(*connection_);
        return Status::Ok();
      } catch (const pqxx::in_doubt_error& e) {
        connection_.reset();
        return ToStatus(where_, what, e, url_);
      } catch (const pqxx::transaction_rollback& e) {
        if (attempt >= kMaxAttempts) return ToStatus(where_, what, e, url_);
      } catch (const pqxx::broken_connection& e) {
        // Once more on a fresh connection: a server restart or an idle
        // connection dropped by a proxy heals, a wrong URL fails fast.
        bool was_connected = connection_ != nullptr;
        connection_.reset();
        if (!was_connected || attempt >= kMaxAttempts) return ToStatus(where_, what, e, url_);
      } catch (const std::exception& e) {
        return ToStatus(where_, what, e, url_);
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
    }
  }

  // FailedPrecondition when this journal handed out the lock of the record's
  // user and that lock has since been lost: another daemon may hold the user
  // now, and a transition saved by this one could undo its work. Records of
  // users this journal holds no lock for (tests, reports) pass.
  Status CheckLockStillHeld(const RotationRecord& record) {
    std::lock_guard lock(held_locks_->mu);
    auto it = held_locks_->by_key.find(UserLockKey(record.account, record.user));
    if (it == held_locks_->by_key.end() || it->second->StillHeld()) return Status::Ok();
    return Status::FailedPrecondition(where_ + ": the lock on user " + record.account + "/" + record.user +
                                      " was lost (its session ended); not saving rotation " + record.id);
  }

  template <typename Query>
  Result<std::vector<RotationRecord>> QueryRotations(std::string_view what, Query query);

  const std::string url_;
  const std::string where_;  // url_ without its password, for messages
  std::mutex mu_;  // guards connection_
  std::unique_ptr<pqxx::connection> connection_;
  std::shared_ptr<HeldLocks> held_locks_ = std::make_shared<HeldLocks>();
};

Status PgJournal::Init() {
  std::lock_guard lock(mu_);
  std::string problem;
  KR_RETURN_IF_ERROR(Run("create schema", [&](pqxx::connection& c) {
    problem.clear();
    pqxx::work t(c);
    // Two daemons starting against an empty database: one creates, the
    // other waits here and then finds the schema.
    t.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockKey);
    pqxx::row found =
        t.exec1("SELECT to_regnamespace('keyrotor') IS NOT NULL, to_regclass('keyrotor.schema_version') IS NOT NULL");
    if (!found[0].as<bool>()) {
      t.exec(kPgSchema);
      t.exec_params("INSERT INTO keyrotor.schema_version(version) VALUES ($1)", kPgSchemaVersion);
      t.commit();
      return;
    }
    pqxx::result version;
    if (found[1].as<bool>()) version = t.exec("SELECT version FROM keyrotor.schema_version");
    if (version.empty()) {
      problem = "the schema \"keyrotor\" exists but is not a keyrotor journal (no schema version)";
    } else if (int v = version[0][0].as<int>(); v > kPgSchemaVersion) {
      problem = "journal schema version " + std::to_string(v) + " is newer than this keyrotor supports (" +
                std::to_string(kPgSchemaVersion) + "); upgrade keyrotor";
    }
  }));
  if (!problem.empty()) return Status::FailedPrecondition(where_ + ": " + problem);
  return Status::Ok();
}

// Inside a transaction holding an advisory lock, so that first use is
// serialised across every daemon: exactly one stores the check box, and the
// others then compare their key with it.
Status PgJournal::WithSealingKeyCheck(const KeyCheckBody& body) {
  std::lock_guard lock(mu_);
  Status result;
  KR_RETURN_IF_ERROR(Run("check the sealing key", [&](pqxx::connection& c) {
    pqxx::work t(c);
    t.exec_params("SELECT pg_advisory_xact_lock($1)", kSealingKeyLockKey);
    pqxx::result r = t.exec("SELECT box FROM keyrotor.sealing_key_check");
    std::optional<std::string> check;
    if (!r.empty()) check = pqxx::binarystring(r[0][0]).str();
    bool had_check = check.has_value();
    result = body(&check);
    if (result.ok() && !had_check && check) {
      t.exec_params("INSERT INTO keyrotor.sealing_key_check(box) VALUES ($1)", pqxx::binarystring(*check));
      t.commit();
    }
  }));
  return result;
}

Result<std::unique_ptr<UserLock>> PgJournal::TryLockUser(const std::string& account, const std::string& user) {
  int64_t key = UserLockKey(account, user);
  // A connection per lock: a session lock is re-entrant within its session, so
  // sharing one connection would let two threads of this process both "get"
  // the user; and the lock must outlive no more and no less than its holder.
  try {
    auto connection = std::make_unique<pqxx::connection>(url_);
    bool locked = false;
    {
      pqxx::nontransaction t(*connection);
      locked = t.exec_params1("SELECT pg_try_advisory_lock($1)", key)[0].as<bool>();
    }
    if (!locked) return std::unique_ptr<UserLock>();
    return std::unique_ptr<UserLock>(std::make_unique<PgUserLock>(std::move(connection), key, held_locks_));
  } catch (const std::exception& e) {
    return ToStatus(where_, "lock user " + account + "/" + user, e, url_);
  }
}

Status PgJournal::Save(const RotationRecord& record, const BoxChanges& boxes) {
  if (record.id.empty()) return Status::InvalidArgument("rotation record has no id");
  // Checked before the transaction: a lock lost between this check and the
  // COMMIT is not noticed, a window of one round trip instead of a whole run.
  KR_RETURN_IF_ERROR(CheckLockStillHeld(record));
  std::lock_guard lock(mu_);
  std::string json = RotationToJson(record).dump();
  return Run("save rotation " + record.id, [&](pqxx::connection& c) {
    pqxx::work t(c);
    // First, so the rotation's row lock is held for the rest of the
    // transaction (and the sealed rows' foreign key finds it).
    t.exec_params(
        "INSERT INTO keyrotor.rotations(id, account, user_name, state, mode, open, started_ms, updated_ms, record) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (id) DO UPDATE SET account = EXCLUDED.account, user_name = EXCLUDED.user_name, "
        "state = EXCLUDED.state, mode = EXCLUDED.mode, open = EXCLUDED.open, started_ms = EXCLUDED.started_ms, "
        "updated_ms = EXCLUDED.updated_ms, record = EXCLUDED.record",
        record.id, record.account, record.user, StateName(record.state), ModeName(record.mode),
        !IsTerminal(record.state), ToMillis(record.started), ToMillis(record.updated), json);
    // A wipe deletes the rows. The dead tuples keep the (sealed) bytes until
    // VACUUM reclaims them: useless without the key file.
    if (boxes.wipe_all) t.exec_params("DELETE FROM keyrotor.sealed WHERE rotation_id = $1", record.id);
    for (const auto& [slot, box] : boxes.put) {
      t.exec_params(
          "INSERT INTO keyrotor.sealed(rotation_id, slot, box) VALUES ($1, $2, $3) "
          "ON CONFLICT (rotation_id, slot) DO UPDATE SET box = EXCLUDED.box",
          record.id, slot, pqxx::binarystring(box));
    }
    t.commit();
  });
}

template <typename Query>
Result<std::vector<RotationRecord>> PgJournal::QueryRotations(std::string_view what, Query query) {
  std::vector<std::string> rows;
  {
    std::lock_guard lock(mu_);
    KR_RETURN_IF_ERROR(Run(what, [&](pqxx::connection& c) {
      rows.clear();
      pqxx::read_transaction t(c);
      for (const auto& row : query(t)) rows.push_back(row[0].template as<std::string>());
    }));
  }
  std::vector<RotationRecord> out;
  out.reserve(rows.size());
  for (const std::string& row : rows) {
    auto record = RotationFromJson(nlohmann::json::parse(row, nullptr, /*allow_exceptions=*/false));
    if (!record.ok()) return record.status().WithContext(where_ + ": rotation record");
    out.push_back(std::move(record).value());
  }
  return out;
}

Result<std::optional<RotationRecord>> PgJournal::OpenRotation(const std::string& account, const std::string& user) {
  // The newest, should more than one ever be open (the engine's lock prevents it).
  KR_ASSIGN_OR_RETURN(auto rows, QueryRotations("read open rotation", [&](pqxx::read_transaction& t) {
                        return t.exec_params(
                            "SELECT record FROM keyrotor.rotations WHERE account = $1 AND user_name = $2 AND open "
                            "ORDER BY started_ms DESC, seq DESC LIMIT 1",
                            account, user);
                      }));
  if (rows.empty()) return std::optional<RotationRecord>();
  return std::optional<RotationRecord>(std::move(rows.front()));
}

Result<std::vector<RotationRecord>> PgJournal::Rotations(const std::string& account, const std::string& user) {
  return QueryRotations("read rotations", [&](pqxx::read_transaction& t) {
    return t.exec_params(
        "SELECT record FROM keyrotor.rotations WHERE account = $1 AND user_name = $2 "
        "ORDER BY started_ms DESC, seq DESC",
        account, user);
  });
}

Result<std::vector<RotationRecord>> PgJournal::OpenRotations() {
  return QueryRotations("read open rotations", [](pqxx::read_transaction& t) {
    return t.exec("SELECT record FROM keyrotor.rotations WHERE open ORDER BY account, user_name, started_ms");
  });
}

Result<std::optional<std::string>> PgJournal::GetBox(const std::string& rotation_id, const std::string& slot) {
  std::lock_guard lock(mu_);
  std::optional<std::string> box;
  KR_RETURN_IF_ERROR(Run("read sealed slot", [&](pqxx::connection& c) {
    box.reset();
    pqxx::read_transaction t(c);
    pqxx::result r =
        t.exec_params("SELECT box FROM keyrotor.sealed WHERE rotation_id = $1 AND slot = $2", rotation_id, slot);
    if (!r.empty()) box = pqxx::binarystring(r[0][0]).str();
  }));
  return box;
}

Status PgJournal::AppendAudit(const AuditRecord& record) {
  std::string json = AuditToJson(record).dump();
  std::lock_guard lock(mu_);
  return Run("append audit record", [&](pqxx::connection& c) {
    pqxx::work t(c);
    t.exec_params("INSERT INTO keyrotor.audit(time_ms, account, user_name, json) VALUES ($1, $2, $3, $4)",
                  ToMillis(record.time), record.account, record.user, json);
    t.commit();
  });
}

Result<std::vector<AuditRecord>> PgJournal::ReadAudit(const AuditFilter& filter) {
  // The most recent `limit` rows are taken newest first and reversed, so the
  // caller still reads them in the order they happened. An empty filter field
  // matches anything; LIMIT NULL is no limit.
  int64_t since = filter.since ? ToMillis(*filter.since) : std::numeric_limits<int64_t>::min();
  auto limit = static_cast<int64_t>(std::min<uint64_t>(filter.limit, std::numeric_limits<int64_t>::max()));
  std::vector<std::pair<int64_t, std::string>> rows;
  {
    std::lock_guard lock(mu_);
    KR_RETURN_IF_ERROR(Run("read audit", [&](pqxx::connection& c) {
      rows.clear();
      pqxx::read_transaction t(c);
      pqxx::result r = t.exec_params(
          "SELECT time_ms, json FROM keyrotor.audit "
          "WHERE ($1 = '' OR account = $1) AND ($2 = '' OR user_name = $2) AND time_ms >= $3 "
          "ORDER BY seq DESC LIMIT NULLIF($4::bigint, 0)",
          filter.account, filter.user, since, limit);
      for (const auto& row : r) rows.emplace_back(row[0].as<int64_t>(), row[1].as<std::string>());
    }));
  }
  std::vector<AuditRecord> out;
  out.reserve(rows.size());
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    auto record = AuditFromJson(nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false));
    if (!record.ok()) return record.status().WithContext(where_ + ": audit record");
    record->time = FromMillis(it->first);  // the JSON has whole seconds only
    out.push_back(std::move(record).value());
  }
  return out;
}

}  // namespace

bool IsPostgresUrl(const std::string& state) {
  return state.starts_with("postgresql://") || state.starts_with("postgres://");
}

std::string RedactPostgresUrl(const std::string& url) { return RedactConnectionSecrets(url, url); }

Result<std::unique_ptr<JournalStore>> OpenPostgresStore(const std::string& url) {
  auto store = std::make_unique<PgJournal>(url);
  KR_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<JournalStore>(std::move(store));
}

Result<std::unique_ptr<Journal>> OpenPostgresJournal(const std::string& url, const std::string& sealing_key_file) {
  if (sealing_key_file.empty()) {
    return Status::InvalidArgument(RedactPostgresUrl(url) + ": no sealing key file given");
  }
  KR_ASSIGN_OR_RETURN(std::unique_ptr<JournalStore> store, OpenPostgresStore(url));
  return NewSealingJournal(std::move(store), sealing_key_file);
}

std::string LibpqVersion() {
  int v = PQlibVersion();  // 150014 for 15.14 (10 and later: major * 10000 + minor)
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000) + " (libpqxx " PQXX_VERSION ")";
}

}  // namespace keyrotor::engine
