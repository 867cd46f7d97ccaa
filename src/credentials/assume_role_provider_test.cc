#include "credentials/assume_role_provider.h"

#include <gtest/gtest.h>

#include <mutex>

#include "aws/curl_transport.h"
#include "base/strings.h"
#include "sandbox/server.h"
#include "support/sandbox_clients.h"

namespace keyrotor::credentials {
namespace {

constexpr char kRoleArn[] = "arn:aws:iam::123456789012:role/rotator";

// Passes requests to curl and keeps the form bodies, so tests can see what
// AssumeRole carried (the sandbox accepts MFA parameters without checking).
class RecordingTransport : public aws::HttpTransport {
 public:
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions& options) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(UriDecode(request.body, /*plus_as_space=*/true));
    }
    return curl_.Send(request, options);
  }
  std::string LastBody() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.empty() ? "" : bodies_.back();
  }

 private:
  aws::CurlTransport curl_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
};

class AssumeRoleProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("x");
  }
  void TearDown() override { server_->Stop(); }

  aws::ClientFactory Factory() { return testing::SandboxClients(server_->endpoint(), &transport_, "", Secret(), 1); }
  std::shared_ptr<aws::CredentialsProvider> Source(const std::string& id, const Secret& secret) {
    return std::make_shared<aws::StaticCredentialsProvider>(
        aws::Credentials{id, secret.Clone(), Secret(), std::nullopt, "test"});
  }
  std::shared_ptr<aws::CredentialsProvider> Admin() { return Source(admin_.access_key_id, admin_.secret); }

  RecordingTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
};

TEST_F(AssumeRoleProviderTest, AssumesTheRoleWithTheSourceCredentials) {
  AssumeRoleCredentialsProvider provider(Factory(), Admin(),
                                         {.profile = "ops",
                                          .role_arn = kRoleArn,
                                          .external_id = "ext-1234",
                                          .role_session_name = "nightly-rotation",
                                          .duration_seconds = 1800});
  auto creds = provider.GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_TRUE(creds->IsTemporary());
  EXPECT_NE(creds->access_key_id, admin_.access_key_id);
  EXPECT_NE(creds->provider.find("profile ops"), std::string::npos);
  std::string body = transport_.LastBody();
  EXPECT_NE(body.find("ExternalId=ext-1234"), std::string::npos) << body;
  EXPECT_NE(body.find("DurationSeconds=1800"), std::string::npos) << body;
  EXPECT_EQ(body.find("SerialNumber"), std::string::npos) << body;

  auto who =
      Factory().WithCredentials(std::make_shared<aws::StaticCredentialsProvider>(creds->Clone())).Sts()->GetCallerIdentity();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->arn, "arn:aws:sts::123456789012:assumed-role/rotator/nightly-rotation");
}

TEST_F(AssumeRoleProviderTest, AsksForTheMfaCodeOnEveryCall) {
  int asked = 0;
  AssumeRoleCredentialsProvider provider(Factory(), Admin(),
                                         {.role_arn = kRoleArn,
                                          .mfa_serial = "arn:aws:iam::123456789012:mfa/alice",
                                          .mfa_token = [&]() -> Result<std::string> {
                                            ++asked;
                                            return std::string("123456");
                                          }});
  EXPECT_TRUE(StartsWith(provider.session_name(), "keyrotor-"));
  ASSERT_TRUE(provider.GetCredentials().ok());
  ASSERT_TRUE(provider.GetCredentials().ok());
  EXPECT_EQ(asked, 2);
  std::string body = transport_.LastBody();
  EXPECT_NE(body.find("SerialNumber=arn:aws:iam::123456789012:mfa/alice"), std::string::npos) << body;
  EXPECT_NE(body.find("TokenCode=123456"), std::string::npos) << body;
}

TEST_F(AssumeRoleProviderTest, MfaFailuresAreReported) {
  AssumeRoleCredentialsProvider no_callback(
      Factory(), Admin(), {.role_arn = kRoleArn, .mfa_serial = "arn:aws:iam::123456789012:mfa/alice"});
  auto creds = no_callback.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("assume-role provider"), std::string::npos);

  AssumeRoleCredentialsProvider cancelled(
      Factory(), Admin(),
      {.profile = "ops",
       .role_arn = kRoleArn,
       .mfa_serial = "arn:aws:iam::123456789012:mfa/alice",
       .mfa_token = []() -> Result<std::string> { return Status::FailedPrecondition("no terminal to ask on"); }});
  creds = cancelled.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("no terminal to ask on"), std::string::npos);
  EXPECT_NE(creds.status().message().find("profile ops"), std::string::npos);
}

TEST_F(AssumeRoleProviderTest, SourceWithoutRightsGetsAccessDeniedWithoutLeakingIt) {
  auto weak = server_->sandbox().CreateUserWithKey("weak");
  ASSERT_TRUE(weak.ok());
  ASSERT_TRUE(server_->sandbox().SetUserPermissions("weak", sandbox::UserPermissions::kNone).ok());
  AssumeRoleCredentialsProvider provider(Factory(), Source(weak->access_key_id, weak->secret),
                                         {.profile = "ops", .role_arn = kRoleArn});
  auto creds = provider.GetCredentials();
  ASSERT_FALSE(creds.ok());
  const std::string& msg = creds.status().message();
  EXPECT_NE(msg.find("assume-role provider (profile ops)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(weak->secret.reveal()), std::string::npos) << msg;
  EXPECT_EQ(msg.find(admin_.secret.reveal()), std::string::npos) << msg;
  EXPECT_TRUE(creds.status().IsAws("AccessDenied")) << creds.status().ToString();
}

TEST_F(AssumeRoleProviderTest, FailingSourceProviderIsReported) {
  class Failing : public aws::CredentialsProvider {
   public:
    Result<aws::Credentials> GetCredentials() override { return Status::NotFound("source profile base has no keys"); }
  };
  AssumeRoleCredentialsProvider provider(Factory(), std::make_shared<Failing>(), {.role_arn = kRoleArn});
  auto creds = provider.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("source profile base has no keys"), std::string::npos)
      << creds.status().message();
}

}  // namespace
}  // namespace keyrotor::credentials
