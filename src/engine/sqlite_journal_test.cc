#include "engine/sqlite_journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <thread>

#include "base/crypto.h"
#include "base/file_util.h"

namespace keyrotor::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

TimePoint At(int64_t ms) { return TimePoint(milliseconds(ms)); }

// Every field set to something distinguishable, timestamps in whole
// milliseconds (the journal's resolution).
RotationRecord FullRecord(const std::string& id, const std::string& user, int64_t started_ms) {
  RotationRecord r;
  r.id = id;
  r.account = "123456789012";
  r.user = user;
  r.mode = RotationMode::kImmediate;
  r.state = RotationState::kStored;
  r.old_key_id = "AKIAOLD";
  r.old_key_created = At(1'600'000'000'001);
  r.keys_before = {"AKIAOLD", "AKIAINACTIVE"};
  r.new_key_id = "AKIANEW";
  r.started = At(started_ms);
  r.updated = At(started_ms + 7);
  r.new_key_created = At(started_ms + 1);
  r.handed_out = At(started_ms + 2);
  r.old_deactivated = At(started_ms + 3);
  r.deferred_since = At(started_ms + 4);
  r.last_error = "Throttling: rate exceeded";
  r.destinations = {{"secretsmanager:app/key", DestinationProgress::Step::kWritten},
                    {"credentials-file:default", DestinationProgress::Step::kSnapshotted}};
  r.notify = {"sns:arn:aws:sns:us-east-1:123456789012:rotations"};
  r.pending_events = {notify::EventKind::kKeyCreated, notify::EventKind::kOldKeyDeleted};
  return r;
}

void ExpectSameRecord(const RotationRecord& a, const RotationRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.account, b.account);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.old_key_id, b.old_key_id);
  EXPECT_EQ(a.old_key_created, b.old_key_created);
  EXPECT_EQ(a.keys_before, b.keys_before);
  EXPECT_EQ(a.new_key_id, b.new_key_id);
  EXPECT_EQ(a.started, b.started);
  EXPECT_EQ(a.updated, b.updated);
  EXPECT_EQ(a.new_key_created, b.new_key_created);
  EXPECT_EQ(a.handed_out, b.handed_out);
  EXPECT_EQ(a.old_deactivated, b.old_deactivated);
  EXPECT_EQ(a.deferred_since, b.deferred_since);
  EXPECT_EQ(a.last_error, b.last_error);
  ASSERT_EQ(a.destinations.size(), b.destinations.size());
  for (size_t i = 0; i < a.destinations.size(); ++i) {
    EXPECT_EQ(a.destinations[i].spec, b.destinations[i].spec);
    EXPECT_EQ(a.destinations[i].step, b.destinations[i].step);
  }
  EXPECT_EQ(a.notify, b.notify);
  EXPECT_EQ(a.pending_events, b.pending_events);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A direct connection, for what the Journal interface deliberately cannot do:
// read raw boxes, move them around, corrupt the header fields.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 10'000);
  }
  ~RawDb() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
  }
  std::string Box(const std::string& rotation_id, const std::string& slot) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT box FROM sealed WHERE rotation_id = ?1 AND slot = ?2", -1, &st, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, rotation_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, slot.c_str(), -1, SQLITE_TRANSIENT);
    std::string box;
    if (sqlite3_step(st) == SQLITE_ROW) {
      box.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
    }
    sqlite3_finalize(st);
    return box;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kr-journal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/journal.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Journal> Open() {
    auto j = OpenSqliteJournal(path_);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }

  // Whether `needle` occurs in the database or the files SQLite keeps beside it.
  bool OnDisk(const std::string& needle) const {
    for (const std::string& p : {path_, path_ + "-wal", path_ + "-shm", path_ + "-journal"}) {
      if (fs::exists(p) && Slurp(p).find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteJournalTest, RoundTripsEveryFieldOfARecord) {
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

  // And it survives reopening the file.
  journal.reset();
  journal = Open();
  ASSERT_NE(journal, nullptr);
  all = journal->Rotations("123456789012", "alice");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  ExpectSameRecord(all->front(), saved);
}

TEST_F(SqliteJournalTest, OpenRotationIgnoresTerminalStatesAndRotationsAreNewestFirst) {
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

TEST_F(SqliteJournalTest, SealedSlotsPutGetOverwriteAndWipe) {
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

  SealedChanges null_value;
  null_value.put.emplace_back("x", nullptr);
  EXPECT_EQ(journal->Save(r, null_value).code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteJournalTest, NoPlaintextSecretOnDiskWhileSealedNorAfterWipe) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  // Random, so that it cannot be found on disk by coincidence from another test.
  std::string plaintext = "wJalrXUtnFEMI/K7MDENG/" + HexEncode(RandomBytes(16));
  Secret secret(plaintext);
  RotationRecord r = FullRecord("r-secret", "alice", 1000);
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &secret}}, false}).ok());
  EXPECT_FALSE(OnDisk(plaintext)) << "plaintext secret found on disk while sealed";
  EXPECT_FALSE(OnDisk(plaintext.substr(22))) << "part of the secret found on disk";

  std::string box;
  {
    RawDb raw(path_);
    box = raw.Box("r-secret", "new_secret");
  }
  ASSERT_GT(box.size(), 24u);
  ASSERT_TRUE(OnDisk(box)) << "the test cannot see the box it should later miss";

  r.state = RotationState::kStored;
  ASSERT_TRUE(journal->Save(r, {{}, true}).ok());
  EXPECT_FALSE(journal->GetSealed("r-secret", "new_secret")->has_value());
  EXPECT_FALSE(OnDisk(plaintext));
  // secure_delete zeroed the box, and the checkpoint after the wipe left no
  // stale copy of it in the WAL.
  EXPECT_FALSE(OnDisk(box)) << "the wiped box is still on disk";

  // Nothing else in the journal's files is the secret either.
  journal.reset();
  EXPECT_FALSE(OnDisk(plaintext));
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.is_regular_file()) {
      EXPECT_EQ(Slurp(e.path().string()).find(plaintext), std::string::npos) << e.path();
    }
  }
}

TEST_F(SqliteJournalTest, ABoxMovedToAnotherRotationOrSlotDoesNotOpen) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  Secret secret("victim-secret");
  ASSERT_TRUE(journal->Save(FullRecord("r-a", "alice", 1000), {{{"new_secret", &secret}}, false}).ok());
  ASSERT_TRUE(journal->Save(FullRecord("r-b", "mallory", 2000)).ok());
  {
    RawDb raw(path_);
    raw.Exec(
        "INSERT INTO sealed(rotation_id, slot, box) SELECT 'r-b', slot, box FROM sealed WHERE rotation_id = 'r-a'");
    raw.Exec(
        "INSERT INTO sealed(rotation_id, slot, box) SELECT rotation_id, 'other', box FROM sealed "
        "WHERE rotation_id = 'r-a'");
  }
  auto moved = journal->GetSealed("r-b", "new_secret");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kParseError);
  EXPECT_EQ(moved.status().message().find("victim-secret"), std::string::npos);
  EXPECT_FALSE(journal->GetSealed("r-a", "other").ok());
  auto original = journal->GetSealed("r-a", "new_secret");
  ASSERT_TRUE(original.ok());
  EXPECT_EQ((*original)->reveal(), "victim-secret");
}

TEST_F(SqliteJournalTest, TryLockUserExcludesTheSameUserOnly) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto first = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_NE(*first, nullptr);
  auto second = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, nullptr);
  // Another journal object on the same file (another descriptor) is excluded too.
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

  first->reset();
  auto again = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, nullptr);

  struct stat st {};
  ASSERT_EQ(::stat((path_ + ".locks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::exists(path_ + ".locks/" + HexSha256("123456789012/alice").substr(0, 32)));
}

TEST_F(SqliteJournalTest, ALockHeldByAKilledProcessIsReleased) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child only takes the lock (it never touches the parent's SQLite
    // connection), reports, and waits to be killed.
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
  auto after = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, nullptr);
}

TEST_F(SqliteJournalTest, TwoProcessesSavingConcurrentlyLoseNothing) {
  constexpr int kSaves = 200;
  // Both children open the fresh file at once: schema creation, WAL switch and
  // sealing-key creation race too. The parent opens nothing before they end.
  std::vector<pid_t> children;
  for (const std::string user : {"alice", "bob"}) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto journal = OpenSqliteJournal(path_);
      if (!journal.ok()) {
        fprintf(stderr, "%s: %s\n", user.c_str(), journal.status().ToString().c_str());
        ::_exit(2);
      }
      for (int i = 0; i < kSaves; ++i) {
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
    ASSERT_EQ(all->size(), static_cast<size_t>(kSaves)) << user;
    EXPECT_EQ(all->front().id, user + "-" + std::to_string(kSaves - 1));
    auto secret = journal->GetSealed(user + "-7", "new_secret");
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    ASSERT_TRUE(secret->has_value());
    EXPECT_EQ((*secret)->reveal(), "secret-" + user + "-7");
    auto audit = journal->ReadAudit({"", user, std::nullopt, 0});
    ASSERT_TRUE(audit.ok());
    EXPECT_EQ(audit->size(), static_cast<size_t>(kSaves));
  }
}

TEST_F(SqliteJournalTest, ThreadsShareOneJournal) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string user = "user" + std::to_string(t);
      for (int i = 0; i < 50; ++i) {
        Secret secret("s");
        if (!journal->Save(FullRecord(user + "-" + std::to_string(i), user, i), {{{"k", &secret}}, false}).ok())
          ++failures;
        if (!journal->Rotations("123456789012", user).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(journal->Rotations("123456789012", "user" + std::to_string(t))->size(), 50u);
}

// A fleet run's workers write at once: their writes are committed in shared
// transactions (group commit), and each caller's own write is there, sealed
// boxes included, once its call returns.
TEST_F(SqliteJournalTest, ManyWritersAtOnceEachFindTheirOwnWriteCommitted) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  constexpr int kThreads = 32, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string user = "writer" + std::to_string(t);
      for (int i = 0; i < kEach; ++i) {
        std::string id = user + "-" + std::to_string(i);
        Secret secret("secret-of-" + id);
        RotationRecord r = FullRecord(id, user, i);
        if (!journal->Save(r, {{{"new", &secret}}, false}).ok()) ++failures;
        if (!journal->AppendAudit({r.started, id, r.account, user, "store", "ok", "", "", ""}).ok()) ++failures;
        // Read back at once: committed before Save returned.
        auto sealed = journal->GetSealed(id, "new");
        if (!sealed.ok() || !*sealed || (*sealed)->reveal() != "secret-of-" + id) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    std::string user = "writer" + std::to_string(t);
    EXPECT_EQ(journal->Rotations("123456789012", user)->size(), static_cast<size_t>(kEach));
    EXPECT_EQ(journal->ReadAudit({"", user, std::nullopt, 0})->size(), static_cast<size_t>(kEach));
  }
}

TEST_F(SqliteJournalTest, FilesAreCreatedPrivate) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  Secret secret("s");
  ASSERT_TRUE(journal->Save(FullRecord("r", "alice", 1), {{{"k", &secret}}, false}).ok());
  for (const std::string& p : {path_, path_ + "-wal", path_ + "-shm", path_ + ".key"}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
  }
}

TEST_F(SqliteJournalTest, GarbageForeignAndNewerFilesAreRefusedNamingThePath) {
  ASSERT_TRUE(AtomicWriteFile(path_, std::string(4096, 'x')).ok());
  auto garbage = OpenSqliteJournal(path_);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find(path_), std::string::npos) << garbage.status().ToString();
  EXPECT_NE(garbage.status().message().find("not a keyrotor journal"), std::string::npos);
  EXPECT_EQ(Slurp(path_), std::string(4096, 'x')) << "the garbage file was modified";

  fs::remove(path_);
  {
    RawDb raw(path_);
    raw.Exec("CREATE TABLE photos(id INTEGER)");
  }
  auto foreign = OpenSqliteJournal(path_);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find(path_), std::string::npos) << foreign.status().ToString();

  fs::remove(path_);
  ASSERT_NE(Open(), nullptr);
  {
    RawDb raw(path_);
    raw.Exec("PRAGMA user_version = 99");
  }
  auto newer = OpenSqliteJournal(path_);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find(path_), std::string::npos) << newer.status().ToString();
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos) << newer.status().ToString();

  auto missing_dir = OpenSqliteJournal(dir_ + "/no/such/dir/journal.db");
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.status().message().find("no/such/dir"), std::string::npos);
}

TEST_F(SqliteJournalTest, AuditIsReadBackFilteredAndLimitedOldestFirst) {
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

}  // namespace
}  // namespace keyrotor::engine
