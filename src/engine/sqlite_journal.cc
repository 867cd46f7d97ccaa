// Concurrency model: one sqlite3 connection per Journal object, serialised by
// a mutex (calls are short, and a second connection per thread would only
// contend for SQLite's single writer lock anyway). Processes sharing the file
// coordinate through SQLite's WAL locking; every write transaction is BEGIN
// IMMEDIATE, so a writer waits for the lock up front instead of failing to
// upgrade a read lock half-way, and is retried on SQLITE_BUSY until
// kBusyTimeout has passed.
//
// Writes from many threads (a fleet run's workers) are group-committed: the
// writes queued while one commit is under way go together in the next
// transaction, and so share its fsync. Each caller still returns only once
// its own write is committed, so a transition is as durable as before; on a
// disk where an fsync costs milliseconds this is what lets a fleet run go
// faster than one fsync per journal write (docs/performance.md).
#include "engine/sqlite_journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "base/crypto.h"
#include "base/file_lock.h"
#include "engine/sealing_journal.h"

namespace keyrotor::engine {
namespace {

constexpr int kSqliteSchemaVersion = 1;
// 'KRTJ': marks the file as a keyrotor journal, so an unrelated SQLite
// database handed to --journal is refused rather than written into.
constexpr int kApplicationId = 0x4B52544A;
constexpr std::chrono::milliseconds kBusyTimeout{10'000};

constexpr const char* kSqliteSchema = R"sql(
CREATE TABLE rotations (
  id TEXT PRIMARY KEY NOT NULL,
  account TEXT NOT NULL,
  user TEXT NOT NULL,
  state TEXT NOT NULL,
  mode TEXT NOT NULL,
  open INTEGER NOT NULL,          -- 1 while the state is not terminal
  started_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  record TEXT NOT NULL            -- the whole RotationRecord (RotationToJson); never a secret
);
CREATE INDEX rotations_by_user ON rotations(account, user, started_ms);
CREATE INDEX rotations_open ON rotations(account, user) WHERE open = 1;
CREATE TABLE sealed (
  rotation_id TEXT NOT NULL REFERENCES rotations(id) ON DELETE CASCADE,
  slot TEXT NOT NULL,
  box BLOB NOT NULL,              -- SealingKey::Seal(secret, rotation_id + "/" + slot)
  PRIMARY KEY (rotation_id, slot)
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  account TEXT NOT NULL,
  user TEXT NOT NULL,
  json TEXT NOT NULL              -- AuditToJson; never a secret
);
CREATE INDEX audit_by_user ON audit(account, user, seq);
)sql";


bool IsBusy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

std::string ErrnoText() { return std::strerror(errno); }

// A prepared statement that finalises itself; Bind* return the sqlite rc.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  int prepare_rc() const { return rc_; }
  int Bind(int i, std::string_view text) {
    return sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  int BindBlob(int i, std::string_view bytes) {
    return sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  }
  int Bind(int i, int64_t v) { return sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  int Reset() { return sqlite3_reset(stmt_); }
  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  std::string Blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Runs a statement that returns no rows (or whose rows are ignored) to completion.
int StepToEnd(Statement& st) {
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

class FlockUserLock : public UserLock {
 public:
  explicit FlockUserLock(FileLock lock) : lock_(std::move(lock)) {}

 private:
  FileLock lock_;  // released on destruction
};

// The store under the journal (journal_store.h): it keeps sealed boxes as
// opaque blobs and never sees a plaintext secret.
class SqliteJournal : public JournalStore {
 public:
  SqliteJournal(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  ~SqliteJournal() override { sqlite3_close_v2(db_); }

  // Applies the connection settings and creates or checks the schema.
  Status Init();

  const std::string& where() const override { return path_; }
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
  // "PATH: what: sqlite's message". sqlite's messages never quote bound
  // values, so no secret can reach them.
  Status SqlError(std::string_view what, int rc, const std::string& message) const {
    if ((rc & 0xff) == SQLITE_NOTADB) {
      return Status::ParseError(path_ + ": not a keyrotor journal (" + message + ")");
    }
    return Status::IoError(path_ + ": " + std::string(what) + ": " + message);
  }
  Status SqlError(std::string_view what, int rc) const { return SqlError(what, rc, sqlite3_errmsg(db_)); }

  // Runs `body` (returning a sqlite rc) until it succeeds or fails with
  // something other than SQLITE_BUSY, or kBusyTimeout has passed. The
  // busy_timeout handler already waits inside most calls; this covers the
  // cases where SQLite returns BUSY without calling it (WAL recovery, a
  // COMMIT racing a checkpoint).
  template <typename Body>
  Status RetryBusy(std::string_view what, Body body) {
    auto deadline = std::chrono::steady_clock::now() + kBusyTimeout;
    std::chrono::milliseconds backoff{5};
    for (;;) {
      std::string message;
      int rc = body(&message);
      if (rc == SQLITE_OK) return Status::Ok();
      if (!IsBusy(rc) || std::chrono::steady_clock::now() >= deadline) return SqlError(what, rc, message);
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
    }
  }

  // BEGIN IMMEDIATE; body; COMMIT, the whole of it retried on SQLITE_BUSY.
  // `body` returns a sqlite rc; any failure rolls back.
  template <typename Body>
  Status Transaction(std::string_view what, Body body) {
    return RetryBusy(what, [&](std::string* message) {
      int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) rc = body();
      if (rc == SQLITE_OK) rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) {
        *message = sqlite3_errmsg(db_);  // before ROLLBACK replaces it
        if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      }
      return rc;
    });
  }

  Status Exec(std::string_view what, const char* sql) {
    return RetryBusy(what, [&](std::string* message) {
      int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) *message = sqlite3_errmsg(db_);
      return rc;
    });
  }

  Result<std::vector<RotationRecord>> QueryRotations(std::string_view what, const char* sql,
                                                     const std::vector<std::string>& params);

  // After a transaction that wiped sealed boxes: copy the WAL into the
  // database (where secure_delete has zeroed them) and truncate the WAL, so
  // that no stale copy of a box stays on disk. Best effort: a reader in
  // another process may hold the WAL, and the next checkpoint will do it.
  void CheckpointAfterWipe() {
    sqlite3_busy_timeout(db_, 250);
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    sqlite3_busy_timeout(db_, static_cast<int>(kBusyTimeout.count()));
  }

  // One write waiting for its commit; it lives on its caller's stack.
  struct PendingWrite {
    std::string what;
    std::function<int()> body;  // a sqlite rc; run inside a transaction, maybe more than once
    bool wipes_sealed = false;
    Status status;
    bool done = false;  // guarded by commit_mu_
  };

  // Queues `body` and returns once it is committed (or has failed). The
  // caller that finds no commit under way commits everything queued.
  Status Write(std::string what, bool wipes_sealed, std::function<int()> body) {
    PendingWrite w{std::move(what), std::move(body), wipes_sealed, Status::Ok(), false};
    std::unique_lock<std::mutex> lock(commit_mu_);
    pending_.push_back(&w);
    while (!w.done) {
      if (committing_) {
        commit_cv_.wait(lock);
        continue;
      }
      committing_ = true;
      std::vector<PendingWrite*> batch;
      batch.swap(pending_);
      lock.unlock();
      {
        std::lock_guard db_lock(mu_);
        CommitBatch(batch);
      }
      lock.lock();
      for (PendingWrite* p : batch) p->done = true;
      committing_ = false;
      commit_cv_.notify_all();
    }
    return w.status;
  }

  // Under mu_. One transaction for the whole batch; when one body fails,
  // each is committed alone, so a bad write fails only its own caller.
  void CommitBatch(const std::vector<PendingWrite*>& batch) {
    bool body_failed = false;
    Status together = Status::Ok();
    if (batch.size() > 1) {
      together = Transaction("commit " + std::to_string(batch.size()) + " journal writes", [&]() {
        body_failed = false;
        for (PendingWrite* p : batch) {
          int rc = p->body();
          if (rc != SQLITE_OK) {
            body_failed = true;
            return rc;
          }
        }
        return SQLITE_OK;
      });
    }
    for (PendingWrite* p : batch) {
      if (batch.size() == 1 || (!together.ok() && body_failed)) {
        p->status = Transaction(p->what, p->body);
      } else {
        p->status = together;  // committed together, or the commit itself failed (busy, I/O)
      }
    }
    // Wiped boxes leave the WAL before any of their callers returns.
    if (std::any_of(batch.begin(), batch.end(),
                    [](const PendingWrite* p) { return p->wipes_sealed && p->status.ok(); })) {
      CheckpointAfterWipe();
    }
  }

  const std::string path_;
  std::mutex mu_;  // guards db_
  sqlite3* db_;
  std::mutex commit_mu_;  // guards pending_, committing_ and PendingWrite::done; never held with mu_
  std::condition_variable commit_cv_;
  std::vector<PendingWrite*> pending_;
  bool committing_ = false;
};

Status SqliteJournal::Init() {
  std::lock_guard lock(mu_);
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(kBusyTimeout.count()));

  // Identity first, before changing anything: a file that is not SQLite fails
  // on its header here, and someone else's database is refused untouched.
  std::string problem;
  KR_RETURN_IF_ERROR(Transaction("create schema", [&]() {
    problem.clear();
    Statement q(db_,
                "SELECT (SELECT application_id FROM pragma_application_id), "
                "(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)");
    int rc = q.prepare_rc();
    if (rc != SQLITE_OK) return rc;
    if ((rc = q.Step()) != SQLITE_ROW) return rc;
    int64_t app = q.Int(0), version = q.Int(1), objects = q.Int(2);
    if (app == 0 && version == 0 && objects == 0) {
      rc = sqlite3_exec(db_, kSqliteSchema, nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) return rc;
      std::string pragmas = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                            "; PRAGMA user_version=" + std::to_string(kSqliteSchemaVersion) + ";";
      return sqlite3_exec(db_, pragmas.c_str(), nullptr, nullptr, nullptr);
    }
    if (app != kApplicationId) {
      problem = "not a keyrotor journal (a SQLite database of something else)";
    } else if (version > kSqliteSchemaVersion) {
      problem = "journal schema version " + std::to_string(version) + " is newer than this keyrotor supports (" +
                std::to_string(kSqliteSchemaVersion) + "); upgrade keyrotor";
    }
    return SQLITE_OK;
  }));
  if (!problem.empty()) return Status::FailedPrecondition(path_ + ": " + problem);

  // WAL: readers (reports, `keyrotor history`) never block the writer, and a
  // commit is one fsync of the log.
  std::string mode;
  KR_RETURN_IF_ERROR(RetryBusy("set WAL mode", [&](std::string* message) {
    Statement st(db_, "PRAGMA journal_mode=WAL");
    int rc = st.prepare_rc();
    if (rc == SQLITE_OK) {
      rc = st.Step();
      if (rc == SQLITE_ROW) {
        mode = st.Text(0);
        rc = SQLITE_OK;
      }
    }
    if (rc != SQLITE_OK) *message = sqlite3_errmsg(db_);
    return rc;
  }));
  if (mode != "wal") {
    return Status::IoError(path_ + ": cannot use write-ahead logging (journal mode is \"" + mode + "\")");
  }
  // synchronous=FULL: a committed transition survives power loss, so the
  // engine never repeats (or forgets) a side effect. secure_delete: a wiped
  // sealed box is overwritten with zeros. temp_store=MEMORY: no temporary
  // file ever holds page contents.
  return Exec("configure",
              "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;");
}

Result<std::unique_ptr<UserLock>> SqliteJournal::TryLockUser(const std::string& account, const std::string& user) {
  // One file per user, never deleted: unlinking a lock file while another
  // process waits on its descriptor would let two processes hold "the" lock.
  // flock (base/file_lock.h), not fcntl locks: flock belongs to the open
  // file description, so a second descriptor in this same process conflicts
  // too (threads exclude each other), and the kernel drops it when the
  // process dies. O_CLOEXEC: a destination or notifier we spawn must not
  // inherit, and so prolong, the lock. The directory must be a real one and
  // the files are opened without following symlinks: a link planted there
  // cannot make us create or lock a file elsewhere.
  KR_ASSIGN_OR_RETURN(FileLock lock, FileLock::AcquireInDirectory(path_ + ".locks",
                                                                  HexSha256(account + "/" + user).substr(0, 32),
                                                                  {.wait = false}));
  if (!lock.held()) return std::unique_ptr<UserLock>();
  return std::unique_ptr<UserLock>(std::make_unique<FlockUserLock>(std::move(lock)));
}

Status SqliteJournal::Save(const RotationRecord& record, const BoxChanges& boxes) {
  if (record.id.empty()) return Status::InvalidArgument("rotation record has no id");
  std::string json = RotationToJson(record).dump();
  return Write("save rotation " + record.id, boxes.wipe_all, [&]() {
    int rc;
    if (boxes.wipe_all) {
      Statement wipe(db_, "DELETE FROM sealed WHERE rotation_id = ?1");
      if ((rc = wipe.prepare_rc()) != SQLITE_OK) return rc;
      wipe.Bind(1, record.id);
      if ((rc = StepToEnd(wipe)) != SQLITE_OK) return rc;
    }
    // An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, and the
    // foreign key would cascade that delete to the rotation's sealed boxes.
    Statement up(db_,
                 "INSERT INTO rotations(id, account, user, state, mode, open, started_ms, updated_ms, record) "
                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                 "ON CONFLICT(id) DO UPDATE SET account = excluded.account, user = excluded.user, "
                 "state = excluded.state, mode = excluded.mode, open = excluded.open, "
                 "started_ms = excluded.started_ms, updated_ms = excluded.updated_ms, record = excluded.record");
    if ((rc = up.prepare_rc()) != SQLITE_OK) return rc;
    up.Bind(1, record.id);
    up.Bind(2, record.account);
    up.Bind(3, record.user);
    up.Bind(4, StateName(record.state));
    up.Bind(5, ModeName(record.mode));
    up.Bind(6, int64_t{IsTerminal(record.state) ? 0 : 1});
    up.Bind(7, ToMillis(record.started));
    up.Bind(8, ToMillis(record.updated));
    up.Bind(9, json);
    if ((rc = StepToEnd(up)) != SQLITE_OK) return rc;
    if (!boxes.put.empty()) {
      Statement put(db_,
                    "INSERT INTO sealed(rotation_id, slot, box) VALUES(?1, ?2, ?3) "
                    "ON CONFLICT(rotation_id, slot) DO UPDATE SET box = excluded.box");
      if ((rc = put.prepare_rc()) != SQLITE_OK) return rc;
      for (const auto& [slot, box] : boxes.put) {
        put.Reset();
        put.Bind(1, record.id);
        put.Bind(2, slot);
        put.BindBlob(3, box);
        if ((rc = StepToEnd(put)) != SQLITE_OK) return rc;
      }
    }
    return SQLITE_OK;
  });
}

Result<std::vector<RotationRecord>> SqliteJournal::QueryRotations(std::string_view what, const char* sql,
                                                                  const std::vector<std::string>& params) {
  std::lock_guard lock(mu_);
  std::vector<std::string> rows;
  KR_RETURN_IF_ERROR(RetryBusy(what, [&](std::string* message) {
    rows.clear();
    Statement q(db_, sql);
    int rc = q.prepare_rc();
    for (size_t i = 0; rc == SQLITE_OK && i < params.size(); ++i) rc = q.Bind(static_cast<int>(i + 1), params[i]);
    while (rc == SQLITE_OK && (rc = q.Step()) == SQLITE_ROW) {
      rows.push_back(q.Text(0));
      rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (rc != SQLITE_OK) *message = sqlite3_errmsg(db_);
    return rc;
  }));
  std::vector<RotationRecord> out;
  for (const std::string& row : rows) {
    auto json = nlohmann::json::parse(row, nullptr, /*allow_exceptions=*/false);
    auto record = RotationFromJson(json);
    if (!record.ok()) return record.status().WithContext(path_ + ": rotation record");
    out.push_back(std::move(record).value());
  }
  return out;
}

Result<std::optional<RotationRecord>> SqliteJournal::OpenRotation(const std::string& account, const std::string& user) {
  // The newest, should more than one ever be open (the engine's lock prevents it).
  KR_ASSIGN_OR_RETURN(auto rows, QueryRotations("read open rotation",
                                                "SELECT record FROM rotations WHERE account = ?1 AND user = ?2 "
                                                "AND open = 1 ORDER BY started_ms DESC, rowid DESC LIMIT 1",
                                                {account, user}));
  if (rows.empty()) return std::optional<RotationRecord>();
  return std::optional<RotationRecord>(std::move(rows.front()));
}

Result<std::vector<RotationRecord>> SqliteJournal::Rotations(const std::string& account, const std::string& user) {
  return QueryRotations("read rotations",
                        "SELECT record FROM rotations WHERE account = ?1 AND user = ?2 "
                        "ORDER BY started_ms DESC, rowid DESC",
                        {account, user});
}

Result<std::vector<RotationRecord>> SqliteJournal::OpenRotations() {
  return QueryRotations("read open rotations",
                        "SELECT record FROM rotations WHERE open = 1 ORDER BY account, user, started_ms", {});
}

Result<std::optional<std::string>> SqliteJournal::GetBox(const std::string& rotation_id, const std::string& slot) {
  std::lock_guard lock(mu_);
  std::optional<std::string> box;
  KR_RETURN_IF_ERROR(RetryBusy("read sealed slot", [&](std::string* message) {
    box.reset();
    Statement q(db_, "SELECT box FROM sealed WHERE rotation_id = ?1 AND slot = ?2");
    int rc = q.prepare_rc();
    if (rc == SQLITE_OK) rc = q.Bind(1, rotation_id);
    if (rc == SQLITE_OK) rc = q.Bind(2, slot);
    if (rc == SQLITE_OK) {
      rc = q.Step();
      if (rc == SQLITE_ROW) box = q.Blob(0);
      if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) *message = sqlite3_errmsg(db_);
    return rc;
  }));
  return box;
}

// Inside a write transaction: SQLite's write lock serialises first use across
// processes, so one cannot read the key file another has created but not yet
// written. Schema 1 has no key-check box (the key lives beside the file).
Status SqliteJournal::WithSealingKeyCheck(const KeyCheckBody& body) {
  std::lock_guard lock(mu_);
  Status result;
  KR_RETURN_IF_ERROR(Transaction("load sealing key", [&]() {
    result = body(nullptr);
    return SQLITE_OK;
  }));
  return result;
}

Status SqliteJournal::AppendAudit(const AuditRecord& record) {
  std::string json = AuditToJson(record).dump();
  return Write("append audit record", false, [&]() {
    Statement ins(db_, "INSERT INTO audit(time_ms, account, user, json) VALUES(?1, ?2, ?3, ?4)");
    int rc = ins.prepare_rc();
    if (rc != SQLITE_OK) return rc;
    ins.Bind(1, ToMillis(record.time));
    ins.Bind(2, record.account);
    ins.Bind(3, record.user);
    ins.Bind(4, json);
    return StepToEnd(ins);
  });
}

Result<std::vector<AuditRecord>> SqliteJournal::ReadAudit(const AuditFilter& filter) {
  // The most recent `limit` rows are taken newest first and reversed, so the
  // caller still reads them in the order they happened.
  std::string sql = "SELECT time_ms, json FROM audit WHERE 1";
  std::vector<std::string> texts;
  if (!filter.account.empty()) {
    texts.push_back(filter.account);
    sql += " AND account = ?" + std::to_string(texts.size());
  }
  if (!filter.user.empty()) {
    texts.push_back(filter.user);
    sql += " AND user = ?" + std::to_string(texts.size());
  }
  if (filter.since) sql += " AND time_ms >= " + std::to_string(ToMillis(*filter.since));
  sql += " ORDER BY seq DESC";
  // Clamped: SQLite reads a LIMIT beyond int64 as a real and rejects it.
  if (filter.limit > 0) {
    sql += " LIMIT " + std::to_string(std::min<uint64_t>(filter.limit, std::numeric_limits<int64_t>::max()));
  }

  std::lock_guard lock(mu_);
  std::vector<std::pair<int64_t, std::string>> rows;
  KR_RETURN_IF_ERROR(RetryBusy("read audit", [&](std::string* message) {
    rows.clear();
    Statement q(db_, sql.c_str());
    int rc = q.prepare_rc();
    for (size_t i = 0; rc == SQLITE_OK && i < texts.size(); ++i) rc = q.Bind(static_cast<int>(i + 1), texts[i]);
    while (rc == SQLITE_OK && (rc = q.Step()) == SQLITE_ROW) {
      rows.emplace_back(q.Int(0), q.Text(1));
      rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (rc != SQLITE_OK) *message = sqlite3_errmsg(db_);
    return rc;
  }));
  std::vector<AuditRecord> out;
  out.reserve(rows.size());
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    auto record = AuditFromJson(nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false));
    if (!record.ok()) return record.status().WithContext(path_ + ": audit record");
    record->time = FromMillis(it->first);  // the JSON has whole seconds only
    out.push_back(std::move(record).value());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<JournalStore>> OpenSqliteStore(const std::string& path) {
  // Create the file ourselves so it is 0600 from its first byte (SQLite would
  // apply the umask); SQLite gives -wal and -shm the database's mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    bool ok = ::fchmod(fd, 0600) == 0;
    std::string why = ok ? "" : ErrnoText();
    ::close(fd);
    if (!ok) return Status::IoError(path + ": cannot set mode 0600: " + why);
  } else if (errno != EEXIST) {
    return Status::IoError(path + ": cannot create journal: " + ErrnoText());
  }
  sqlite3* db = nullptr;
  // NOMUTEX: SqliteJournal serialises access to its connection itself.
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::IoError(path + ": cannot open journal: " + message);
  }
  auto store = std::make_unique<SqliteJournal>(path, db);
  KR_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<JournalStore>(std::move(store));
}

Result<std::unique_ptr<Journal>> OpenSqliteJournal(const std::string& path) {
  KR_ASSIGN_OR_RETURN(std::unique_ptr<JournalStore> store, OpenSqliteStore(path));
  return NewSealingJournal(std::move(store), path + ".key");
}

std::string SqliteVersion() { return sqlite3_libversion(); }

}  // namespace keyrotor::engine
