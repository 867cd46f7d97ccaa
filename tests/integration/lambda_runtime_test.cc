// `keyrotor lambda` (and the packaged `bootstrap`) against a fake Lambda
// Runtime API on loopback, with the sandbox as AWS.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "net/http_server.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

// Hands out queued events on /next and records what the runtime posts back.
class FakeRuntimeApi {
 public:
  FakeRuntimeApi() {
    auto server = net::HttpServer::Start({}, [this](const aws::HttpRequest& r, net::ResponseControl&) {
      return Handle(r);
    });
    EXPECT_TRUE(server.ok());
    server_ = std::move(server).value();
  }
  void Queue(std::string id, std::string event) { events_.emplace_back(std::move(id), std::move(event)); }
  std::string api() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  struct Posted {
    std::string path;
    std::string body;
    std::string error_type_header;
  };
  std::vector<Posted> posted() {
    std::lock_guard<std::mutex> lock(mu_);
    return posted_;
  }

 private:
  aws::HttpResponse Handle(const aws::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    aws::HttpResponse response;
    // The server hands over the absolute URL; keep the path.
    size_t host_end = r.url.find("://") == std::string::npos ? 0 : r.url.find('/', r.url.find("://") + 3);
    const std::string path = r.url.substr(host_end == std::string::npos ? r.url.size() : host_end);
    if (r.method == "GET" && path.find("/2018-06-01/runtime/invocation/next") != std::string::npos) {
      if (events_.empty()) {
        response.status = 500;  // the test is over
        return response;
      }
      auto [id, body] = events_.front();
      events_.pop_front();
      response.status = 200;
      response.headers = {{"Lambda-Runtime-Aws-Request-Id", id},
                          {"Lambda-Runtime-Deadline-Ms", "4102444800000"},
                          {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:kr"}};
      response.body = body;
      return response;
    }
    const std::string* type = aws::FindHeader(r.headers, "Lambda-Runtime-Function-Error-Type");
    posted_.push_back({path, r.body, type ? *type : ""});
    response.status = 202;
    return response;
  }

  std::mutex mu_;
  std::deque<std::pair<std::string, std::string>> events_;
  std::vector<Posted> posted_;
  std::unique_ptr<net::HttpServer> server_;
};

class LambdaRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start({});
    ASSERT_TRUE(server.ok());
    sandbox_ = std::move(server).value();
    admin_ = sandbox_->sandbox().CreateAdmin("lambda-role");
    dir_ = testing::MakeTempDir("keyrotor-lambda");
  }
  void TearDown() override {
    sandbox_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // The function's environment, as Lambda sets it (credentials of the
  // execution role in the environment).
  std::map<std::string, std::string> Env(const FakeRuntimeApi& api) {
    return {{"AWS_LAMBDA_RUNTIME_API", api.api()},
            {"AWS_ACCESS_KEY_ID", admin_.access_key_id},
            {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
            {"AWS_REGION", "us-east-1"},
            {"AWS_ENDPOINT_URL", sandbox_->endpoint()},
            {"KEYROTOR_STATE", dir_ + "/journal.db"},
            {"HOME", dir_}};
  }

  std::unique_ptr<sandbox::SandboxServer> sandbox_;
  sandbox::Sandbox::IssuedKey admin_;
  std::string dir_;
};

TEST_F(LambdaRuntimeTest, ServesClassicEventsAndReportsBadOnesAsErrors) {
  auto old_key = sandbox_->sandbox().CreateUserWithKey("app", Clock::Real()->Now() - std::chrono::hours(24 * 100));
  ASSERT_TRUE(old_key.ok());
  // The secret holds the current key, as in the classic flow.
  aws::CurlTransport transport;
  auto admin = testing::SandboxClients(sandbox_->endpoint(), &transport, admin_.access_key_id, admin_.secret);
  nlohmann::json seed = {{"AccessKey", old_key->access_key_id}, {"SecretKey", old_key->secret.reveal()}};
  ASSERT_TRUE(admin.SecretsManager()->CreateSecret("app", Secret(seed.dump()), RandomUuid()).ok());
  FakeRuntimeApi api;
  api.Queue("req-1", R"({"action": "create", "username": "app"})");
  api.Queue("req-2", R"({"action": "explode"})");
  api.Queue("req-3", R"({"action": "deactivate", "username": "app"})");
  auto env = Env(api);
  env["KEYROTOR_SNS_TOPIC"] = "";
  testing::ProcessResult r =
      testing::RunProcess({testing::KeyrotorBinary(), "lambda", "--max-invocations", "3"}, env, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 3u);
  EXPECT_EQ(posted[0].path, "/2018-06-01/runtime/invocation/req-1/response");
  auto created = nlohmann::json::parse(posted[0].body);
  EXPECT_EQ(created["result"], "progressed");
  std::string new_key = created["new_access_key_id"];
  auto held = sandbox_->sandbox().SecretValue("app");
  ASSERT_TRUE(held);
  EXPECT_NE(held->reveal().find(new_key), std::string::npos);

  EXPECT_EQ(posted[1].path, "/2018-06-01/runtime/invocation/req-2/error");
  EXPECT_EQ(posted[1].error_type_header, "Unhandled");
  EXPECT_EQ(nlohmann::json::parse(posted[1].body)["errorType"], "keyrotor.InvalidEvent");

  EXPECT_EQ(posted[2].path, "/2018-06-01/runtime/invocation/req-3/response");
  EXPECT_FALSE(sandbox_->sandbox().GetKey(old_key->access_key_id)->active);

  for (const std::string& secret : {admin_.secret.reveal(), old_key->secret.reveal()}) {
    EXPECT_EQ((r.out + r.err).find(secret), std::string::npos);
    for (const auto& p : posted) EXPECT_EQ(p.body.find(secret), std::string::npos);
  }
}

TEST_F(LambdaRuntimeTest, SetUpFailureGoesToInitError) {
  FakeRuntimeApi api;
  auto env = Env(api);
  env["KEYROTOR_STATE"] = "/proc/no/such/dir/journal.db";
  testing::ProcessResult r = testing::RunProcess({testing::KeyrotorBinary(), "lambda"}, env, 60);
  EXPECT_NE(r.exit_code, 0);
  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].path, "/2018-06-01/runtime/init/error");
}

// The deployment package holds an executable `bootstrap` that is keyrotor
// and, run by that name without arguments, is the runtime.
TEST_F(LambdaRuntimeTest, PackageHoldsAnExecutableBootstrap) {
  testing::ProcessResult listing = testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import sys, zipfile\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "for i in z.infolist(): print(i.filename, oct((i.external_attr >> 16) & 0o777))\n",
       KEYROTOR_LAMBDA_ZIP},
      {});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_NE(listing.out.find("bootstrap 0o7"), std::string::npos) << listing.out;

  std::string unpacked = dir_ + "/task";
  std::filesystem::create_directories(unpacked);
  testing::ProcessResult unzip = testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import os, sys, zipfile\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "for i in z.infolist():\n"
       "  p = z.extract(i, sys.argv[2]); os.chmod(p, (i.external_attr >> 16) & 0o777)\n",
       KEYROTOR_LAMBDA_ZIP, unpacked},
      {});
  ASSERT_EQ(unzip.exit_code, 0) << unzip.err;
  FakeRuntimeApi api;
  api.Queue("req-9", R"({"action": "delete", "username": "nobody-here"})");
  testing::ProcessResult r = testing::RunProcess({unpacked + "/bootstrap"}, Env(api), 60);
  // The queue ran dry, so the runtime API answered 500 and the loop ended.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_NE(posted[0].path.find("req-9"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor
