#include "credentials/container_provider.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "aws/curl_transport.h"
#include "net/http_server.h"

namespace keyrotor::credentials {
namespace {

constexpr char kContainerSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCONTAINER";
constexpr char kContainerToken[] = "IQoJb3JpZ2luX2VjEContainerToken";
constexpr char kAuth[] = "Bearer-auth-token-value";

const TimePoint kContainerStart = TimePoint() + std::chrono::hours(24 * 365 * 50);

std::string CredentialsJson() {
  return std::string("{\"AccessKeyId\": \"ASIACONTAINER\", \"SecretAccessKey\": \"") + kContainerSecret + "\", \"Token\": \"" +
         kContainerToken + "\", \"Expiration\": \"2030-01-02T03:04:05Z\", \"RoleArn\": \"arn:aws:iam::123456789012:role/task\"}";
}

// Records what each request carried; answers with a queue of statuses then `body`.
class FakeContainerEndpoint {
 public:
  FakeContainerEndpoint() {
    auto server = net::HttpServer::Start({}, [this](const aws::HttpRequest& r, net::ResponseControl&) {
      std::lock_guard<std::mutex> lock(mu);
      ++requests;
      path = aws::ParseUrl(r.url)->path;
      const std::string* a = aws::FindHeader(r.headers, "authorization");
      authorization = a ? *a : "";
      const std::string* accept = aws::FindHeader(r.headers, "accept");
      accept_header = accept ? *accept : "";
      aws::HttpResponse response;
      response.status = 200;
      if (!statuses.empty()) {
        response.status = statuses.front();
        statuses.erase(statuses.begin());
      }
      response.body = response.status == 200 ? body : "{\"error\":\"nope\"}";
      return response;
    });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::string endpoint() const { return server_->endpoint(); }

  std::mutex mu;
  int requests = 0;
  std::string path, authorization, accept_header;
  std::vector<int> statuses;
  std::string body = CredentialsJson();

 private:
  std::unique_ptr<net::HttpServer> server_;
};

// Fails the test if anything is sent.
class NoRequestsTransport : public aws::HttpTransport {
 public:
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions&) override {
    ++sent;
    ADD_FAILURE() << "unexpected request to " << request.url;
    return Status::NetworkError("no");
  }
  std::atomic<int> sent{0};
};

void ExpectCleanError(const Status& s) {
  EXPECT_NE(s.message().find("container credentials provider"), std::string::npos) << s.message();
  for (const char* secret : {kContainerSecret, kContainerToken, kAuth}) {
    EXPECT_EQ(s.message().find(secret), std::string::npos) << s.message();
  }
}

class ContainerProviderTest : public ::testing::Test {
 protected:
  Result<aws::Credentials> Fetch(EnvMap env, aws::HttpTransport* transport = nullptr) {
    ContainerCredentialsProvider provider(
        transport ? transport : &transport_,
        {.env = std::move(env), .relative_uri_base = fake_.endpoint(), .clock = &clock_});
    return provider.GetCredentials();
  }
  std::string WriteTokenFile(const std::string& contents) {
    char path[] = "/tmp/keyrotor-container-token-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(fd);
    token_files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& f : token_files_) unlink(f.c_str());
  }

  FakeClock clock_{kContainerStart};
  aws::CurlTransport transport_;
  FakeContainerEndpoint fake_;
  std::vector<std::string> token_files_;
};

TEST_F(ContainerProviderTest, RelativeUriGoesToTheContainerEndpoint) {
  auto creds = Fetch({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kAuth}});
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIACONTAINER");
  EXPECT_EQ(creds->secret_access_key.reveal(), kContainerSecret);
  EXPECT_EQ(creds->session_token.reveal(), kContainerToken);
  EXPECT_EQ(FormatIso8601(*creds->expiration), "2030-01-02T03:04:05Z");
  EXPECT_EQ(fake_.path, "/v2/credentials/abc-123");
  EXPECT_EQ(fake_.authorization, kAuth);
  EXPECT_EQ(fake_.accept_header, "application/json");
}

TEST_F(ContainerProviderTest, FullUriOnLoopbackWithTokenFileWinningOverTheVariable) {
  std::string file = WriteTokenFile(std::string(kAuth) + "\n");
  auto creds = Fetch({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.endpoint() + "/get-credentials?x=1"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-the-variable"}});
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(fake_.path, "/get-credentials");
  EXPECT_EQ(fake_.authorization, kAuth);

  // The file is read on each call (Pod Identity rotates it).
  std::ofstream(file, std::ios::trunc) << "rotated-token";
  ContainerCredentialsProvider provider(&transport_,
                                        {.env = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.endpoint() + "/c"},
                                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file}}});
  ASSERT_TRUE(provider.GetCredentials().ok());
  EXPECT_EQ(fake_.authorization, "rotated-token");
}

TEST(ContainerUrlTest, OnlyHttpsLoopbackAndContainerHostsAreAllowed) {
  for (const char* ok :
       {"https://creds.example.com/x", "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x",
        "http://169.254.170.2/v2", "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1"}) {
    EXPECT_TRUE(CheckContainerUrlAllowed(ok).ok()) << ok;
  }
  for (const char* bad : {"http://169.254.169.254/latest/meta-data/", "http://example.com/creds", "http://10.0.0.1/",
                          "ftp://127.0.0.1/", "http://169.254.170.2.evil.com/"}) {
    EXPECT_FALSE(CheckContainerUrlAllowed(bad).ok()) << bad;
  }
}

TEST_F(ContainerProviderTest, ForbiddenHostIsRefusedBeforeAnyRequest) {
  NoRequestsTransport none;
  auto creds = Fetch({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.169.254/latest/meta-data/iam/"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kAuth}},
                     &none);
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("not allowed"), std::string::npos);
  ExpectCleanError(creds.status());
  EXPECT_EQ(none.sent, 0);
}

TEST_F(ContainerProviderTest, TokenWithCrOrLfIsRefusedBeforeAnyRequest) {
  NoRequestsTransport none;
  auto creds = Fetch({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", std::string(kAuth) + "\r\nX-Injected: 1"}},
                     &none);
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
  std::string file = WriteTokenFile(std::string(kAuth) + "\nX-Injected: 1");
  creds = Fetch({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file}},
                &none);
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
  EXPECT_EQ(none.sent, 0);
}

TEST_F(ContainerProviderTest, NotConfiguredOrMissingTokenFile) {
  EXPECT_FALSE(ContainerCredentialsProvider::IsConfigured({}));
  auto creds = Fetch({});
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
  creds = Fetch({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"},
                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token"}});
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
  EXPECT_EQ(fake_.requests, 0);
}

TEST_F(ContainerProviderTest, MalformedResponsesFailWithoutQuotingThem) {
  const EnvMap env{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"}};
  for (std::string body : {std::string("{\"AccessKeyId\": \"ASIA\", \"SecretAccessKey\": \"") + kContainerSecret + "\", ",
                           std::string("{\"AccessKeyId\": \"ASIA\", \"SecretAccessKey\": \"") + kContainerSecret + "\"}",
                           std::string("[\"") + kContainerSecret + "\"]",
                           std::string("{\"AccessKeyId\": 7, \"SecretAccessKey\": \"") + kContainerSecret + "\", \"Token\": \"" +
                               kContainerToken + "\", \"Expiration\": \"2030-01-02T03:04:05Z\"}"}) {
    fake_.body = body;
    auto creds = Fetch(env);
    ASSERT_FALSE(creds.ok()) << body;
    ExpectCleanError(creds.status());
  }
}

TEST_F(ContainerProviderTest, ServerErrorsAreRetriedThreeTimesOneSecondApart) {
  const EnvMap env{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"}};
  fake_.statuses = {500, 503};
  auto creds = Fetch(env);
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(fake_.requests, 3);
  EXPECT_EQ(clock_.Now() - kContainerStart, std::chrono::seconds(2));

  fake_.requests = 0;
  fake_.statuses = {500, 500, 500};
  creds = Fetch(env);
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("HTTP 500"), std::string::npos);
  EXPECT_EQ(fake_.requests, 3);

  fake_.requests = 0;
  fake_.statuses = {403};
  creds = Fetch(env);
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
  EXPECT_EQ(fake_.requests, 1);  // a refused token will not improve
}

}  // namespace
}  // namespace keyrotor::credentials
