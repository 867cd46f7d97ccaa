// `keyrotor respond` as a user runs it: the real binary against the sandbox
// on a loopback socket, with a key id or an AWS Health event, in both orders.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using testing::ProcessResult;

class RespondCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox::SandboxOptions options;
    options.consistency_ms = 200;
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    admin_ = sb().CreateAdmin("admin");
    secrets_.push_back(admin_.secret.reveal());
    dir_ = testing::MakeTempDir("keyrotor-respond-cli");
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  sandbox::Sandbox& sb() { return server_->sandbox(); }
  aws::ClientFactory Admin() {
    return testing::SandboxClients(server_->endpoint(), &transport_, admin_.access_key_id, admin_.secret);
  }

  sandbox::Sandbox::IssuedKey NewUser(const std::string& user) {
    auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * 7));
    EXPECT_TRUE(key.ok());
    secrets_.push_back(key->secret.reveal());
    return std::move(key).value();
  }

  ProcessResult Run(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), testing::KeyrotorBinary());
    args.insert(args.end(), {"--state", dir_ + "/journal.db"});
    if (args[1] == "respond") args.insert(args.end(), {"--endpoint-url", server_->endpoint(), "--orphan-settle-ms", "0"});
    ProcessResult r = testing::RunProcess(args,
                                          {{"AWS_ACCESS_KEY_ID", admin_.access_key_id},
                                           {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
                                           {"AWS_REGION", "us-east-1"},
                                           {"HOME", dir_},
                                           {"AWS_EC2_METADATA_DISABLED", "true"}},
                                          120, stdin_data);
    outputs_ += r.out + r.err;
    return r;
  }

  // The key the credentials file's profile holds, remembering its secret.
  std::pair<std::string, Secret> Held(const std::string& profile) {
    auto file = credentials::IniFile::Load(dir_ + "/credentials");
    if (!file.ok()) return {};
    auto id = file->Get(profile, "aws_access_key_id");
    auto secret = file->Get(profile, "aws_secret_access_key");
    if (!id || !secret) return {};
    secrets_.push_back(*secret);
    return {*id, Secret(*secret)};
  }

  bool Works(const std::string& id, const Secret& secret) {
    auto sts = testing::SandboxClients(server_->endpoint(), &transport_, id, secret).Sts();
    return sts.ok() && sts->GetCallerIdentity().ok();
  }

  void ExpectNoSecretInOutputs() {
    std::string published;
    for (const auto& m : sb().PublishedMessages()) published += m.message;
    for (const auto& s : secrets_) {
      EXPECT_EQ(outputs_.find(s), std::string::npos) << "secret leaked to output";
      EXPECT_EQ(published.find(s), std::string::npos) << "secret leaked to a notification";
    }
  }

  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  aws::CurlTransport transport_;
  std::string dir_;
  std::vector<std::string> secrets_;
  std::string outputs_;
};

TEST_F(RespondCliTest, AKeyIdFoundInALogIsRotatedFirstThenCutOff) {
  auto exposed = NewUser("web");
  std::string topic = *Admin().Sns()->CreateTopic("security");
  ProcessResult r = Run({"respond", "--access-key-id", exposed.access_key_id, "--to",
                         "credentials-file:" + dir_ + "/credentials#web", "--notify", "sns:" + topic, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["access_key_id"], exposed.access_key_id);
  EXPECT_EQ(out["account_id"], "123456789012");
  EXPECT_EQ(out["user"], "web");
  EXPECT_EQ(out["state"], "old_deactivated");
  auto [held_id, held_secret] = Held("web");
  EXPECT_EQ(held_id, out["new_access_key_id"]);
  EXPECT_TRUE(Works(held_id, held_secret));
  EXPECT_FALSE(sb().GetKey(exposed.access_key_id)->active);
  bool exposed_notice = false;
  for (const auto& m : sb().PublishedMessages(topic)) {
    if (m.message.find("\"key_exposed\"") != std::string::npos) exposed_notice = true;
  }
  EXPECT_TRUE(exposed_notice);
  // The audit trail tells the story.
  r = Run({"history", "--user", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("deactivate_exposed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("activity"), std::string::npos) << r.out;
  ExpectNoSecretInOutputs();
}

TEST_F(RespondCliTest, AHealthEventOnStdinDeactivateFirstAndItsRepeats) {
  auto exposed = NewUser("batch");
  std::string event = *sb().ExposeKey(exposed.access_key_id);
  ProcessResult r = Run({"respond", "--event", "-", "--on-exposure", "deactivate-first", "--exposed-delete-after", "0",
                         "--to", "credentials-file:" + dir_ + "/credentials#batch"},
                        event);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("completed"), std::string::npos) << r.out;
  EXPECT_FALSE(sb().GetKey(exposed.access_key_id));
  auto [held_id, held_secret] = Held("batch");
  EXPECT_TRUE(Works(held_id, held_secret));
  // AWS sends more than one event: the key is gone, reported, exit 0, nothing made.
  std::string file = dir_ + "/event.json";
  ASSERT_TRUE(AtomicWriteFile(file, event, {0600, false}).ok());
  r = Run({"respond", "--event", file, "--to", "credentials-file:" + dir_ + "/credentials#batch"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("does not exist"), std::string::npos) << r.out;
  EXPECT_EQ(sb().KeyCount("batch"), 1u);
  ExpectNoSecretInOutputs();
}

TEST_F(RespondCliTest, BadInputIsRefusedNamingThePlaceAndChangesNothing) {
  auto key = NewUser("calm");
  std::string garbage = dir_ + "/garbage.json";
  ASSERT_TRUE(AtomicWriteFile(garbage, "{\"source\": \"aws.health\", \"detail\": {\"service\": \"EC2\"}}", {0600, false})
                  .ok());
  ProcessResult r = Run({"respond", "--event", garbage});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("detail.service"), std::string::npos) << r.err;
  r = Run({"respond", "--event", dir_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  r = Run({"respond", "--access-key-id", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--access-key-id"), std::string::npos) << r.err;
  r = Run({"respond"});
  EXPECT_EQ(r.exit_code, 2);
  r = Run({"respond", "--access-key-id", key.access_key_id, "--on-exposure", "panic"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--on-exposure"), std::string::npos) << r.err;
  r = Run({"respond", "--access-key-id", key.access_key_id, "--account", "999999999999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--config"), std::string::npos) << r.err;
  EXPECT_TRUE(sb().GetKey(key.access_key_id)->active);
  EXPECT_EQ(sb().KeyCount("calm"), 1u);
  // A key that does not exist: reported, exit 0.
  r = Run({"respond", "--access-key-id", "AKIAZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("does not exist"), std::string::npos) << r.out;
  // The example event reads back.
  r = Run({"respond", "--example-event", "--access-key-id", key.access_key_id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["detail"]["affectedEntities"][0]["entityValue"], key.access_key_id);
  ExpectNoSecretInOutputs();
}

}  // namespace
}  // namespace keyrotor
