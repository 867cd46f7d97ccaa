// `keyrotor report` and `keyrotor policy` as a user runs them: the real
// binary against the sandbox on a loopback socket.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using testing::ProcessResult;

class ReportCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start(sandbox::SandboxOptions{});
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    admin_ = sb().CreateAdmin("admin");
    secrets_.push_back(admin_.secret.reveal());
    dir_ = testing::MakeTempDir("keyrotor-report-cli");
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  sandbox::Sandbox& sb() { return server_->sandbox(); }

  // A user with one key `age_days` old, used now when `used`.
  std::string NewUser(const std::string& user, int age_days, bool used) {
    auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * age_days));
    EXPECT_TRUE(key.ok());
    secrets_.push_back(key->secret.reveal());
    if (used) {
      auto sts = testing::SandboxClients(server_->endpoint(), &transport_, key->access_key_id, key->secret).Sts();
      EXPECT_TRUE(sts.ok() && sts->GetCallerIdentity().ok());
    }
    return key->access_key_id;
  }

  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::KeyrotorBinary());
    if (args[1] == "report") args.insert(args.end(), {"--endpoint-url", server_->endpoint()});
    ProcessResult r = testing::RunProcess(args, {{"AWS_ACCESS_KEY_ID", admin_.access_key_id},
                                                 {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
                                                 {"AWS_REGION", "us-east-1"},
                                                 {"HOME", dir_},
                                                 {"AWS_EC2_METADATA_DISABLED", "true"}});
    for (const auto& s : secrets_) EXPECT_EQ((r.out + r.err).find(s), std::string::npos) << "secret leaked";
    return r;
  }

  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  aws::CurlTransport transport_;
  std::string dir_;
  std::vector<std::string> secrets_;
};

TEST_F(ReportCliTest, FindingsExitOneAndJsonNamesThem) {
  NewUser("fresh", 10, true);
  std::string old_key = NewUser("old", 120, true);
  std::string idle_key = NewUser("idle", 60, false);
  ProcessResult r = Run({"report", "--format", "json", "--concurrency", "3"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["account"].get<std::string>().size(), 12u);
  std::vector<std::string> users;
  for (const auto& u : j["users"]) users.push_back(u["user"]);
  EXPECT_EQ(users, (std::vector<std::string>{"admin", "fresh", "idle", "old"}));
  std::set<std::string> findings;
  for (const auto& f : j["findings"]) {
    findings.insert(f["check"].get<std::string>() + " " + f["user"].get<std::string>() + " " +
                    f["access_key_id"].get<std::string>());
  }
  EXPECT_EQ(findings, (std::set<std::string>{"1.14 old " + old_key, "1.12 idle " + idle_key}));
}

TEST_F(ReportCliTest, NoFindingsExitZero) {
  NewUser("fresh", 10, true);
  ProcessResult r = Run({"report", "--user", "fresh"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fresh"), std::string::npos);
  EXPECT_NE(r.out.find("findings (0)"), std::string::npos) << r.out;
}

TEST_F(ReportCliTest, WritesCsvAndHtmlFiles) {
  NewUser("old", 200, false);
  std::string csv = dir_ + "/keys.csv";
  ProcessResult r = Run({"report", "--format", "csv", "--output", csv, "--user", "old"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.out.empty());
  auto text = ReadFile(csv);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->rfind("account,user,access_key_id,", 0), 0u);
  EXPECT_NE(text->find(",old,"), std::string::npos);
  EXPECT_NE(text->find("1.12;1.14"), std::string::npos) << *text;

  std::string html = dir_ + "/keys.html";
  r = Run({"report", "--format", "html", "--output", html});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  auto page = ReadFile(html);
  ASSERT_TRUE(page.ok());
  EXPECT_NE(page->find("<svg"), std::string::npos);
}

TEST_F(ReportCliTest, BadInputExitsTwo) {
  EXPECT_EQ(Run({"report", "--format", "xml"}).exit_code, 2);
  ProcessResult r = Run({"report", "--user", "nobody"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nobody"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"report", "--user", "bad name!"}).exit_code, 2);
}

TEST_F(ReportCliTest, PolicyPrintsOnlyWhatIsConfigured) {
  ProcessResult r =
      Run({"policy", "--to", "secretsmanager:apps/{user}", "--notify", "sns:arn:aws:sns:eu-west-1:123456789012:keys",
           "--assume-role", "arn:aws:iam::111111111111:role/keyrotor"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::vector<std::string> sids;
  for (const auto& s : j["Statement"]) sids.push_back(s["Sid"]);
  EXPECT_EQ(sids, (std::vector<std::string>{"KeyrotorListUsers", "KeyrotorAccountReports", "KeyrotorUserAccessKeys",
                                            "KeyrotorReadGroups", "KeyrotorExposureActivity", "KeyrotorSecretsManager",
                                            "KeyrotorSnsPublish", "KeyrotorAssumeRoles"}));
  EXPECT_EQ(Run({"policy", "--to", "s3:bucket"}).exit_code, 2);
}

// --config reports on each configured account through the account's own
// clients (here a role assumed into the sandbox's one account, so the two
// config accounts are one AWS account, reported once); --account narrows it.
TEST_F(ReportCliTest, ConfigReportsEveryUserOfEachAccountThroughItsRole) {
  NewUser("old", 120, true);
  NewUser("fresh", 10, true);
  std::string config = dir_ + "/keyrotor.toml";
  ASSERT_TRUE(AtomicWriteFile(config,
                              "state = \"" + dir_ + "/journal.db\"\n"
                              "[[accounts]]\nname = \"main\"\n"
                              "[[accounts]]\nname = \"ops\"\nrole_arn = \"arn:aws:iam::123456789012:role/keyrotor\"\n"
                              "[[accounts]]\nname = \"wrong\"\nid = \"999999999999\"\n"
                              "role_arn = \"arn:aws:iam::999999999999:role/keyrotor\"\n"
                              "[[selection]]\nusers = [\"fresh\"]\n",
                              {0600, false})
                  .ok());
  ProcessResult r = Run({"report", "--config", config, "--account", "main", "--account", "ops", "--format", "json"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;  // "old" is a finding
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_object()) << "one AWS account, one report: " << r.out.substr(0, 300);
  EXPECT_EQ(j["account"], "123456789012");
  std::vector<std::string> users;
  for (const auto& u : j["users"]) users.push_back(u["user"]);
  // Every user, not only the selected one.
  EXPECT_EQ(users, (std::vector<std::string>{"admin", "fresh", "old"}));

  // The account whose role leads elsewhere fails the report, naming it; nothing is written.
  ProcessResult wrong = Run({"report", "--config", config, "--output", dir_ + "/report.html", "--format", "html"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("account wrong"), std::string::npos) << wrong.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/report.html"));

  EXPECT_EQ(Run({"report", "--config", config, "--account", "nope"}).exit_code, 2);
  EXPECT_EQ(Run({"report", "--account", "main"}).exit_code, 2);  // --account without --config
}

// --config feeds the policy every selection's destinations and notifiers,
// every account's role and every KMS key; flags add to it.
TEST_F(ReportCliTest, PolicyFromAConfigCoversEverySelectionAndRole) {
  std::string config = dir_ + "/keyrotor.toml";
  ASSERT_TRUE(AtomicWriteFile(config,
                              "[policy]\nnotify = \"sns:arn:aws:sns:eu-west-1:123456789012:keys\"\n"
                              "[[accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::111111111111:role/keyrotor\"\n"
                              "[[accounts]]\nname = \"b\"\nrole_arn = \"arn:aws:iam::222222222222:role/keyrotor\"\n"
                              "[[selection]]\nuser_regex = \"^ci-\"\n"
                              "to = \"secretsmanager:Account_{account}_User_{user}_AccessKey\"\n"
                              "[[selection]]\nuser_regex = \"^app-\"\nto = \"ssm:/keys/{user}\"\n"
                              "kms_key_id = \"alias/keys\"\n",
                              {0600, false})
                  .ok());
  ProcessResult r = Run({"policy", "--config", config, "--to", "vault:" + dir_ + "/v"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> by_sid;
  for (const auto& s : j["Statement"]) by_sid[s["Sid"]] = s;
  for (const char* sid : {"KeyrotorSecretsManager", "KeyrotorSsmParameters", "KeyrotorSnsPublish",
                          "KeyrotorAssumeRoles", "KeyrotorKmsAliases"}) {
    EXPECT_TRUE(by_sid.count(sid)) << sid << " missing from " << r.out;
  }
  EXPECT_EQ(by_sid["KeyrotorAssumeRoles"]["Resource"],
            nlohmann::json::array({"arn:aws:iam::111111111111:role/keyrotor", "arn:aws:iam::222222222222:role/keyrotor"}));
  EXPECT_NE(r.out.find("Account_*_User_*_AccessKey"), std::string::npos) << r.out;

  ASSERT_TRUE(AtomicWriteFile(config, "[[selection]]\nall_users = true\nto = \"s3:bucket\"\n", {0600, false}).ok());
  ProcessResult bad = Run({"policy", "--config", config});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("keyrotor.toml:3: selection[0].to"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace keyrotor
