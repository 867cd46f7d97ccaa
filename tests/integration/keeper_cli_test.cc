// `keyrotor keeper` as Keeper's gateway runs it: the real binary, Keeper's
// base64 payload on stdin, the contrib record writer, the sandbox on a
// loopback socket. Every run's stdout and stderr are scanned for every secret
// involved: the admin's, the user's old and new keys', the payload's passwords.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/file_util.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using testing::ProcessResult;

const char kNewPassword[] = "keeper-NEW-password-7f3a";
const char kOldPassword[] = "keeper-OLD-password-91bc";

class KeeperCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox::SandboxOptions options;
    options.seed = 5;
    options.consistency_ms = 200;
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    admin_ = sb().CreateAdmin("admin");
    secrets_ = {admin_.secret.reveal(), kNewPassword, kOldPassword};
    dir_ = testing::MakeTempDir("keyrotor-keeper-cli");
    out_ = dir_ + "/fields.json";
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  sandbox::Sandbox& sb() { return server_->sandbox(); }

  std::string NewKey(const std::string& user) {
    auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * 100));
    EXPECT_TRUE(key.ok());
    secrets_.push_back(key->secret.reveal());
    return key->access_key_id;
  }

  nlohmann::json AdminRecord() const {
    return {{"uid", "rec-admin"},
            {"title", "AWS admin"},
            {"aws_access_key_id", {admin_.access_key_id}},
            {"aws_secret_access_key", {admin_.secret.reveal()}}};
  }

  // Keeper's stdin line for `user` with these attached records.
  static std::string Payload(const std::string& user, const nlohmann::json& records) {
    nlohmann::json p = {{"providerRecordUid", "rec-provider"},
                        {"resourceRecordUid", "rec-resource"},
                        {"userRecordUid", "rec-user"},
                        {"newPassword", kNewPassword},
                        {"oldPassword", kOldPassword},
                        {"user", user},
                        {"records", Base64Encode(records.dump())}};
    return Base64Encode(p.dump()) + "\n";
  }

  std::string Writer() const { return std::string(KEYROTOR_SOURCE_DIR) + "/contrib/keeper/keeper-record-writer.sh"; }

  ProcessResult Run(std::vector<std::string> args, const std::string& stdin_data, bool admin_in_env = false) {
    args.insert(args.begin(), {testing::KeyrotorBinary(), "keeper"});
    args.insert(args.end(), {"--state", dir_ + "/journal.db", "--endpoint-url", server_->endpoint()});
    std::map<std::string, std::string> env = {{"AWS_REGION", "us-east-1"},
                                              {"HOME", dir_},
                                              {"AWS_EC2_METADATA_DISABLED", "true"},
                                              {"KEEPER_WRITER_OUT", out_}};
    if (admin_in_env) {
      env["AWS_ACCESS_KEY_ID"] = admin_.access_key_id;
      env["AWS_SECRET_ACCESS_KEY"] = admin_.secret.reveal();
    }
    ProcessResult r = testing::RunProcess(args, env, 120, stdin_data);
    outputs_ += r.out + r.err;
    return r;
  }

  // What the writer stored; remembers the new secret for the leak scan.
  nlohmann::json Written() {
    auto text = ReadFile(out_);
    EXPECT_TRUE(text.ok()) << "the writer was not run";
    if (!text.ok()) return {};
    auto j = nlohmann::json::parse(*text);
    secrets_.push_back(j["aws_secret_access_key"].get<std::string>());
    return j;
  }

  bool KeyWorks(const std::string& id, const std::string& secret) {
    auto as = testing::SandboxClients(server_->endpoint(), &transport_, id, Secret(secret));
    return as.Sts()->GetCallerIdentity().ok();
  }

  void ExpectNoSecretInOutputs() {
    for (const auto& s : secrets_) EXPECT_EQ(outputs_.find(s), std::string::npos) << "secret leaked to output";
  }

  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  aws::CurlTransport transport_;
  std::string dir_;
  std::string out_;
  std::vector<std::string> secrets_;
  std::string outputs_;
};

TEST_F(KeeperCliTest, AdminCredentialsFromARecordAndTheWriterGetsAWorkingKey) {
  std::string old_key = NewKey("app");
  // The user's own record (userRecordUid) holds the user's key: it is not
  // taken for the admin's, the admin record after it is.
  nlohmann::json records = nlohmann::json::array({{{"uid", "rec-user"},
                                                   {"title", "app"},
                                                   {"aws_access_key_id", old_key},
                                                   {"aws_secret_access_key", secrets_.back()}},
                                                  AdminRecord()});
  ProcessResult r = Run({"--record-writer", Writer()}, Payload("app", records));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["result"], "rotated");
  EXPECT_EQ(summary["user"], "app");
  EXPECT_EQ(summary["admin_credentials"], "Keeper record rec-admin");
  EXPECT_EQ(summary["removed_access_key_ids"], nlohmann::json::array({old_key}));
  nlohmann::json fields = Written();
  ASSERT_EQ(fields.size(), 4u) << fields.dump();
  std::string new_key = fields["aws_access_key_id"];
  EXPECT_EQ(summary["new_access_key_id"], new_key);
  EXPECT_EQ(fields["Access_Key_ID_Removed_during_previous_rotation"], old_key);
  EXPECT_FALSE(fields["CreateDate"].get<std::string>().empty());
  EXPECT_TRUE(KeyWorks(new_key, fields["aws_secret_access_key"]));
  EXPECT_FALSE(sb().GetKey(old_key));
  EXPECT_EQ(sb().KeyCount("app"), 1u);

  // Keeper's next rotation replaces that key in turn.
  r = Run({"--record-writer", Writer()}, Payload("app", nlohmann::json::array({AdminRecord()})));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json next = Written();
  EXPECT_NE(next["aws_access_key_id"], new_key);
  EXPECT_EQ(next["Access_Key_ID_Removed_during_previous_rotation"], new_key);
  EXPECT_FALSE(sb().GetKey(new_key));
  ExpectNoSecretInOutputs();
}

TEST_F(KeeperCliTest, AdminCredentialsFromTheDefaultChainWhenNoRecordHasThem) {
  std::string old_key = NewKey("svc");
  nlohmann::json records =
      nlohmann::json::array({{{"uid", "rec-resource"}, {"title", "AWS"}, {"region", {"us-east-1"}}}});
  // Without admin credentials anywhere: refused before anything changes.
  ProcessResult r = Run({"--record-writer", Writer()}, Payload("svc", records));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(sb().GetKey(old_key)->active);

  r = Run({"--record-writer", Writer()}, Payload("svc", records), /*admin_in_env=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["result"], "rotated");
  EXPECT_EQ(summary["admin_credentials"].get<std::string>().find("Keeper record"), std::string::npos);
  nlohmann::json fields = Written();
  EXPECT_TRUE(KeyWorks(fields["aws_access_key_id"], fields["aws_secret_access_key"]));
  EXPECT_FALSE(sb().GetKey(old_key));
  ExpectNoSecretInOutputs();
}

TEST_F(KeeperCliTest, DeleteAllKeysBeforeRotatingRemovesBothExistingKeys) {
  std::string first = NewKey("both");
  auto second = sb().CreateUserWithKey("both");  // two Active keys: the engine alone would refuse
  ASSERT_TRUE(second.ok());
  secrets_.push_back(second->secret.reveal());
  nlohmann::json admin = AdminRecord();
  admin["delete_all_keys_before_rotating"] = {"TRUE"};
  ProcessResult r = Run({"--record-writer", Writer()}, Payload("both", nlohmann::json::array({admin})));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["delete_all_keys_before_rotating"], true);
  std::vector<std::string> removed = summary["removed_access_key_ids"];
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> expected = {first, second->access_key_id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  nlohmann::json fields = Written();
  auto keys = sb().ListKeys("both");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, fields["aws_access_key_id"]);
  EXPECT_TRUE(KeyWorks(fields["aws_access_key_id"], fields["aws_secret_access_key"]));
  // The audit trail has each deletion.
  ProcessResult h = testing::RunProcess(
      {testing::KeyrotorBinary(), "history", "--user", "both", "--state", dir_ + "/journal.db"}, {{"HOME", dir_}});
  outputs_ += h.out + h.err;
  EXPECT_NE(h.out.find("\"delete_all\""), std::string::npos) << h.out;
  ExpectNoSecretInOutputs();
}

// The writer fails (and echoes what it got on stderr): the new key is
// deleted, the old one stays, the exit status says so, and nothing leaks.
TEST_F(KeeperCliTest, WriterFailureKeepsTheOldKeyAndDeletesTheNewOne) {
  std::string old_key = NewKey("app");
  const std::string failing = dir_ + "/failing-writer.sh";
  ASSERT_TRUE(AtomicWriteFile(failing,
                              "#!/bin/sh\ncat > \"$0.stdin\"\nenv > \"$0.env\"\ncat \"$0.stdin\" >&2\necho cannot "
                              "reach Keeper >&2\nexit 3\n",
                              {0700, false})
                  .ok());
  ProcessResult r = Run({"--record-writer", failing}, Payload("app", nlohmann::json::array({AdminRecord()})));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["result"], "failed");
  EXPECT_EQ(summary["new_access_key_id"], "");
  EXPECT_NE(summary["message"].get<std::string>().find("cannot reach Keeper"), std::string::npos) << r.out;
  auto got = nlohmann::json::parse(*ReadFile(failing + ".stdin"));
  secrets_.push_back(got["aws_secret_access_key"]);
  EXPECT_FALSE(sb().GetKey(got["aws_access_key_id"])) << "the abandoned key survived";
  ASSERT_TRUE(sb().GetKey(old_key));
  EXPECT_TRUE(sb().GetKey(old_key)->active);
  EXPECT_EQ(sb().KeyCount("app"), 1u);
  std::string env = *ReadFile(failing + ".env");
  EXPECT_NE(env.find("KEEPER_USER_RECORD_UID=rec-user"), std::string::npos) << env;
  EXPECT_EQ(env.find(admin_.secret.reveal()), std::string::npos) << "the admin secret reached the writer";
  ExpectNoSecretInOutputs();
}

TEST_F(KeeperCliTest, AtTheTwoKeyLimit) {
  // Active + Inactive: the Inactive key signs nothing; it makes room.
  std::string active = NewKey("limit");
  auto inactive = sb().CreateUserWithKey("limit");
  ASSERT_TRUE(inactive.ok());
  secrets_.push_back(inactive->secret.reveal());
  auto admin = testing::SandboxClients(server_->endpoint(), &transport_, admin_.access_key_id, admin_.secret);
  ASSERT_TRUE(admin.Iam()->UpdateAccessKey("limit", inactive->access_key_id, false).ok());
  ProcessResult r = Run({"--record-writer", Writer()}, Payload("limit", nlohmann::json::array({AdminRecord()})));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json fields = Written();
  EXPECT_FALSE(sb().GetKey(active));
  EXPECT_FALSE(sb().GetKey(inactive->access_key_id));
  EXPECT_EQ(sb().KeyCount("limit"), 1u);
  EXPECT_TRUE(KeyWorks(fields["aws_access_key_id"], fields["aws_secret_access_key"]));

  // Two Active keys: keyrotor cannot tell which one Keeper's record holds;
  // without delete_all_keys_before_rotating it refuses and changes nothing.
  std::string a = NewKey("busy");
  auto b = sb().CreateUserWithKey("busy");
  ASSERT_TRUE(b.ok());
  secrets_.push_back(b->secret.reveal());
  std::filesystem::remove(out_);
  r = Run({"--record-writer", Writer()}, Payload("busy", nlohmann::json::array({AdminRecord()})));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(a), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b->access_key_id), std::string::npos) << r.out;
  EXPECT_EQ(sb().KeyCount("busy"), 2u);
  EXPECT_FALSE(std::filesystem::exists(out_));
  ExpectNoSecretInOutputs();
}

TEST_F(KeeperCliTest, PrintFieldsPutsTheDocumentAloneOnStdout) {
  std::string old_key = NewKey("app");
  ProcessResult r = Run({"--print-fields"}, Payload("app", nlohmann::json::array({AdminRecord()})));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto fields = nlohmann::json::parse(r.out);
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields["Access_Key_ID_Removed_during_previous_rotation"], old_key);
  EXPECT_TRUE(KeyWorks(fields["aws_access_key_id"], fields["aws_secret_access_key"]));
  EXPECT_EQ(nlohmann::json::parse(r.err)["new_access_key_id"], fields["aws_access_key_id"]);
  // Printing the secret is what --print-fields is for; the rest must not leak.
  outputs_.erase(outputs_.find(r.out), r.out.size());
  ExpectNoSecretInOutputs();
  EXPECT_EQ(r.err.find(fields["aws_secret_access_key"].get<std::string>()), std::string::npos);
}

// The Keeper SaaS plugin's cycle (contrib/keeper/saas/): --keep-old-key
// keeps the old key, deactivated, so that --rollback can take the rotation
// back; a rotation that was not taken back is finished (its old key deleted)
// by the next one; a rollback is refused once the old key is gone.
// The summary --print-fields writes last on stderr.
nlohmann::json LastJsonLine(const std::string& text) {
  size_t end = text.find_last_not_of('\n');
  size_t start = text.rfind('\n', end);
  return nlohmann::json::parse(text.substr(start == std::string::npos ? 0 : start + 1));
}

TEST_F(KeeperCliTest, KeepOldKeyThenRollbackThenRotateAgain) {
  std::string old_key = NewKey("app");
  const std::string payload = Payload("app", nlohmann::json::array({AdminRecord()}));
  ProcessResult r = Run({"--print-fields", "--keep-old-key"}, payload);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto fields = nlohmann::json::parse(r.out);
  std::string first = fields["aws_access_key_id"];
  secrets_.push_back(fields["aws_secret_access_key"]);
  EXPECT_TRUE(KeyWorks(first, fields["aws_secret_access_key"]));
  auto summary = LastJsonLine(r.err);
  EXPECT_EQ(summary["result"], "rotated");
  EXPECT_EQ(summary["kept_access_key_id"], old_key);
  ASSERT_TRUE(sb().GetKey(old_key));
  EXPECT_FALSE(sb().GetKey(old_key)->active) << "the old key is kept, but it no longer signs";

  // Keeper's record update failed: the rotation is taken back.
  r = Run({"--rollback", first}, payload);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["result"], "rolled_back");
  EXPECT_EQ(summary["removed_access_key_ids"], nlohmann::json::array({first}));
  EXPECT_FALSE(sb().GetKey(first)) << "the new key is deleted";
  ASSERT_TRUE(sb().GetKey(old_key));
  EXPECT_TRUE(sb().GetKey(old_key)->active) << "the old key signs again";
  // Twice: nothing left to take back, said plainly.
  r = Run({"--rollback", first}, payload);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("nothing to roll back"), std::string::npos) << r.out;

  // Rotate (kept), rotate again: the second finishes the first, deleting the
  // key it kept, then rotates; a rollback of the first is then refused.
  r = Run({"--print-fields", "--keep-old-key"}, payload);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string second = nlohmann::json::parse(r.out)["aws_access_key_id"];
  secrets_.push_back(nlohmann::json::parse(r.out)["aws_secret_access_key"]);
  r = Run({"--print-fields", "--keep-old-key"}, payload);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto third = nlohmann::json::parse(r.out);
  secrets_.push_back(third["aws_secret_access_key"]);
  EXPECT_TRUE(KeyWorks(third["aws_access_key_id"], third["aws_secret_access_key"]));
  EXPECT_FALSE(sb().GetKey(old_key)) << "deleted when the second rotation finished";
  ASSERT_TRUE(sb().GetKey(second));
  EXPECT_FALSE(sb().GetKey(second)->active);
  summary = LastJsonLine(r.err);
  EXPECT_EQ(summary["removed_access_key_ids"], nlohmann::json::array({old_key}));
  r = Run({"--rollback", second}, payload);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(sb().GetKey(third["aws_access_key_id"].get<std::string>())->active, true);
  // Printing the secret is what --print-fields is for; the rest must not leak.
  for (const auto& s : secrets_) EXPECT_EQ(r.err.find(s), std::string::npos);
}

TEST_F(KeeperCliTest, RollbackIsRefusedOnceTheOldKeyIsGone) {
  std::string old_key = NewKey("app");
  const std::string payload = Payload("app", nlohmann::json::array({AdminRecord()}));
  ProcessResult r = Run({"--print-fields", "--keep-old-key"}, payload);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto fields = nlohmann::json::parse(r.out);
  secrets_.push_back(fields["aws_secret_access_key"]);
  outputs_.erase(outputs_.find(r.out), r.out.size());  // the one place the secret belongs
  // Someone deleted the kept key by hand.
  ASSERT_TRUE(testing::SandboxClients(server_->endpoint(), &transport_, admin_.access_key_id, admin_.secret.Clone())
                  .Iam()
                  ->DeleteAccessKey("app", old_key)
                  .ok());
  r = Run({"--rollback", fields["aws_access_key_id"]}, payload);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("no longer exists"), std::string::npos) << r.out;
  EXPECT_TRUE(KeyWorks(fields["aws_access_key_id"], fields["aws_secret_access_key"])) << "the new key stays";
  r = Run({"--rollback", "not-a-key"}, payload);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--rollback"), std::string::npos) << r.err;
  ExpectNoSecretInOutputs();
}

TEST_F(KeeperCliTest, BadInputIsRefusedWithoutEchoingThePayload) {
  std::string old_key = NewKey("app");
  const std::string good = Payload("app", nlohmann::json::array({AdminRecord()}));
  std::string not_json = Base64Encode(std::string("{\"newPassword\": \"") + kNewPassword + "\", \"user\": ");
  struct Case {
    std::vector<std::string> args;
    std::string input;
  };
  for (const Case& c : std::vector<Case>{
           {{}, good},                                               // no writer
           {{"--record-writer", Writer(), "--print-fields"}, good},  // both
           {{"--record-writer", "'unterminated"}, good},
           {{"--record-writer", Writer()}, ""},
           {{"--record-writer", Writer()}, std::string("garbage ") + kOldPassword},
           {{"--record-writer", Writer()}, not_json},
           {{"--record-writer", Writer()}, Payload("bad/name", nlohmann::json::array())},
           {{"--record-writer", Writer()},
            Payload("app",
                    nlohmann::json::array({{{"uid", "half"}, {"aws_secret_access_key", admin_.secret.reveal()}}}))},
       }) {
    ProcessResult r = Run(c.args, c.input);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
  EXPECT_EQ(sb().KeyCount("app"), 1u);
  EXPECT_TRUE(sb().GetKey(old_key)->active);
  EXPECT_FALSE(std::filesystem::exists(out_));
  ExpectNoSecretInOutputs();
}

}  // namespace
}  // namespace keyrotor
