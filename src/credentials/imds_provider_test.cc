#include "credentials/imds_provider.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>

#include "aws/curl_transport.h"
#include "net/http_server.h"

namespace keyrotor::credentials {
namespace {

constexpr char kImdsSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYIMDSSECRET";
constexpr char kImdsToken[] = "IQoJb3JpZ2luX2VjEImdsSessionToken";
constexpr char kRole[] = "rotator-instance-role";

std::string RoleDocument() {
  return std::string(
             "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-04T19:38:27Z\",\n  \"Type\" : \"AWS-HMAC\",\n"
             "  \"AccessKeyId\" : \"ASIAIMDS\",\n  \"SecretAccessKey\" : \"") +
         kImdsSecret + "\",\n  \"Token\" : \"" + kImdsToken + "\",\n  \"Expiration\" : \"2030-11-05T02:02:26Z\"\n}";
}

aws::HttpResponse Reply(int status, std::string body) {
  aws::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// IMDSv2 as EC2 serves it: session tokens from PUT, 401 for a GET without a
// current one. `revoke_after_first_get` imitates a token that expires mid-sequence.
class FakeImds {
 public:
  FakeImds() {
    auto server = net::HttpServer::Start({}, [this](const aws::HttpRequest& r, net::ResponseControl& control) {
      std::lock_guard<std::mutex> lock(mu);
      control.delay = delay;
      const std::string path = aws::ParseUrl(r.url)->path;
      if (path == "/latest/api/token") {
        if (r.method != "PUT") return Reply(405, "");
        const std::string* ttl = aws::FindHeader(r.headers, "x-aws-ec2-metadata-token-ttl-seconds");
        if (!ttl) return Reply(400, "");
        ttl_header = *ttl;
        ++tokens_issued;
        current_token = "imds-token-" + std::to_string(tokens_issued);
        return Reply(200, current_token);
      }
      const std::string* token = aws::FindHeader(r.headers, "x-aws-ec2-metadata-token");
      if (!token || *token != current_token || reject_every_get) return Reply(401, "");
      ++gets;
      if (revoke_after_first_get && gets == 1) {
        current_token = "revoked";
        return Reply(401, "");
      }
      if (path == "/latest/meta-data/iam/security-credentials/") return Reply(200, role_list);
      if (path == std::string("/latest/meta-data/iam/security-credentials/") + kRole) return Reply(200, document);
      return Reply(404, "");
    });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::string endpoint() const { return server_->endpoint(); }
  uint64_t requests() const { return server_->requests_served(); }

  std::mutex mu;
  std::string current_token;
  int tokens_issued = 0;
  int gets = 0;
  std::string ttl_header;
  bool revoke_after_first_get = false;
  bool reject_every_get = false;
  std::chrono::milliseconds delay{0};
  std::string role_list = std::string(kRole) + "\nsecond-line-ignored\n";
  std::string document = RoleDocument();

 private:
  std::unique_ptr<net::HttpServer> server_;
};

void ExpectCleanError(const Status& s) {
  EXPECT_NE(s.message().find("IMDS provider"), std::string::npos) << s.message();
  for (const char* secret : {kImdsSecret, kImdsToken}) EXPECT_EQ(s.message().find(secret), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("imds-token-"), std::string::npos) << s.message();
}

class ImdsProviderTest : public ::testing::Test {
 protected:
  Result<aws::Credentials> Fetch(EnvMap extra = {}) {
    extra.emplace("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.endpoint() + "/");
    ImdsCredentialsProvider provider(&transport_, {.env = std::move(extra)});
    return provider.GetCredentials();
  }
  aws::CurlTransport transport_;
  FakeImds imds_;
};

TEST_F(ImdsProviderTest, TokenThenRoleThenCredentials) {
  auto creds = Fetch();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIAIMDS");
  EXPECT_EQ(creds->secret_access_key.reveal(), kImdsSecret);
  EXPECT_EQ(creds->session_token.reveal(), kImdsToken);
  EXPECT_EQ(FormatIso8601(*creds->expiration), "2030-11-05T02:02:26Z");
  EXPECT_NE(creds->provider.find(kRole), std::string::npos);
  EXPECT_EQ(imds_.ttl_header, "21600");
  EXPECT_EQ(imds_.tokens_issued, 1);
  EXPECT_EQ(imds_.requests(), 3u);
}

TEST_F(ImdsProviderTest, A401RefetchesTheTokenOnce) {
  imds_.revoke_after_first_get = true;
  auto creds = Fetch();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(imds_.tokens_issued, 2);
}

TEST_F(ImdsProviderTest, ASecond401IsAnError) {
  imds_.reject_every_get = true;
  auto creds = Fetch();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("HTTP 401"), std::string::npos) << creds.status().message();
  ExpectCleanError(creds.status());
  EXPECT_EQ(imds_.tokens_issued, 2);  // the first token and one refetch, no loop
}

TEST_F(ImdsProviderTest, NoV1FallbackWhenTheTokenIsRefused) {
  auto server = net::HttpServer::Start({}, [](const aws::HttpRequest& r, net::ResponseControl&) {
    return Reply(r.method == "PUT" ? 403 : 200, "v1 answer");
  });
  ASSERT_TRUE(server.ok());
  ImdsCredentialsProvider provider(&transport_,
                                   {.env = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", (*server)->endpoint()}}});
  auto creds = provider.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("HTTP 403"), std::string::npos) << creds.status().message();
  EXPECT_EQ((*server)->requests_served(), 1u);
}

TEST_F(ImdsProviderTest, MalformedDocumentIsAnErrorWithoutTheSecret) {
  imds_.document =
      std::string("{\"Code\": \"Success\", \"AccessKeyId\": \"ASIA\", \"SecretAccessKey\": \"") + kImdsSecret + "\"";
  auto creds = Fetch();
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());

  imds_.document = std::string("{\"Code\": \"Success\", \"AccessKeyId\": \"ASIA\", \"SecretAccessKey\": \"") + kImdsSecret +
                   "\", \"Expiration\": \"2030-11-05T02:02:26Z\"}";  // no Token
  creds = Fetch();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("Token"), std::string::npos);
  ExpectCleanError(creds.status());
}

TEST_F(ImdsProviderTest, CodeOtherThanSuccessIsAnError) {
  imds_.document =
      "{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"Message\": \"EC2 cannot assume the role\", "
      "\"LastUpdated\": \"2026-11-04T19:38:27Z\"}";
  auto creds = Fetch();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("AssumeRoleUnauthorizedAccess"), std::string::npos)
      << creds.status().message();
  ExpectCleanError(creds.status());
}

TEST_F(ImdsProviderTest, NoRoleAttached) {
  imds_.role_list = "";
  auto creds = Fetch();
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
}

TEST_F(ImdsProviderTest, SlowEndpointFailsPromptlyAtTheTimeout) {
  imds_.delay = std::chrono::seconds(10);
  auto start = std::chrono::steady_clock::now();
  auto creds = Fetch({{"AWS_METADATA_SERVICE_TIMEOUT", "0.3"}, {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2"}});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_GE(took, std::chrono::milliseconds(500));  // two attempts of 0.3 s
}

TEST_F(ImdsProviderTest, DisabledMeansNoRequest) {
  auto creds = Fetch({{"AWS_EC2_METADATA_DISABLED", "TRUE"}});
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("disabled"), std::string::npos);
  EXPECT_EQ(imds_.requests(), 0u);
}

TEST(ImdsSettingsTest, DefaultsAndOverrides) {
  aws::CurlTransport transport;
  ImdsCredentialsProvider defaults(&transport, {});
  EXPECT_EQ(defaults.endpoint(), "http://169.254.169.254");
  EXPECT_EQ(defaults.timeout(), std::chrono::milliseconds(1000));
  EXPECT_EQ(defaults.attempts(), 1);
  ImdsCredentialsProvider v6(&transport, {.env = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"}}});
  EXPECT_EQ(v6.endpoint(), "http://[fd00:ec2::254]");
  ImdsCredentialsProvider config(&transport, {.env = {}, .config_endpoint = "http://127.0.0.1:9/"});
  EXPECT_EQ(config.endpoint(), "http://127.0.0.1:9");
  ImdsCredentialsProvider tuned(
      &transport, {.env = {{"AWS_METADATA_SERVICE_TIMEOUT", "2.5"}, {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "4"}}});
  EXPECT_EQ(tuned.timeout(), std::chrono::milliseconds(2500));
  EXPECT_EQ(tuned.attempts(), 4);
  ImdsCredentialsProvider bad(&transport, {.env = {{"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "zero"}}});
  auto creds = bad.GetCredentials();
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("AWS_METADATA_SERVICE_NUM_ATTEMPTS"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::credentials
