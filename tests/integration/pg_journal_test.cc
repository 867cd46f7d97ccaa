// The PostgreSQL journal against a real PostgreSQL 15 server, started by the
// tests themselves in a temporary directory (UNIX socket only, no TCP port),
// once for the whole test binary and only when a Postgres test runs. The same
// contract as src/engine/sqlite_journal_test.cc, plus what only several
// processes sharing one database can show: locks across connections and
// killed processes, concurrent writers, and two `keyrotor rotate` racing on
// one user.
//
// Missing server binaries fail the tests (they do not skip): run
// scripts/install-deps. KEYROTOR_PG_BINDIR overrides where they are looked for.
#include "engine/pg_journal.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>

#include "base/crypto.h"
#include "credentials/profile_writer.h"
#include "sandbox/server.h"
#include "support/process.h"

namespace keyrotor::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// --- The shared server --------------------------------------------------------

// A throwaway PostgreSQL cluster. initdb refuses to run as root, so as root
// the server runs as the `postgres` user the Debian package creates (or
// `nobody`), owning the temporary directory.
class PgServer {
 public:
  // The running server, started on first use; nullptr with `*error` set when
  // it cannot be started.
  static PgServer* Get(std::string* error) {
    static std::string start_error;
    if (!instance_ && start_error.empty()) {
      auto server = std::unique_ptr<PgServer>(new PgServer);
      start_error = server->Start();
      if (start_error.empty()) instance_ = std::move(server);
    }
    *error = start_error;
    return instance_.get();
  }
  static void StopIfStarted() { instance_.reset(); }

  ~PgServer() {
    if (started_) Run({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "stop"});
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string Url(const std::string& db) const {
    return "postgresql://keyrotor@/" + db + "?host=" + dir_ + "&port=" + std::to_string(port_);
  }
  const std::string& dir() const { return dir_; }

  // A fresh, empty database for one test.
  std::string CreateDatabase() {
    static std::atomic<int> counter{0};
    std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    pqxx::connection admin(Url("postgres"));
    pqxx::nontransaction t(admin);
    t.exec("CREATE DATABASE " + name);
    return name;
  }

 private:
  PgServer() = default;

  // Empty on success, else what went wrong.
  std::string Start() {
    const char* override_dir = std::getenv("KEYROTOR_PG_BINDIR");
    bindir_ = override_dir ? override_dir : "/usr/lib/postgresql/15/bin";
    for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
      if (::access((bindir_ + "/" + tool).c_str(), X_OK) != 0) {
        return bindir_ + "/" + tool +
               " not found: the PostgreSQL journal tests need the PostgreSQL 15 server binaries; run "
               "scripts/install-deps (it installs the postgresql package)";
      }
    }
    dir_ = testing::MakeTempDir("keyrotor-pg");
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) pw = ::getpwnam("nobody");
      if (pw == nullptr) return "running as root, and neither a postgres nor a nobody user exists to run PostgreSQL";
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return dir_ + ": chown failed";
      run_as_ = {"runuser", "-u", pw->pw_name, "--"};
    }
    port_ = FreePort();
    testing::ProcessResult init = Run({bindir_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "keyrotor", "-E",
                                       "UTF8", "--locale=C", "--no-sync"});
    if (init.exit_code != 0) return "initdb failed: " + init.out + init.err;
    // fsync off: durability across power loss is PostgreSQL's business, not
    // these tests', and the shared machine's disk is slow.
    std::string options = "-k " + dir_ + " -c listen_addresses='' -p " + std::to_string(port_) +
                          " -c fsync=off -c full_page_writes=off -c max_connections=200";
    testing::ProcessResult start = Run({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w",
                                        "-t", "60", "-o", options, "start"});
    if (start.exit_code != 0) {
      std::ifstream log(dir_ + "/server.log");
      return "pg_ctl start failed: " + start.out + start.err +
             std::string(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
    }
    started_ = true;
    return "";
  }

  testing::ProcessResult Run(std::vector<std::string> argv) {
    argv.insert(argv.begin(), run_as_.begin(), run_as_.end());
    return testing::RunProcess(argv, {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"LC_ALL", "C"}}, 120);
  }

  // The port only names the socket file in our private directory, so any
  // number works; one free on TCP as well keeps the logs unambiguous.
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 54321;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  static std::unique_ptr<PgServer> instance_;
  std::string bindir_;
  std::string dir_;
  std::vector<std::string> run_as_;
  int port_ = 0;
  bool started_ = false;
};

std::unique_ptr<PgServer> PgServer::instance_;

// Stops the server after the last test (a forked child _exits and never gets here).
class PgServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { PgServer::StopIfStarted(); }
};
[[maybe_unused]] ::testing::Environment* const kPgEnvironment =
    ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

// --- Helpers shared with the SQLite tests' shape --------------------------------

TimePoint At(int64_t ms) { return TimePoint(milliseconds(ms)); }

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
  r.pending_events = {"key_created", "stored"};
  return r;
}

void ExpectSameRecord(const RotationRecord& a, const RotationRecord& b) {
  EXPECT_EQ(RotationToJson(a), RotationToJson(b));
  EXPECT_EQ(a.deferred_since, b.deferred_since);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class PgJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = PgServer::Get(&error);
    ASSERT_NE(server_, nullptr) << error;
    url_ = server_->Url(server_->CreateDatabase());
    dir_ = testing::MakeTempDir("keyrotor-pg-client");
    key_file_ = dir_ + "/pg.key";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Journal> Open(const std::string& key_file = "") {
    auto j = OpenPostgresJournal(url_, key_file.empty() ? key_file_ : key_file);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }

  // A direct connection, for what the Journal interface deliberately cannot do.
  void Exec(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::work t(c);
    t.exec(sql);
    t.commit();
  }

  // Every text-like and bytea column of every table of the journal, raw bytes
  // concatenated: what anyone with read access to the database can see.
  std::string EveryColumn() {
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

  // What the keyrotor binary runs with: the sandbox admin's key, no shared
  // files, and this test's sealing key.
  std::map<std::string, std::string> KeyrotorEnv(const sandbox::Sandbox::IssuedKey& admin) {
    return {{"AWS_ACCESS_KEY_ID", admin.access_key_id},
            {"AWS_SECRET_ACCESS_KEY", admin.secret.reveal()},
            {"AWS_REGION", "us-east-1"},
            {"HOME", dir_},
            {"AWS_CONFIG_FILE", dir_ + "/no-config"},
            {"AWS_SHARED_CREDENTIALS_FILE", dir_ + "/no-credentials"},
            {"AWS_EC2_METADATA_DISABLED", "true"},
            {"KEYROTOR_STATE_KEY", key_file_}};
  }

  PgServer* server_ = nullptr;
  std::string url_;
  std::string dir_;
  std::string key_file_;
};

TEST_F(PgJournalTest, PostgresRoundTripsEveryFieldOfARecord) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  RotationRecord saved = FullRecord("r-1", "alice", 1'700'000'000'123);
  ASSERT_TRUE(journal->Save(saved).ok());
  auto open = journal->OpenRotation("123456789012", "alice");
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  ASSERT_TRUE(open->has_value());
  ExpectSameRecord(**open, saved);

  saved.deferred_since.reset();
  saved.state = RotationState::kOldDeactivated;
  saved.destinations[1].step = DestinationProgress::Step::kRestored;
  ASSERT_TRUE(journal->Save(saved).ok());
  auto all = journal->Rotations("123456789012", "alice");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  ExpectSameRecord(all->front(), saved);
  EXPECT_FALSE(all->front().deferred_since.has_value());

  // And it survives a new connection (another journal object, schema already there).
  journal.reset();
  journal = Open();
  ASSERT_NE(journal, nullptr);
  all = journal->Rotations("123456789012", "alice");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  ExpectSameRecord(all->front(), saved);
}

TEST_F(PgJournalTest, PostgresOpenRotationIgnoresTerminalStatesAndRotationsAreNewestFirst) {
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

  current.state = RotationState::kDone;
  ASSERT_TRUE(journal->Save(current).ok());
  EXPECT_FALSE(journal->OpenRotation("123456789012", "bob")->has_value());
}

TEST_F(PgJournalTest, PostgresSealedSlotsPutGetOverwriteAndWipe) {
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

  ASSERT_TRUE(journal->Save(r).ok());
  Secret replaced("second-secret");
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &replaced}}, false}).ok());
  EXPECT_EQ((*journal->GetSealed("r-1", "new_secret"))->reveal(), "second-secret");
  EXPECT_EQ((*journal->GetSealed("r-1", "previous"))->reveal(), "other-secret");

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

  struct stat st {};
  ASSERT_EQ(::stat(key_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(PgJournalTest, PostgresNoPlaintextSecretInAnyColumnWhileSealedNorAfterWipe) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  std::string plaintext = "wJalrXUtnFEMI/K7MDENG/" + HexEncode(RandomBytes(16));
  Secret secret(plaintext);
  RotationRecord r = FullRecord("r-secret", "alice", 1000);
  ASSERT_TRUE(journal->Save(r, {{{"new_secret", &secret}}, false}).ok());
  ASSERT_TRUE(journal->AppendAudit({r.started, r.id, r.account, r.user, "create_key", "ok", "AKIANEW", "", ""}).ok());

  std::string box;
  {
    pqxx::connection c(url_);
    pqxx::work t(c);
    pqxx::result rows = t.exec("SELECT box FROM keyrotor.sealed WHERE rotation_id = 'r-secret'");
    ASSERT_EQ(rows.size(), 1u);
    box = pqxx::binarystring(rows[0][0]).str();
  }
  ASSERT_GT(box.size(), 24u);
  std::string visible = EveryColumn();
  ASSERT_NE(visible.find(box), std::string::npos) << "the scan cannot see the box it should later miss";
  EXPECT_EQ(visible.find(plaintext), std::string::npos) << "plaintext secret in the database while sealed";
  EXPECT_EQ(visible.find(plaintext.substr(22)), std::string::npos) << "part of the secret in the database";

  ASSERT_TRUE(journal->Save(r, {{}, true}).ok());
  EXPECT_FALSE(journal->GetSealed("r-secret", "new_secret")->has_value());
  visible = EveryColumn();
  EXPECT_EQ(visible.find(plaintext), std::string::npos);
  EXPECT_EQ(visible.find(box), std::string::npos) << "the wiped box is still in a table";

  // The plaintext never reaches the server at all: not in any file of the
  // cluster (tables, WAL, logs) either.
  journal.reset();
  for (const auto& e :
       fs::recursive_directory_iterator(server_->dir(), fs::directory_options::skip_permission_denied)) {
    if (e.is_regular_file()) {
      EXPECT_EQ(Slurp(e.path().string()).find(plaintext), std::string::npos) << e.path();
    }
  }
}

TEST_F(PgJournalTest, PostgresABoxMovedToAnotherRotationOrSlotDoesNotOpen) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  Secret secret("victim-secret");
  ASSERT_TRUE(journal->Save(FullRecord("r-a", "alice", 1000), {{{"new_secret", &secret}}, false}).ok());
  ASSERT_TRUE(journal->Save(FullRecord("r-b", "mallory", 2000)).ok());
  Exec(
      "INSERT INTO keyrotor.sealed(rotation_id, slot, box) SELECT 'r-b', slot, box FROM keyrotor.sealed "
      "WHERE rotation_id = 'r-a'");
  Exec(
      "INSERT INTO keyrotor.sealed(rotation_id, slot, box) SELECT rotation_id, 'other', box FROM keyrotor.sealed "
      "WHERE rotation_id = 'r-a' AND slot = 'new_secret'");
  auto moved = journal->GetSealed("r-b", "new_secret");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kParseError);
  EXPECT_EQ(moved.status().message().find("victim-secret"), std::string::npos);
  EXPECT_FALSE(journal->GetSealed("r-a", "other").ok());
  auto original = journal->GetSealed("r-a", "new_secret");
  ASSERT_TRUE(original.ok());
  EXPECT_EQ((*original)->reveal(), "victim-secret");
}

TEST_F(PgJournalTest, PostgresADaemonWithAnotherSealingKeyIsRefused) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  Secret secret("s");
  ASSERT_TRUE(journal->Save(FullRecord("r-1", "alice", 1), {{{"k", &secret}}, false}).ok());

  // A second daemon whose key file is another one: refused before it seals.
  auto other = Open(dir_ + "/other.key");
  ASSERT_NE(other, nullptr);
  Status s = other->Save(FullRecord("r-2", "bob", 2), {{{"k", &secret}}, false});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("other.key"), std::string::npos) << s.ToString();
  EXPECT_FALSE(other->GetSealed("r-1", "k").ok());
  EXPECT_TRUE(other->Rotations("123456789012", "bob")->empty()) << "nothing was written";

  // One without a key file: told to copy it, and none is made up.
  auto missing = Open(dir_ + "/missing.key");
  ASSERT_NE(missing, nullptr);
  s = missing->Save(FullRecord("r-3", "carol", 3), {{{"k", &secret}}, false});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(fs::exists(dir_ + "/missing.key"));

  // A copy of the right key works.
  fs::copy_file(key_file_, dir_ + "/copy.key");
  auto copy = Open(dir_ + "/copy.key");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ((*copy->GetSealed("r-1", "k"))->reveal(), "s");
}

TEST_F(PgJournalTest, PostgresTryLockUserExcludesTheSameUserOnly) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto first = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_NE(*first, nullptr);
  auto second = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, nullptr);
  // Another journal object (other connections) is excluded too.
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
  auto alice_elsewhere = other_journal->TryLockUser("210987654321", "alice");
  ASSERT_TRUE(alice_elsewhere.ok());
  EXPECT_NE(*alice_elsewhere, nullptr);

  // Released on destruction, at once: the other journal gets it next.
  first->reset();
  auto again = other_journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, nullptr);
}

TEST_F(PgJournalTest, PostgresALockHeldByAKilledProcessIsReleased) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child's lock is on a connection of its own; it never touches the
    // parent's main connection.
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
  // The server drops the session (and its lock) once it sees the socket
  // close, a moment after the kill.
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

TEST_F(PgJournalTest, PostgresASaveUnderALostLockIsRefused) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto lock = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(lock.ok() && *lock != nullptr);
  ASSERT_TRUE(journal->Save(FullRecord("r-1", "alice", 1)).ok());

  // An administrator (or a server restart) ends the lock's session.
  Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
      "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
  Status s;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    s = journal->Save(FullRecord("r-1", "alice", 1));
    if (!s.ok()) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("lost"), std::string::npos) << s.ToString();
  // Other users' records, and the same user's once the lost lock is dropped
  // and taken again, are saved as usual.
  EXPECT_TRUE(journal->Save(FullRecord("r-2", "bob", 2)).ok());
  lock->reset();
  auto again = journal->TryLockUser("123456789012", "alice");
  ASSERT_TRUE(again.ok() && *again != nullptr);
  EXPECT_TRUE(journal->Save(FullRecord("r-1", "alice", 1)).ok());
}

TEST_F(PgJournalTest, PostgresTwoProcessesSavingConcurrentlyLoseNothing) {
  constexpr int kSaves = 100;
  // Both children open the fresh database at once: schema creation and the
  // sealing key's first use race too. The parent opens nothing before they end.
  std::vector<pid_t> children;
  for (const std::string user : {"alice", "bob"}) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto journal = OpenPostgresJournal(url_, key_file_);
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

TEST_F(PgJournalTest, PostgresThreadsShareOneJournal) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string user = "user" + std::to_string(t);
      for (int i = 0; i < 25; ++i) {
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
  for (int t = 0; t < 4; ++t) EXPECT_EQ(journal->Rotations("123456789012", "user" + std::to_string(t))->size(), 25u);
}

TEST_F(PgJournalTest, PostgresForeignAndNewerSchemasAndBadUrlsAreRefused) {
  ASSERT_NE(Open(), nullptr);
  Exec("UPDATE keyrotor.schema_version SET version = 99");
  auto newer = OpenPostgresJournal(url_, key_file_);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos) << newer.status().ToString();

  Exec("DROP SCHEMA keyrotor CASCADE; CREATE SCHEMA keyrotor; CREATE TABLE keyrotor.photos(id int)");
  auto foreign = OpenPostgresJournal(url_, key_file_);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("not a keyrotor journal"), std::string::npos)
      << foreign.status().ToString();

  // A database that does not exist: an error naming it, without the password.
  std::string bad = url_;
  bad.replace(bad.find("keyrotor@"), 9, "keyrotor:hunter2@");
  bad.replace(bad.find("@/") + 2, bad.find('?') - bad.find("@/") - 2, "no_such_db");
  auto missing = OpenPostgresJournal(bad, key_file_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no_such_db"), std::string::npos) << missing.status().ToString();
  EXPECT_EQ(missing.status().message().find("hunter2"), std::string::npos) << missing.status().ToString();
}

TEST(PgJournalUrl, PostgresUrlsAreRecognisedAndPasswordsRedacted) {
  EXPECT_TRUE(IsPostgresUrl("postgresql://u@h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h/db"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/keyrotor/journal.db"));
  EXPECT_FALSE(IsPostgresUrl("postgresql.db"));
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:s3cret@h:5432/db?sslmode=require"),
            "postgresql://u:****@h:5432/db?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u@h/db?password=s3cret&port=1"),
            "postgresql://u@h/db?password=****&port=1");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u@/db?host=/run/pg"), "postgresql://u@/db?host=/run/pg");
  EXPECT_EQ(RedactPostgresUrl("postgres://h/db"), "postgres://h/db");
}

TEST_F(PgJournalTest, PostgresAuditIsReadBackFilteredAndLimitedOldestFirst) {
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
  EXPECT_EQ(all->back().time, At(6500));
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

// Two `keyrotor rotate` processes, as two daemons would run them, share one
// PostgreSQL state and race on one user: one rotates it, the other finds it
// locked or already rotated. Exactly one key is created.
TEST_F(PgJournalTest, PostgresTwoRotateProcessesOnOneUserCreateOneKey) {
  sandbox::SandboxOptions options;
  options.seed = 11;
  auto started = sandbox::SandboxServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<sandbox::SandboxServer> server = std::move(started).value();
  sandbox::Sandbox& sb = server->sandbox();
  auto admin = sb.CreateAdmin("admin");
  auto old_key = sb.CreateUserWithKey("shared", Clock::Real()->Now() - std::chrono::hours(24 * 100));
  ASSERT_TRUE(old_key.ok());
  std::string credentials = dir_ + "/app-credentials";
  ASSERT_TRUE(credentials::WriteProfile(credentials, "shared", old_key->access_key_id, old_key->secret).ok());

  std::map<std::string, std::string> env = KeyrotorEnv(admin);
  std::vector<std::string> argv = {testing::KeyrotorBinary(),
                                   "rotate",
                                   "--user",
                                   "shared",
                                   "--mode",
                                   "immediate",
                                   "--state",
                                   url_,
                                   "--to",
                                   "credentials-file:" + credentials + "#{user}",
                                   "--endpoint-url",
                                   server->endpoint(),
                                   "--orphan-settle-ms",
                                   "0",
                                   "--json"};
  std::vector<std::unique_ptr<testing::BackgroundProcess>> runners;
  for (int i = 0; i < 2; ++i) runners.push_back(testing::BackgroundProcess::Start(argv, env));
  std::string outputs;
  for (auto& runner : runners) {
    runner->WaitForLine("\"result\"", 60);
    testing::ProcessResult r = runner->Stop();
    outputs += r.out + r.err;
  }
  EXPECT_NE(outputs.find("\"result\":\"completed\""), std::string::npos) << outputs;

  auto keys = sb.ListKeys("shared");
  ASSERT_EQ(keys.size(), 1u) << outputs;
  EXPECT_TRUE(keys[0].active);
  EXPECT_NE(keys[0].access_key_id, old_key->access_key_id);

  testing::ProcessResult history =
      testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", url_, "--user", "shared"}, env);
  ASSERT_EQ(history.exit_code, 0) << history.err;
  int created = 0;
  std::istringstream lines(history.out);
  for (std::string line; std::getline(lines, line);) {
    auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    if (entry["action"] == "create_key" && entry["outcome"] == "ok") ++created;
  }
  EXPECT_EQ(created, 1) << history.out << outputs;
  EXPECT_EQ(outputs.find(old_key->secret.reveal()), std::string::npos) << "a secret in keyrotor's output";
  server->Stop();
}

// Two `keyrotor run`s over one fleet, sharing a PostgreSQL state (two daemons
// side by side for availability): every user is rotated exactly once.
TEST_F(PgJournalTest, PostgresTwoFleetRunsOverOneFleetRotateEachUserOnce) {
  constexpr int kUsers = 200;
  auto started = sandbox::SandboxServer::Start(sandbox::SandboxOptions{});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<sandbox::SandboxServer> server = std::move(started).value();
  sandbox::Sandbox& sb = server->sandbox();
  auto admin = sb.CreateAdmin("admin");
  std::vector<std::string> secrets = {admin.secret.reveal()};
  for (int i = 0; i < kUsers; ++i) {
    auto key = sb.CreateUserWithKey("fleet-" + std::to_string(i), Clock::Real()->Now() - std::chrono::hours(24 * 100));
    ASSERT_TRUE(key.ok());
    secrets.push_back(key->secret.reveal());
  }
  std::string config = dir_ + "/keyrotor.toml";
  std::ofstream(config) << "state = \"" << url_ << "\"\nconcurrency = 16\n"
                        << "[[selection]]\nuser_regex = \"^fleet-\"\nto = \"secretsmanager:fleet/{user}\"\n";
  std::map<std::string, std::string> env = KeyrotorEnv(admin);
  std::vector<std::string> argv = {testing::KeyrotorBinary(), "run", "--config", config, "--endpoint-url",
                                   server->endpoint()};
  std::vector<std::unique_ptr<testing::BackgroundProcess>> runners;
  for (int i = 0; i < 2; ++i) runners.push_back(testing::BackgroundProcess::Start(argv, env));
  std::string outputs;
  for (auto& runner : runners) {
    EXPECT_NE(runner->WaitForLine("\"summary\"", 240), "");
    testing::ProcessResult r = runner->Stop();
    outputs += r.out + r.err;
  }
  for (int i = 0; i < kUsers; ++i) {
    std::string user = "fleet-" + std::to_string(i);
    auto keys = sb.ListKeys(user);
    ASSERT_EQ(keys.size(), 2u) << user << ": staged, the old key stays until it is due";
    auto held = sb.SecretValue("fleet/" + user);
    ASSERT_TRUE(held) << user;
    auto j = nlohmann::json::parse(held->reveal());
    EXPECT_EQ(j["AccessKey"], keys[1].access_key_id) << user;
    secrets.push_back(j["SecretKey"]);
  }
  testing::ProcessResult history = testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", url_}, env);
  ASSERT_EQ(history.exit_code, 0) << history.err;
  std::map<std::string, int> created;
  std::istringstream lines(history.out);
  for (std::string line; std::getline(lines, line);) {
    auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    if (entry["action"] == "create_key" && entry["outcome"] == "ok") ++created[entry["user"].get<std::string>()];
  }
  EXPECT_EQ(created.size(), static_cast<size_t>(kUsers));
  for (const auto& [user, count] : created) EXPECT_EQ(count, 1) << user;
  for (const std::string& secret : secrets) {
    EXPECT_EQ(outputs.find(secret), std::string::npos) << "a secret in keyrotor's output";
    EXPECT_EQ(history.out.find(secret), std::string::npos) << "a secret in the audit trail";
  }
  server->Stop();
}

}  // namespace
}  // namespace keyrotor::engine
