#include "credentials/web_identity_provider.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "aws/curl_transport.h"
#include "base/strings.h"
#include "sandbox/server.h"
#include "support/sandbox_clients.h"

namespace keyrotor::credentials {
namespace {

constexpr char kRoleArn[] = "arn:aws:iam::123456789012:role/ci-deployer";
constexpr char kJwt[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2lnbmF0dXJl";

class WebIdentityProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    // One file per process: ctest runs this suite's tests in parallel, and a
    // shared name let one test's empty token reach another's provider.
    token_file_ = ::testing::TempDir() + "keyrotor-web-identity-token-" + std::to_string(::getpid());
    WriteToken(std::string(kJwt) + "\n");
  }
  void TearDown() override {
    server_->Stop();
    std::remove(token_file_.c_str());
  }
  void WriteToken(const std::string& token) { std::ofstream(token_file_, std::ios::trunc) << token; }
  aws::ClientFactory Unsigned() { return testing::SandboxClients(server_->endpoint(), &transport_, "", Secret(), 1); }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  std::string token_file_;
};

TEST_F(WebIdentityProviderTest, ExchangesTheTokenForRoleCredentialsThatWork) {
  WebIdentityCredentialsProvider provider(Unsigned(), {.token_file = token_file_, .role_arn = kRoleArn});
  EXPECT_TRUE(StartsWith(provider.session_name(), "keyrotor-"));
  EXPECT_EQ(provider.session_name().size(), 9u + 16u);
  auto creds = provider.GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_TRUE(creds->IsTemporary());
  ASSERT_TRUE(creds->expiration.has_value());
  EXPECT_NE(creds->provider.find("web identity"), std::string::npos);

  // The credentials sign: STS says who they are.
  auto as_role = testing::SandboxClients(server_->endpoint(), &transport_)
                     .WithCredentials(std::make_shared<aws::StaticCredentialsProvider>(creds->Clone()));
  auto who = as_role.Sts()->GetCallerIdentity();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->arn, "arn:aws:sts::123456789012:assumed-role/ci-deployer/" + provider.session_name());
}

TEST_F(WebIdentityProviderTest, RereadsTheTokenFileOnEachCall) {
  WebIdentityCredentialsProvider provider(Unsigned(), {.profile = "ci",
                                                       .token_file = token_file_,
                                                       .role_arn = kRoleArn,
                                                       .session_name = "gha-run-42",
                                                       .duration_seconds = 900});
  auto first = provider.GetCredentials();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_LE(*first->expiration - std::chrono::system_clock::now(), std::chrono::seconds(901));

  WriteToken("invalid");  // the sandbox rejects this token
  auto second = provider.GetCredentials();
  ASSERT_FALSE(second.ok());
  const std::string& msg = second.status().message();
  EXPECT_NE(msg.find("web identity provider (profile ci)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(kRoleArn), std::string::npos) << msg;
  EXPECT_EQ(msg.find(first->secret_access_key.reveal()), std::string::npos) << msg;
  EXPECT_EQ(msg.find(first->session_token.reveal()), std::string::npos) << msg;
  EXPECT_EQ(msg.find(kJwt), std::string::npos) << msg;

  WriteToken(kJwt);
  EXPECT_TRUE(provider.GetCredentials().ok());
}

TEST_F(WebIdentityProviderTest, MissingOrEmptyTokenFileNamesTheProvider) {
  WebIdentityCredentialsProvider missing(Unsigned(), {.token_file = token_file_ + ".nope", .role_arn = kRoleArn});
  auto creds = missing.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("web identity provider"), std::string::npos);

  WriteToken("\n");
  WebIdentityCredentialsProvider empty(Unsigned(), {.token_file = token_file_, .role_arn = kRoleArn});
  creds = empty.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("empty"), std::string::npos);

  WebIdentityCredentialsProvider no_role(Unsigned(), {.token_file = token_file_});
  EXPECT_FALSE(no_role.GetCredentials().ok());
}

}  // namespace
}  // namespace keyrotor::credentials
