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
#include "support/journal_records.h"

namespace keyrotor::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using testing::At;
using testing::FullRecord;

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

  std::string dir_;
  std::string path_;
};

// Exclusion itself is in the contract suite (journal_contract_test.cc); here,
// where SQLite keeps its locks: one file per user in a private directory
// beside the journal.
TEST_F(SqliteJournalTest, TryLockUserExcludesTheSameUserOnly) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto first = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_NE(*first, nullptr);
  EXPECT_EQ(*journal->TryLockUser("123456789012", "alice"), nullptr);

  struct stat st {};
  ASSERT_EQ(::stat((path_ + ".locks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::exists(path_ + ".locks/" + HexSha256("123456789012/alice").substr(0, 32)));
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

// Existing journal.db files keep working: one written (and sealed) by the
// code before the sealing journal opens, unseals, resumes and wipes.
TEST_F(SqliteJournalTest, OpensAndUnsealsAJournalWrittenByTheOldCode) {
  const std::string fixture = std::string(KEYROTOR_SOURCE_DIR) + "/tests/testdata/journal-v1";
  fs::copy_file(fixture + "/journal.db", path_);
  fs::copy_file(fixture + "/journal.db.key", path_ + ".key");
  // git keeps no modes; the key file must be private to be accepted.
  fs::permissions(path_, fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(path_ + ".key", fs::perms::owner_read | fs::perms::owner_write);

  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto open = journal->OpenRotation("123456789012", "legacy");
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  ASSERT_TRUE(open->has_value());
  RotationRecord r = **open;
  EXPECT_EQ(r.id, "0b6a1f3e-legacy-open");
  EXPECT_EQ(r.state, RotationState::kKeyCreated);
  EXPECT_EQ(r.new_key_id, "AKIANEWLEGACY0000001");
  ASSERT_EQ(r.destinations.size(), 1u);
  EXPECT_EQ(r.destinations[0].step, DestinationProgress::Step::kSnapshotted);
  EXPECT_EQ(journal->Rotations("123456789012", "legacy")->size(), 2u);
  auto audit = journal->ReadAudit({"", "legacy", std::nullopt, 0});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ(audit->front().request_id, "req-legacy");

  auto secret = journal->GetSealed(r.id, "new_secret");
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  ASSERT_TRUE(secret->has_value());
  EXPECT_EQ((*secret)->reveal(), "legacy-sealed-secret/written+by/the-old-journal");
  auto undo = journal->GetSealed(r.id, "undo/0");
  ASSERT_TRUE(undo.ok()) << undo.status().ToString();
  ASSERT_TRUE(undo->has_value());
  EXPECT_EQ((*undo)->reveal(), "{\"previous\":\"value\"}");

  // The engine carries on where the old one stopped: a new box beside the
  // old ones, then the wipe once every destination holds the key.
  Secret another("sealed-by-the-new-code");
  r.state = RotationState::kVerified;
  ASSERT_TRUE(journal->Save(r, {{{"undo/1", &another}}, false}).ok());
  EXPECT_EQ((*journal->GetSealed(r.id, "undo/1"))->reveal(), "sealed-by-the-new-code");
  EXPECT_EQ((*journal->GetSealed(r.id, "new_secret"))->reveal(), "legacy-sealed-secret/written+by/the-old-journal");
  r.state = RotationState::kStored;
  ASSERT_TRUE(journal->Save(r, {{}, true}).ok());
  EXPECT_FALSE(journal->GetSealed(r.id, "new_secret")->has_value());
  EXPECT_FALSE(journal->GetSealed(r.id, "undo/1")->has_value());
}

}  // namespace
}  // namespace keyrotor::engine
