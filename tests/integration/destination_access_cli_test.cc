// `keyrotor doctor --to` and `keyrotor policy --to` for destinations outside
// AWS, as a user runs them: the real binary, the sandbox for the AWS side, the
// fake GitHub and GitLab on loopback. doctor asks each service, without
// writing, whether the token may write there; policy prints the IAM policy on
// stdout and what the services need on stderr. No token reaches any output.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "sandbox/server.h"
#include "support/fake_github.h"
#include "support/fake_gitlab.h"
#include "support/process.h"

namespace keyrotor {
namespace {

constexpr char kGithubToken[] = "ghp_FAKEdoctorTokenForKeyrotorTests00001";
constexpr char kGitlabToken[] = "glpat-FAKEdoctorToken0000000001";
constexpr char kGitlabReadToken[] = "glpat-FAKEdoctorReadOnlyToken0002";

class DestinationAccessCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start(sandbox::SandboxOptions{});
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("doctor-admin");
    github_ = testing::FakeGithub::Start();
    github_->AddToken(kGithubToken);
    github_->AddRepo("acme", "app");
    gitlab_ = testing::FakeGitlab::Start();
    gitlab_->AddToken(kGitlabToken, {{"api"}, 7, false, std::nullopt});
    gitlab_->AddToken(kGitlabReadToken, {{"read_api"}, 7, false, std::nullopt});
    gitlab_->AddProject(11, "acme/app");
    gitlab_->SetRole(7, "projects/11", 40);
    dir_ = testing::MakeTempDir("keyrotor-destination-access");
    ASSERT_TRUE(AtomicWriteFile(dir_ + "/gh.token", std::string(kGithubToken) + "\n").ok());
    ASSERT_TRUE(AtomicWriteFile(dir_ + "/gl.token", std::string(kGitlabToken) + "\n").ok());
    ASSERT_TRUE(AtomicWriteFile(dir_ + "/gl-read.token", std::string(kGitlabReadToken) + "\n").ok());
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  testing::ProcessResult Run(std::vector<std::string> args) {
    std::map<std::string, std::string> env = {{"AWS_REGION", "us-east-1"},
                                              {"HOME", dir_},
                                              {"AWS_EC2_METADATA_DISABLED", "true"},
                                              {"AWS_ACCESS_KEY_ID", admin_.access_key_id},
                                              {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()}};
    args.insert(args.begin(), testing::KeyrotorBinary());
    testing::ProcessResult r = testing::RunProcess(args, env, 60);
    for (const std::string& secret : {std::string(kGithubToken), std::string(kGitlabToken),
                                      std::string(kGitlabReadToken), admin_.secret.reveal()}) {
      EXPECT_EQ((r.out + r.err).find(secret), std::string::npos) << "a token reached the output";
    }
    return r;
  }

  std::vector<std::string> ServiceFlags(const std::string& gitlab_token_file) {
    return {"--github-api-url",    github_->api_url(),       "--github-token-file", dir_ + "/gh.token",
            "--gitlab-api-url",    gitlab_->api_url(),       "--gitlab-token-file", gitlab_token_file};
  }

  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  std::unique_ptr<testing::FakeGithub> github_;
  std::unique_ptr<testing::FakeGitlab> gitlab_;
  std::string dir_;
};

TEST_F(DestinationAccessCliTest, DoctorAsksEachServiceWithoutWriting) {
  std::vector<std::string> args = {"doctor", "--endpoint-url", server_->endpoint(), "--to", "github:acme/app",
                                   "--to", "gitlab:acme/app", "--to", "credentials-file:" + dir_ + "/c#p"};
  std::vector<std::string> flags = ServiceFlags(dir_ + "/gl.token");
  args.insert(args.end(), flags.begin(), flags.end());
  testing::ProcessResult r = Run(args);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok       github:acme/app: read the Actions secrets public key"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok       gitlab:acme/app:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nothing to check without writing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 of 3 destinations failed their check"), std::string::npos) << r.out;
  EXPECT_FALSE(github_->Stored("repos/acme/app", "AWS_ACCESS_KEY_ID")) << "doctor wrote a secret";
  EXPECT_FALSE(gitlab_->Stored("projects/11", "AWS_ACCESS_KEY_ID")) << "doctor wrote a variable";

  // A read-only GitLab token: named, with what it needs; {user} without --user is said to be unchecked.
  args = {"doctor", "--endpoint-url", server_->endpoint(), "--to", "gitlab:acme/app", "--to", "github:acme/{user}"};
  flags = ServiceFlags(dir_ + "/gl-read.token");
  args.insert(args.end(), flags.begin(), flags.end());
  r = Run(args);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAILED   gitlab:acme/app:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("needs: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api scope"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNCHECKED github:acme/{user}"), std::string::npos) << r.out;
  // With --user the template is filled in.
  args.insert(args.end(), {"--user", "app"});
  r = Run(args);
  EXPECT_NE(r.out.find("ok       github:acme/{user}: read the Actions secrets public key of acme/app"),
            std::string::npos)
      << r.out;
}

TEST_F(DestinationAccessCliTest, PolicyKeepsStdoutTheIamPolicyAndNamesWhatServicesNeed) {
  testing::ProcessResult r =
      Run({"policy", "--to", "secretsmanager:ci/{user}", "--to", "github-org:acme#AWS_CREDS", "--to",
           "gitlab-group:acme/platform", "--to", "kubernetes:ci/{user}-aws?restart=web", "--to",
           "vault-kv:secret/ci/{user}"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json policy = nlohmann::json::parse(r.out);  // stdout is the policy document alone
  EXPECT_EQ(policy["Version"], "2012-10-17");
  EXPECT_NE(r.out.find("secretsmanager:PutSecretValue"), std::string::npos) << r.out;
  for (const char* needed : {"github-org:acme#AWS_CREDS", "organization permission \"Secrets\"", "admin:org",
                             "gitlab-group:acme/platform", "Owner", "kubernetes:ci/{user}-aws", "secrets",
                             "{user}-aws", "deployments", "vault-kv:secret/ci/{user}", "secret/data/ci/{user}"}) {
    EXPECT_NE(r.err.find(needed), std::string::npos) << needed << " in:\n" << r.err;
  }
  EXPECT_EQ(r.err.find("secretsmanager:ci"), std::string::npos) << "an AWS destination needs only the IAM policy";

  r = Run({"policy", "--to", "gitlab:"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("gitlab:"), std::string::npos) << r.err;
  r = Run({"policy", "--to", "bitbucket:acme/app"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("unknown kind 'bitbucket'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keyrotor
