// What only the PostgreSQL journal does, against a real PostgreSQL 15 server
// (tests/support/pg_server.h): one sealing key shared by several daemons,
// a lock lost with its session, the schema's identity, URL redaction, and two
// `keyrotor` processes sharing one database. The contract both stores keep
// (records, sealed boxes, locks across connections and killed processes,
// concurrent writers, audit) is tests/integration/journal_contract_test.cc.
//
// Missing server binaries fail the tests (they do not skip): run
// scripts/install-deps. KEYROTOR_PG_BINDIR overrides where they are looked for.
#include "engine/pg_journal.h"

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
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>

#include "base/crypto.h"
#include "base/file_util.h"
#include "base/seal.h"
#include "credentials/profile_writer.h"
#include "sandbox/server.h"
#include "support/pg_server.h"
#include "support/process.h"
#include "support/journal_records.h"

namespace keyrotor::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using testing::At;
using testing::FullRecord;

class PgJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = testing::PgServer::Get(&error);
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

  testing::PgServer* server_ = nullptr;
  std::string url_;
  std::string dir_;
  std::string key_file_;
};

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

// Databases written before the sealing journal keep working: their key-check
// box and sealed boxes, made here exactly as that code made them (its
// constants and contexts, written out), open with today's code.
TEST_F(PgJournalTest, PostgresOpensAndUnsealsBoxesInTheExistingFormat) {
  {
    auto store = OpenPostgresStore(url_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Save(FullRecord("r-old", "legacy", 1), {}).ok());
  }
  std::string key_bytes = RandomBytes(32);
  ASSERT_TRUE(AtomicWriteFile(key_file_, key_bytes).ok());
  ASSERT_EQ(::chmod(key_file_.c_str(), 0600), 0);
  SealingKey key = SealingKey::FromBytes(key_bytes);
  {
    pqxx::connection c(url_);
    pqxx::work t(c);
    t.exec_params("INSERT INTO keyrotor.sealing_key_check(box) VALUES ($1)",
                  pqxx::binarystring(key.Seal("keyrotor sealing key check", "keyrotor/sealing-key-check")));
    t.exec_params("INSERT INTO keyrotor.sealed(rotation_id, slot, box) VALUES ('r-old', 'new_secret', $1)",
                  pqxx::binarystring(key.Seal("legacy-secret", "r-old/new_secret")));
    t.commit();
  }
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  auto secret = journal->GetSealed("r-old", "new_secret");
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  ASSERT_TRUE(secret->has_value());
  EXPECT_EQ((*secret)->reveal(), "legacy-secret");
  // The old check box accepts this key for sealing, and the new box opens
  // with the old code's context too.
  Secret fresh("sealed-by-the-new-code");
  ASSERT_TRUE(journal->Save(FullRecord("r-old", "legacy", 1), {{{"undo/0", &fresh}}, false}).ok());
  pqxx::connection c(url_);
  pqxx::work t(c);
  pqxx::result rows = t.exec("SELECT box FROM keyrotor.sealed WHERE rotation_id = 'r-old' AND slot = 'undo/0'");
  ASSERT_EQ(rows.size(), 1u);
  auto opened = key.Open(pqxx::binarystring(rows[0][0]).str(), "r-old/undo/0");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->reveal(), "sealed-by-the-new-code");
}

TEST(PgJournalUrl, PostgresUrlsAreRecognisedAndPasswordsRedacted) {
  EXPECT_TRUE(IsPostgresUrl("postgresql://u@h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h/db"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/keyrotor/journal.db"));
  EXPECT_FALSE(IsPostgresUrl("postgresql.db"));
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:s3cret@h:5432/db?sslmode=require"),
            "postgresql://****@h:5432/db?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u@h/db?password=s3cret&port=1"),
            "postgresql://****@h/db?password=****&port=1");
  EXPECT_EQ(RedactPostgresUrl("postgresql:///db?host=/run/pg"), "postgresql:///db?host=/run/pg");
  EXPECT_EQ(RedactPostgresUrl("postgres://h/db"), "postgres://h/db");
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

// KEYROTOR_STATE may hold the journal's URL with its password. Programs
// keyrotor runs (an exec: destination, an exec: notifier) never inherit it,
// nor PGPASSWORD nor any variable holding a connection password; and the
// password shows nowhere in keyrotor's output.
TEST_F(PgJournalTest, PostgresChildrenNeverInheritTheStateUrlOrItsPassword) {
  auto started = sandbox::SandboxServer::Start(sandbox::SandboxOptions{});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<sandbox::SandboxServer> server = std::move(started).value();
  sandbox::Sandbox& sb = server->sandbox();
  auto admin = sb.CreateAdmin("admin");
  ASSERT_TRUE(sb.CreateUserWithKey("app", Clock::Real()->Now() - std::chrono::hours(24 * 100)).ok());

  // The server trusts local connections: the password is carried, never checked.
  const std::string encoded = "Pw7%2Fq%40Zx9%3FRt";  // "Pw7/q@Zx9?Rt"
  std::string url = url_;
  url.replace(url.find("keyrotor@"), 9, "keyrotor:" + encoded + "@");
  for (const char* name : {"store", "notify"}) {
    std::string script = dir_ + "/" + name + ".sh";
    std::ofstream(script) << "#!/bin/sh\ncat > /dev/null\nenv >> \"" << dir_ << "/" << name << ".env\"\n";
    ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  }
  std::map<std::string, std::string> env = KeyrotorEnv(admin);
  env["KEYROTOR_STATE"] = url;
  env["PGPASSWORD"] = "PgPw-Zq81";
  env["DATABASE_URL"] = "postgres://app:DbPw-Zq82@db.internal/app";
  env["KEYROTOR_CHILD_CANARY"] = "visible";
  testing::ProcessResult rotate = testing::RunProcess(
      {testing::KeyrotorBinary(), "rotate", "--user", "app", "--mode", "immediate", "--to",
       "exec:" + dir_ + "/store.sh", "--notify", "exec:" + dir_ + "/notify.sh", "--endpoint-url", server->endpoint(),
       "--orphan-settle-ms", "0", "--json"},
      env);
  EXPECT_NE(rotate.out.find("\"result\":\"completed\""), std::string::npos) << rotate.out << rotate.err;
  testing::ProcessResult history =
      testing::RunProcess({testing::KeyrotorBinary(), "history", "--user", "app"}, env);
  EXPECT_EQ(history.exit_code, 0) << history.err;

  const std::vector<std::string> secrets = {encoded, "Pw7/q@Zx9?Rt", "Zx9", "PgPw-Zq81", "DbPw-Zq82"};
  for (const char* name : {"store", "notify"}) {
    Result<std::string> read = ReadFile(dir_ + "/" + name + ".env");
    std::string child_env = read.ok() ? *read : "";
    ASSERT_NE(child_env.find("KEYROTOR_CHILD_CANARY=visible"), std::string::npos) << name << " never ran";
    for (const char* variable : {"KEYROTOR_STATE=", "KEYROTOR_STATE_KEY=", "PGPASSWORD=", "DATABASE_URL="}) {
      EXPECT_EQ(child_env.find(variable), std::string::npos) << variable << " reached " << name;
    }
    for (const std::string& secret : secrets) EXPECT_EQ(child_env.find(secret), std::string::npos) << name;
  }
  for (const std::string& secret : secrets) {
    EXPECT_EQ((rotate.out + rotate.err).find(secret), std::string::npos) << secret;
    EXPECT_EQ((history.out + history.err).find(secret), std::string::npos) << secret;
  }
  server->Stop();
}

}  // namespace
}  // namespace keyrotor::engine
