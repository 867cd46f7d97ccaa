// The keyrotor binary end to end: `sandbox`, `profiles rotate` and `demo` as
// a user runs them, with every output scanned for the secrets involved.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "aws/clients.h"
#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "credentials/profile_writer.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using testing::BackgroundProcess;
using testing::KeyrotorBinary;
using testing::RunProcess;

// Anything shaped like a secret access key (40 chars of base64) in text.
bool LooksLikeItHoldsASecret(const std::string& text) {
  static const std::regex kSecret("(^|[^A-Za-z0-9+/])[A-Za-z0-9+/]{40}([^A-Za-z0-9+/=]|$)");
  return std::regex_search(text, kSecret);
}

std::vector<std::string> SecretsIn(const std::string& credentials_path) {
  std::vector<std::string> out;
  auto file = credentials::IniFile::Load(credentials_path);
  if (!file.ok()) return out;
  for (const auto& s : file->Sections()) {
    if (auto v = file->Get(s, "aws_secret_access_key")) out.push_back(*v);
  }
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("keyrotor-cli");
    env_ = {{"HOME", dir_}, {"AWS_REGION", "us-east-1"}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void ExpectNoSecrets(const std::vector<std::string>& secrets, const std::string& text) {
    for (const auto& s : secrets) {
      ASSERT_FALSE(s.empty());
      EXPECT_EQ(text.find(s), std::string::npos) << "a secret access key was printed";
    }
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(CliTest, HelpListsTheCommands) {
  auto r = RunProcess({KeyrotorBinary(), "--help"}, env_);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"profiles", "sandbox", "demo", "whoami", "doctor"}) EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  auto rotate_help = RunProcess({KeyrotorBinary(), "profiles", "rotate", "--help"}, env_);
  EXPECT_EQ(rotate_help.exit_code, 0);
  EXPECT_NE(rotate_help.out.find("--remove"), std::string::npos);
  auto bad = RunProcess({KeyrotorBinary(), "no-such-command"}, env_);
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(CliTest, SandboxThenProfilesRotate) {
  const std::string admin_creds = dir_ + "/admin-credentials";
  auto sandbox = BackgroundProcess::Start(
      {KeyrotorBinary(), "sandbox", "--listen", "127.0.0.1:0", "--write-credentials", admin_creds,
       "--consistency-ms", "300"},
      env_);
  std::string ready = sandbox->WaitForLine("listening on");
  ASSERT_FALSE(ready.empty()) << "sandbox did not start";
  std::string endpoint = ready.substr(ready.find("http://"));

  // As an administrator would: make two users with keys through the API.
  std::vector<std::string> secrets = SecretsIn(admin_creds);
  ASSERT_EQ(secrets.size(), 1u);
  auto admin_file = credentials::IniFile::Load(admin_creds);
  ASSERT_TRUE(admin_file.ok());
  aws::CurlTransport transport;
  aws::ClientFactory admin = testing::SandboxClients(endpoint, &transport,
                                                     *admin_file->Get("default", "aws_access_key_id"), Secret(secrets[0]));
  const std::string creds = dir_ + "/credentials";
  for (const char* user : {"web", "batch"}) {
    ASSERT_TRUE(admin.Iam()->CreateUser(user).ok());
    auto key = admin.Iam()->CreateAccessKey(user);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    secrets.push_back(key->secret_access_key.reveal());
    ASSERT_TRUE(credentials::WriteProfile(creds, user, key->metadata.access_key_id, key->secret_access_key).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));

  auto r = RunProcess({KeyrotorBinary(), "profiles", "rotate", "--credentials-file", creds, "--endpoint-url", endpoint},
                      env_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 rotated, 0 skipped, 0 failed"), std::string::npos) << r.out;
  for (const auto& s : SecretsIn(creds)) secrets.push_back(s);
  ASSERT_EQ(secrets.size(), 5u);

  // A malformed file: exit 2, file:line named, nothing changed.
  std::string broken = dir_ + "/broken";
  ASSERT_TRUE(AtomicWriteFile(broken, "[a]\naws_access_key_id = AKIA\n[a]\n", {}).ok());
  auto bad = RunProcess({KeyrotorBinary(), "profiles", "rotate", "--credentials-file", broken, "--endpoint-url",
                         endpoint},
                        env_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(broken + ":3"), std::string::npos) << bad.err;

  // Plain http to a non-loopback host is refused before anything is sent.
  auto insecure = RunProcess(
      {KeyrotorBinary(), "profiles", "rotate", "--credentials-file", creds, "--endpoint-url", "http://iam.example.com"},
      env_);
  EXPECT_EQ(insecure.exit_code, 2);
  EXPECT_NE(insecure.err.find("plain http"), std::string::npos) << insecure.err;

  auto stopped = sandbox->Stop();
  EXPECT_EQ(stopped.exit_code, 0);
  for (const std::string* text : {&r.out, &r.err, &bad.out, &bad.err, &insecure.out, &insecure.err, &stopped.out,
                                  &stopped.err}) {
    ExpectNoSecrets(secrets, *text);
  }
}

TEST_F(CliTest, WhoamiNamesTheProviderNeverTheSecret) {
  const std::string admin_creds = dir_ + "/admin-credentials";
  auto sandbox = BackgroundProcess::Start(
      {KeyrotorBinary(), "sandbox", "--listen", "127.0.0.1:0", "--write-credentials", admin_creds}, env_);
  std::string ready = sandbox->WaitForLine("listening on");
  ASSERT_FALSE(ready.empty());
  std::string endpoint = ready.substr(ready.find("http://"));
  auto env = env_;
  env["AWS_SHARED_CREDENTIALS_FILE"] = admin_creds;
  auto r = RunProcess({KeyrotorBinary(), "whoami", "--endpoint-url", endpoint}, env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("credentials: profile default (" + admin_creds + ":"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("arn:         arn:aws:iam::123456789012:user/sandbox-admin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("region:      us-east-1 (AWS_REGION)"), std::string::npos) << r.out;
  ExpectNoSecrets(SecretsIn(admin_creds), r.out + r.err);

  // Nowhere to find credentials: the error says where it looked.
  auto none = RunProcess({KeyrotorBinary(), "whoami", "--endpoint-url", endpoint},
                         {{"HOME", dir_}, {"AWS_REGION", "us-east-1"}, {"AWS_EC2_METADATA_DISABLED", "true"}});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("instance metadata is disabled"), std::string::npos) << none.err;
  sandbox->Stop();
}

TEST_F(CliTest, DoctorNamesEachMissingPermission) {
  sandbox::SandboxOptions options;
  auto server = sandbox::SandboxServer::Start(options);
  ASSERT_TRUE(server.ok());
  auto& sb = (*server)->sandbox();
  auto admin = sb.CreateAdmin("doc-admin");
  auto self = sb.CreateUserWithKey("doc-self");
  auto none = sb.CreateUserWithKey("doc-none");
  ASSERT_TRUE(self.ok() && none.ok());
  ASSERT_TRUE(sb.SetUserPermissions("doc-none", sandbox::UserPermissions::kNone).ok());
  auto run = [&](const sandbox::Sandbox::IssuedKey& key, std::vector<std::string> extra = {}) {
    auto env = env_;
    env["AWS_ACCESS_KEY_ID"] = key.access_key_id;
    env["AWS_SECRET_ACCESS_KEY"] = key.secret.reveal();
    std::vector<std::string> argv = {KeyrotorBinary(), "doctor", "--endpoint-url", (*server)->endpoint()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = RunProcess(argv, env);
    ExpectNoSecrets({key.secret.reveal()}, r.out + r.err);
    return r;
  };
  auto ok = run(admin, {"--check", "iam", "--check", "secretsmanager", "--check", "sns"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("0 of 19 permissions missing"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("ok       secretsmanager:PutSecretValue"), std::string::npos) << ok.out;

  // A self-managing user may not run the simulator itself; an admin checks it.
  auto partial = run(admin, {"--principal", "arn:aws:iam::123456789012:user/doc-self"});
  EXPECT_EQ(partial.exit_code, 1) << partial.out << partial.err;
  EXPECT_NE(partial.out.find("MISSING  iam:ListUsers"), std::string::npos) << partial.out;
  EXPECT_NE(partial.out.find("ok       iam:CreateAccessKey"), std::string::npos) << partial.out;

  auto unchecked = run(*none);
  EXPECT_EQ(unchecked.exit_code, 1);
  EXPECT_NE(unchecked.out.find("UNCHECKED"), std::string::npos) << unchecked.out;
  EXPECT_NE(unchecked.out.find("iam:CreateAccessKey"), std::string::npos) << unchecked.out;
  (*server)->Stop();
}

TEST_F(CliTest, DemoRotatesAndPrintsNoSecret) {
  auto r = RunProcess({KeyrotorBinary(), "demo", "--consistency-ms", "200"}, env_, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rotated alice"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped ci-session"), std::string::npos) << r.out;
  EXPECT_FALSE(LooksLikeItHoldsASecret(r.out)) << "demo output holds something shaped like a secret key";
  EXPECT_FALSE(LooksLikeItHoldsASecret(r.err));
}

TEST(SecretShapeTest, DetectorFindsSecretsAndNotKeyIds) {
  EXPECT_TRUE(LooksLikeItHoldsASecret("x wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY y"));
  EXPECT_FALSE(LooksLikeItHoldsASecret("AKIAIOSFODNN7EXAMPLE -> AKIAL7OW7OVEJT6L3PIB /tmp/keyrotor-demo-vJC62e"));
}

}  // namespace
}  // namespace keyrotor
