// The journal's contract, once, run against every store (journal_store.h):
// the SQLite file and a real PostgreSQL 15 server (tests/support/pg_server.h;
// started once for the binary, its missing binaries fail the Postgres cases).
// What only one store does (SQLite's group commit and file modes, PostgreSQL's
// lost locks and shared sealing key, each store's refusal of foreign data)
// is tested beside it: src/engine/sqlite_journal_test.cc and
// tests/integration/pg_journal_test.cc.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "base/crypto.h"
#include "engine/pg_journal.h"
#include "engine/sealing_journal.h"
#include "engine/sqlite_journal.h"
#include "support/pg_server.h"
#include "support/process.h"
#include "support/journal_records.h"

namespace keyrotor::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using testing::At;
using testing::FullRecord;

// Field by field through the one serialisation every store persists, plus
// the optional that JSON could blur (null vs absent).
void ExpectSameRecord(const RotationRecord& a, const RotationRecord& b) {
  EXPECT_EQ(RotationToJson(a), RotationToJson(b));
  EXPECT_EQ(a.deferred_since, b.deferred_since);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every regular file under `dir`, concatenated.
std::string EveryFileUnder(const std::string& dir) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied)) {
    if (e.is_regular_file()) all += Slurp(e.path().string());
  }
  return all;
}

// --- One store under test -----------------------------------------------------

// How the contract opens a store and looks at what it keeps underneath.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // Empty on success, else why the store cannot be had (a failure, not a skip).
  virtual std::string SetUp(const std::string& client_dir) = 0;
  virtual Result<std::unique_ptr<JournalStore>> OpenStore() = 0;
  // The journal as the CLI opens it (OpenSqliteJournal, OpenPostgresJournal).
  virtual Result<std::unique_ptr<Journal>> OpenJournal() = 0;
  virtual std::string KeyFile() const = 0;
  // What anyone who can read the store's data sees: a wiped box must be gone from it.
  virtual std::string KeptBytes() = 0;
  // Every file the store's machinery wrote (database files, server logs):
  // a plaintext secret must never appear in it.
  virtual std::string EveryFileOfTheStore() = 0;
  // How many saves each of two processes makes, and each of four threads.
  virtual int ProcessSaves() const = 0;
  virtual int ThreadSaves() const = 0;
};

class SqliteHarness : public StoreHarness {
 public:
  std::string SetUp(const std::string& client_dir) override {
    path_ = client_dir + "/journal.db";
    return "";
  }
  Result<std::unique_ptr<JournalStore>> OpenStore() override { return OpenSqliteStore(path_); }
  Result<std::unique_ptr<Journal>> OpenJournal() override { return OpenSqliteJournal(path_); }
  std::string KeyFile() const override { return path_ + ".key"; }
  // The database and the files SQLite keeps beside it: a wiped box lingering
  // in the WAL would count.
  std::string KeptBytes() override {
    std::string all;
    for (const std::string& p : {path_, path_ + "-wal", path_ + "-shm", path_ + "-journal"}) {
      if (fs::exists(p)) all += Slurp(p);
    }
    return all;
  }
  std::string EveryFileOfTheStore() override { return EveryFileUnder(fs::path(path_).parent_path().string()); }
  int ProcessSaves() const override { return 200; }
  int ThreadSaves() const override { return 50; }

 private:
  std::string path_;
};

class PostgresHarness : public StoreHarness {
 public:
  std::string SetUp(const std::string& client_dir) override {
    std::string error;
    server_ = testing::PgServer::Get(&error);
    if (server_ == nullptr) return error;
    url_ = server_->Url(server_->CreateDatabase());
    key_file_ = client_dir + "/pg.key";
    return "";
  }
  Result<std::unique_ptr<JournalStore>> OpenStore() override { return OpenPostgresStore(url_); }
  Result<std::unique_ptr<Journal>> OpenJournal() override { return OpenPostgresJournal(url_, key_file_); }
  std::string KeyFile() const override { return key_file_; }
  // Every text-like and bytea column of every table of the journal, raw
  // bytes concatenated. (Dead tuples keep a wiped box in the cluster's files
  // until VACUUM: sealed, useless without the key file.)
  std::string KeptBytes() override {
    pqxx::connection c(url_);
    pqxx::work t(c);
    std::string all;
    pqxx::result columns = t.exec(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'keyrotor' "
        "AND data_type IN ('text', 'bytea', 'character varying', 'json', 'jsonb')");
    EXPECT_GE(columns.size(), 12u);
    for (const auto& column : columns) {
      std::string table = column[0].as<std::string>(), name = column[1].as<std::string>();
      bool bytea = column[2].as<std::string>() == "bytea";
      for (const auto& row :
           t.exec("SELECT " + t.quote_name(name) + (bytea ? "" : "::text") + " FROM keyrotor." + t.quote_name(table))) {
        if (row[0].is_null()) continue;
        all += bytea ? pqxx::binarystring(row[0]).str() : row[0].as<std::string>();
        all += '\n';
      }
    }
    return all;
  }
  // The whole cluster: tables, WAL, the server's log.
  std::string EveryFileOfTheStore() override { return EveryFileUnder(server_->dir()); }
  int ProcessSaves() const override { return 100; }
  int ThreadSaves() const override { return 25; }

 private:
  testing::PgServer* server_ = nullptr;
  std::string url_;
  std::string key_file_;
};

struct StoreKind {
  std::string name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};

// Records every byte handed to the store underneath, to show that none of it
// is a plaintext secret.
class RecordingStore : public JournalStore {
 public:
  RecordingStore(std::unique_ptr<JournalStore> inner, std::string* seen) : inner_(std::move(inner)), seen_(seen) {}

  const std::string& where() const override { return inner_->where(); }
  Result<std::unique_ptr<UserLock>> TryLockUser(const std::string& account, const std::string& user) override {
    *seen_ += account + user;
    return inner_->TryLockUser(account, user);
  }
  Status Save(const RotationRecord& record, const BoxChanges& boxes) override {
    *seen_ += RotationToJson(record).dump();
    for (const auto& [slot, box] : boxes.put) *seen_ += slot + box;
    return inner_->Save(record, boxes);
  }
  Result<std::optional<RotationRecord>> OpenRotation(const std::string& account, const std::string& user) override {
    return inner_->OpenRotation(account, user);
  }
  Result<std::vector<RotationRecord>> Rotations(const std::string& account, const std::string& user) override {
    return inner_->Rotations(account, user);
  }
  Result<std::vector<RotationRecord>> OpenRotations() override { return inner_->OpenRotations(); }
  Result<std::optional<std::string>> GetBox(const std::string& rotation_id, const std::string& slot) override {
    *seen_ += rotation_id + slot;
    return inner_->GetBox(rotation_id, slot);
  }
  Status AppendAudit(const AuditRecord& record) override {
    *seen_ += AuditToJson(record).dump();
    return inner_->AppendAudit(record);
  }
  Result<std::vector<AuditRecord>> ReadAudit(const AuditFilter& filter) override { return inner_->ReadAudit(filter); }
  Status WithSealingKeyCheck(const KeyCheckBody& body) override {
    return inner_->WithSealingKeyCheck([&](std::optional<std::string>* check) {
      Status s = body(check);
      if (check != nullptr && *check) *seen_ += **check;
      return s;
    });
  }

 private:
  std::unique_ptr<JournalStore> inner_;
  std::string* seen_;
};

class JournalContractTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("keyrotor-journal");
    store_ = GetParam().make();
    std::string error = store_->SetUp(dir_);
    ASSERT_EQ(error, "");
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Journal> Open() {
    auto j = store_->OpenJournal();
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }
  std::unique_ptr<JournalStore> OpenStore() {
    auto s = store_->OpenStore();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::string dir_;
  std::unique_ptr<StoreHarness> store_;
};

TEST_P(JournalContractTest, RoundTripsEveryFieldOfARecord) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  RotationRecord saved = FullRecord("r-1", "alice", 1'700'000'000'123);
  ASSERT_TRUE(journal->Save(saved).ok());
  auto open = journal->OpenRotation("123456789012", "alice");
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  ASSERT_TRUE(open->has_value());
  ExpectSameRecord(**open, saved);

  // An update replaces the record in place; the optional can be cleared.
  saved.deferred_since.reset();
  saved.state = RotationState::kOldDeactivated;
  saved.destinations[1].step = DestinationProgress::Step::kRestored;
  ASSERT_TRUE(journal->Save(saved).ok());
  auto all = journal->Rotations("123456789012", "alice");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  ExpectSameRecord(all->front(), saved);
  EXPECT_FALSE(all->front().deferred_since.has_value());

  // And it survives reopening (another journal object, schema already there).
  journal.reset();
  journal = Open();
  ASSERT_NE(journal, nullptr);
  all = journal->Rotations("123456789012", "alice");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  ExpectSameRecord(all->front(), saved);
}

TEST_P(JournalContractTest, ARecordWithoutAnIdIsRefused) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  RotationRecord r = FullRecord("", "alice", 1);
  EXPECT_EQ(journal->Save(r).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(journal->Rotations("123456789012", "alice")->empty());
}

TEST_P(JournalContractTest, OpenRotationIgnoresTerminalStatesAndRotationsAreNewestFirst) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  RotationRecord done = FullRecord("r-done", "bob", 1000);
  done.state = RotationState::kDone;
  RotationRecord rolled = FullRecord("r-rolled", "bob", 3000);
  rolled.state = RotationState::kRolledBack;
  ASSERT_TRUE(journal->Save(rolled).ok());
  ASSERT_TRUE(journal->Save(done).ok());
  auto open = journal->OpenRotation("123456789012", "bob");
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());

  RotationRecord current = FullRecord("r-current", "bob", 2000);
  current.state = RotationState::kKeyCreated;
  ASSERT_TRUE(journal->Save(current).ok());
  ASSERT_TRUE(journal->Save(FullRecord("r-other-user", "carol", 5000)).ok());
  open = journal->OpenRotation("123456789012", "bob");
  ASSERT_TRUE(open.ok());
  ASSERT_TRUE(open->has_value());
  EXPECT_EQ((*open)->id, "r-current");

  auto all = journal->Rotations("123456789012", "bob");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "r-rolled");
  EXPECT_EQ((*all)[1].id, "r-current");
  EXPECT_EQ((*all)[2].id, "r-done");
  EXPECT_TRUE(journal->Rotations("123456789012", "nobody")->empty());
  EXPECT_TRUE(journal->Rotations("999999999999", "bob")->empty());

  auto open_all = journal->OpenRotations();
  ASSERT_TRUE(open_all.ok());
  std::set<std::string> ids;
  for (const auto& r : *open_all) ids.insert(r.id);
  EXPECT_EQ(ids, (std::set<std::string>{"r-current", "r-other-user"}));

  // Finishing the rotation closes it.
  current.state = RotationState::kDone;
  ASSERT_TRUE(journal->Save(current).ok());
  EXPECT_FALSE(journal->OpenRotation("123456789012", "bob")->has_value());
}

TEST_P(JournalContractTest, SealedSlotsPutGetOverwriteAndWipe) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  RotationRecord r = FullRecord("r-1", "alice", 1000);
  Secret secret("first-secret"), other("other-secret");
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &secret}, {"previous", &other}}, false}).ok());
  auto got = journal->GetSealed("r-1", "new_secret");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->reveal(), "first-secret");
  EXPECT_EQ((*journal->GetSealed("r-1", "previous"))->reveal(), "other-secret");
  EXPECT_FALSE(journal->GetSealed("r-1", "absent")->has_value());
  EXPECT_FALSE(journal->GetSealed("r-unknown", "new_secret")->has_value());

  // A save without sealed changes leaves the slots alone; a put overwrites.
  ASSERT_TRUE(journal->Save(r).ok());
  Secret replaced("second-secret");
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &replaced}}, false}).ok());
  EXPECT_EQ((*journal->GetSealed("r-1", "new_secret"))->reveal(), "second-secret");
  EXPECT_EQ((*journal->GetSealed("r-1", "previous"))->reveal(), "other-secret");

  // wipe_all then put in one save: only the new slot remains.
  Secret fresh("third-secret");
  ASSERT_TRUE(journal->Save(r, {{{"fresh", &fresh}}, true}).ok());
  EXPECT_FALSE(journal->GetSealed("r-1", "new_secret")->has_value());
  EXPECT_FALSE(journal->GetSealed("r-1", "previous")->has_value());
  EXPECT_EQ((*journal->GetSealed("r-1", "fresh"))->reveal(), "third-secret");

  // Another journal object (another connection) with the same key file reads it.
  auto second = Open();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ((*second->GetSealed("r-1", "fresh"))->reveal(), "third-secret");

  SealedChanges null_value;
  null_value.put.emplace_back("x", nullptr);
  EXPECT_EQ(journal->Save(r, null_value).code(), StatusCode::kInvalidArgument);

  // The sealing key was created on first use, private.
  struct stat st {};
  ASSERT_EQ(::stat(store_->KeyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(JournalContractTest, AJournalWithoutSecretsNeedsNoKeyFile) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  RotationRecord r = FullRecord("r-1", "alice", 1000);
  ASSERT_TRUE(journal->Save(r).ok());
  ASSERT_TRUE(journal->Save(r, {{}, true}).ok());
  ASSERT_TRUE(journal->AppendAudit({r.started, r.id, r.account, r.user, "plan", "ok", "", "", ""}).ok());
  EXPECT_FALSE(journal->GetSealed("r-1", "new_secret")->has_value());
  EXPECT_FALSE(fs::exists(store_->KeyFile()));
}

TEST_P(JournalContractTest, NoPlaintextSecretKeptWhileSealedNorAfterWipe) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  // Random, so that it cannot be found by coincidence from another test.
  std::string plaintext = "wJalrXUtnFEMI/K7MDENG/" + HexEncode(RandomBytes(16));
  Secret secret(plaintext);
  RotationRecord r = FullRecord("r-secret", "alice", 1000);
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &secret}}, false}).ok());
  ASSERT_TRUE(journal->AppendAudit({r.started, r.id, r.account, r.user, "create_key", "ok", "AKIANEW", "", ""}).ok());

  std::string box;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto got = store->GetBox("r-secret", "new_secret");
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
    box = **got;
  }
  ASSERT_GT(box.size(), 24u);
  std::string kept = store_->KeptBytes();
  ASSERT_NE(kept.find(box), std::string::npos) << "the scan cannot see the box it should later miss";
  EXPECT_EQ(kept.find(plaintext), std::string::npos) << "plaintext secret kept while sealed";
  EXPECT_EQ(kept.find(plaintext.substr(22)), std::string::npos) << "part of the secret kept";

  r.state = RotationState::kStored;
  ASSERT_TRUE(journal->Save(r, {{}, true}).ok());
  EXPECT_FALSE(journal->GetSealed("r-secret", "new_secret")->has_value());
  kept = store_->KeptBytes();
  EXPECT_EQ(kept.find(plaintext), std::string::npos);
  // SQLite: secure_delete zeroed the box, and the checkpoint after the wipe
  // left no stale copy of it in the WAL. PostgreSQL: the row is gone.
  EXPECT_EQ(kept.find(box), std::string::npos) << "the wiped box is still kept";

  // The plaintext never reached the store's files at all (tables, WAL, logs),
  // nor any other file in the test's directory (the key file is one).
  journal.reset();
  EXPECT_EQ(store_->EveryFileOfTheStore().find(plaintext), std::string::npos);
  EXPECT_EQ(EveryFileUnder(dir_).find(plaintext), std::string::npos);
}

// The point of the layering: the sealing journal seals before the store is
// called, so no store implementation can leak a secret it never receives.
TEST_P(JournalContractTest, TheStoreNeverReceivesAPlaintextSecret) {
  std::string seen;
  auto inner = OpenStore();
  ASSERT_NE(inner, nullptr);
  auto journal = NewSealingJournal(std::make_unique<RecordingStore>(std::move(inner), &seen), store_->KeyFile());
  std::string plaintext = "wJalrXUtnFEMI/K7MDENG/" + HexEncode(RandomBytes(16));
  Secret secret(plaintext), undo(plaintext + "-undo");
  RotationRecord r = FullRecord("r-secret", "alice", 1000);
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &secret}}, false}).ok());
  ASSERT_TRUE(journal->Save(r, {{{"undo/0", &undo}}, false}).ok());
  ASSERT_TRUE(journal->AppendAudit({r.started, r.id, r.account, r.user, "store", "ok", "AKIANEW", "", ""}).ok());
  EXPECT_EQ((*journal->GetSealed("r-secret", "new_secret"))->reveal(), plaintext);
  EXPECT_EQ((*journal->GetSealed("r-secret", "undo/0"))->reveal(), plaintext + "-undo");
  ASSERT_TRUE(journal->Save(r, {{}, true}).ok());
  ASSERT_NE(seen.find("r-secret"), std::string::npos) << "the recording saw nothing";
  EXPECT_EQ(seen.find(plaintext.substr(22)), std::string::npos) << "the store was handed (part of) a secret";
}

TEST_P(JournalContractTest, ABoxMovedToAnotherRotationOrSlotDoesNotOpen) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  Secret secret("victim-secret");
  ASSERT_TRUE(journal->Save(FullRecord("r-a", "alice", 1000), {{{"new_secret", &secret}}, false}).ok());
  ASSERT_TRUE(journal->Save(FullRecord("r-b", "mallory", 2000)).ok());
  // Someone who can write the store copies the box elsewhere, as is.
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto box = store->GetBox("r-a", "new_secret");
    ASSERT_TRUE(box.ok() && box->has_value());
    ASSERT_TRUE(store->Save(FullRecord("r-b", "mallory", 2000), {{{"new_secret", **box}}, false}).ok());
    ASSERT_TRUE(store->Save(FullRecord("r-a", "alice", 1000), {{{"other", **box}}, false}).ok());
  }
  auto moved = journal->GetSealed("r-b", "new_secret");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kParseError);
  EXPECT_EQ(moved.status().message().find("victim-secret"), std::string::npos);
  EXPECT_NE(moved.status().message().find("r-b"), std::string::npos) << moved.status().ToString();
  EXPECT_FALSE(journal->GetSealed("r-a", "other").ok());
  auto original = journal->GetSealed("r-a", "new_secret");
  ASSERT_TRUE(original.ok());
  EXPECT_EQ((*original)->reveal(), "victim-secret");
}

TEST_P(JournalContractTest, TryLockUserExcludesTheSameUserOnly) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto first = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_NE(*first, nullptr);
  auto second = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, nullptr);
  // Another journal object (another descriptor, other connections) is excluded too.
  auto other_journal = Open();
  ASSERT_NE(other_journal, nullptr);
  EXPECT_EQ(*other_journal->TryLockUser("123456789012", "alice"), nullptr);
  // Another thread too.
  std::unique_ptr<UserLock> from_thread;
  std::thread([&] { from_thread = journal->TryLockUser("123456789012", "alice").value(); }).join();
  EXPECT_EQ(from_thread, nullptr);

  auto bob = journal->TryLockUser("123456789012", "bob");
  ASSERT_TRUE(bob.ok());
  EXPECT_NE(*bob, nullptr);
  auto alice_elsewhere = journal->TryLockUser("210987654321", "alice");
  ASSERT_TRUE(alice_elsewhere.ok());
  EXPECT_NE(*alice_elsewhere, nullptr);
  auto carol_elsewhere = other_journal->TryLockUser("210987654321", "carol");
  ASSERT_TRUE(carol_elsewhere.ok());
  EXPECT_NE(*carol_elsewhere, nullptr);

  // Released on destruction, at once: the same journal and the other one get it next.
  first->reset();
  auto again = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, nullptr);
  again->reset();
  auto from_other = other_journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(from_other.ok());
  EXPECT_NE(*from_other, nullptr);
}

TEST_P(JournalContractTest, ALockHeldByAKilledProcessIsReleased) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child only takes the lock (a flock-ed file, or a connection of its
    // own), reports, and waits to be killed; it never touches the parent's
    // database connection.
    ::close(ready[0]);
    auto lock = journal->TryLockUser("123456789012", "alice");
    char ok = lock.ok() && *lock != nullptr ? 'L' : 'F';
    (void)!::write(ready[1], &ok, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char got = 0;
  ASSERT_EQ(::read(ready[0], &got, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(got, 'L');
  auto while_held = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(while_held.ok());
  EXPECT_EQ(*while_held, nullptr);

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  // The kernel drops a flock with the process; PostgreSQL drops the session
  // (and its lock) once it sees the socket close, a moment after the kill.
  std::unique_ptr<UserLock> after;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!after && std::chrono::steady_clock::now() < deadline) {
    auto attempt = journal->TryLockUser("123456789012", "alice");
    ASSERT_TRUE(attempt.ok()) << attempt.status().ToString();
    after = std::move(attempt).value();
    if (!after) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_NE(after, nullptr) << "the killed process's lock was not released within 5 s";
}

TEST_P(JournalContractTest, TwoProcessesSavingConcurrentlyLoseNothing) {
  const int saves = store_->ProcessSaves();
  // Both children open the fresh store at once: schema creation (and SQLite's
  // switch to WAL) and the sealing key's first use race too. The parent opens
  // nothing before they end.
  std::vector<pid_t> children;
  for (const std::string user : {"alice", "bob"}) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto journal = store_->OpenJournal();
      if (!journal.ok()) {
        fprintf(stderr, "%s: %s\n", user.c_str(), journal.status().ToString().c_str());
        ::_exit(2);
      }
      for (int i = 0; i < saves; ++i) {
        RotationRecord r = FullRecord(user + "-" + std::to_string(i), user, 1000 + i);
        r.state = RotationState::kDone;
        Secret secret("secret-" + r.id);
        Status s = (*journal)->Save(r, {{{"new_secret", &secret}}, i % 10 == 0});
        if (s.ok()) s = (*journal)->AppendAudit({r.started, r.id, r.account, user, "store", "ok", "", "", ""});
        if (!s.ok()) {
          fprintf(stderr, "%s save %d: %s\n", user.c_str(), i, s.ToString().c_str());
          ::_exit(1);
        }
      }
      journal->reset();
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  for (const std::string user : {"alice", "bob"}) {
    auto all = journal->Rotations("123456789012", user);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->size(), static_cast<size_t>(saves)) << user;
    EXPECT_EQ(all->front().id, user + "-" + std::to_string(saves - 1));
    auto secret = journal->GetSealed(user + "-7", "new_secret");
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    ASSERT_TRUE(secret->has_value());
    EXPECT_EQ((*secret)->reveal(), "secret-" + user + "-7");
    auto audit = journal->ReadAudit({"", user, std::nullopt, 0});
    ASSERT_TRUE(audit.ok());
    EXPECT_EQ(audit->size(), static_cast<size_t>(saves));
  }
}

TEST_P(JournalContractTest, ThreadsShareOneJournal) {
  const int saves = store_->ThreadSaves();
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string user = "user" + std::to_string(t);
      for (int i = 0; i < saves; ++i) {
        Secret secret("s");
        if (!journal->Save(FullRecord(user + "-" + std::to_string(i), user, i), {{{"k", &secret}}, false}).ok()) {
          ++failures;
        }
        if (!journal->Rotations("123456789012", user).ok()) ++failures;
        auto lock = journal->TryLockUser("123456789012", user);
        if (!lock.ok() || *lock == nullptr) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(journal->Rotations("123456789012", "user" + std::to_string(t))->size(), static_cast<size_t>(saves));
  }
}

TEST_P(JournalContractTest, AuditIsReadBackFilteredAndLimitedOldestFirst) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  struct Row {
    int64_t ms;
    std::string account, user, action;
  };
  const Row rows[] = {{1000, "111111111111", "alice", "create_key"}, {2000, "111111111111", "bob", "create_key"},
                      {3000, "111111111111", "alice", "verify"},     {4000, "222222222222", "alice", "create_key"},
                      {5000, "111111111111", "alice", "store"},      {6500, "111111111111", "alice", "delete_old"}};
  for (const Row& row : rows) {
    AuditRecord a;
    a.time = At(row.ms);
    a.rotation_id = "r-" + row.user;
    a.account = row.account;
    a.user = row.user;
    a.action = row.action;
    a.outcome = "ok";
    a.access_key_id = "AKIANEW";
    a.request_id = "req-" + std::to_string(row.ms);
    a.detail = "d";
    ASSERT_TRUE(journal->AppendAudit(a).ok());
  }
  auto all = journal->ReadAudit({});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ(all->front().action, "create_key");
  EXPECT_EQ(all->back().time, At(6500));  // milliseconds survive although the JSON has seconds
  EXPECT_EQ(all->back().request_id, "req-6500");
  EXPECT_EQ(all->back().access_key_id, "AKIANEW");
  EXPECT_EQ(all->back().rotation_id, "r-alice");
  EXPECT_EQ(all->back().detail, "d");

  auto alice = journal->ReadAudit({"111111111111", "alice", std::nullopt, 0});
  ASSERT_TRUE(alice.ok());
  std::vector<std::string> actions;
  for (const auto& a : *alice) actions.push_back(a.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"create_key", "verify", "store", "delete_old"}));

  auto last_two = journal->ReadAudit({"111111111111", "alice", std::nullopt, 2});
  ASSERT_TRUE(last_two.ok());
  ASSERT_EQ(last_two->size(), 2u);
  EXPECT_EQ((*last_two)[0].action, "store");
  EXPECT_EQ((*last_two)[1].action, "delete_old");

  auto unlimited = journal->ReadAudit({"", "", std::nullopt, std::numeric_limits<size_t>::max()});
  ASSERT_TRUE(unlimited.ok()) << unlimited.status().ToString();
  EXPECT_EQ(unlimited->size(), 6u);

  auto since = journal->ReadAudit({"", "alice", At(3000), 0});
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 4u);
  EXPECT_EQ((*since)[0].time, At(3000));
  EXPECT_EQ((*since)[1].account, "222222222222");

  auto any_user_in_account = journal->ReadAudit({"222222222222", "", std::nullopt, 0});
  ASSERT_TRUE(any_user_in_account.ok());
  ASSERT_EQ(any_user_in_account->size(), 1u);
  EXPECT_EQ(any_user_in_account->front().time, At(4000));
}

INSTANTIATE_TEST_SUITE_P(Stores, JournalContractTest,
                         ::testing::Values(StoreKind{"Sqlite", [] { return std::make_unique<SqliteHarness>(); }},
                                           StoreKind{"Postgres",
                                                     [] { return std::make_unique<PostgresHarness>(); }}),
                         [](const ::testing::TestParamInfo<StoreKind>& info) { return info.param.name; });

}  // namespace
}  // namespace keyrotor::engine
