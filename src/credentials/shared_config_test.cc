#include "credentials/shared_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/file_util.h"
#include "support/process.h"

namespace keyrotor::credentials {
namespace {

class SharedConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = keyrotor::testing::MakeTempDir("keyrotor-config");
    env_ = {{"HOME", dir_}, {"AWS_CONFIG_FILE", dir_ + "/config"}, {"AWS_SHARED_CREDENTIALS_FILE", dir_ + "/creds"}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(AtomicWriteFile(dir_ + "/" + name, text, {}).ok());
  }
  Result<Settings> Resolve(Overrides o = {}) {
    auto files = SharedFiles::Load(env_);
    if (!files.ok()) return files.status();
    return ResolveSettings(env_, *files, o);
  }
  std::string dir_;
  EnvMap env_;
};

TEST_F(SharedConfigTest, MissingFilesAreFine) {
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->profile, "default");
  EXPECT_EQ(s->region, "");
  EXPECT_EQ(s->retry.max_attempts, 3);
}

TEST_F(SharedConfigTest, DefaultPathsUseHome) {
  EnvMap env{{"HOME", "/home/u"}};
  EXPECT_EQ(ConfigFilePath(env), "/home/u/.aws/config");
  EXPECT_EQ(CredentialsFilePath(env), "/home/u/.aws/credentials");
  env["AWS_SHARED_CREDENTIALS_FILE"] = "~/other";
  EXPECT_EQ(CredentialsFilePath(env), "/home/u/other");
}

TEST_F(SharedConfigTest, RegionPrecedence) {
  Write("config", "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\nmax_attempts = 7\n");
  EXPECT_EQ(Resolve()->region, "eu-west-1");
  env_["AWS_PROFILE"] = "dev";
  auto dev = Resolve();
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_EQ(dev->region, "ap-south-1");
  EXPECT_EQ(dev->retry.max_attempts, 7);
  EXPECT_NE(dev->region_source.find("config:4"), std::string::npos) << dev->region_source;
  env_["AWS_DEFAULT_REGION"] = "us-west-1";
  EXPECT_EQ(Resolve()->region, "us-west-1");
  env_["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(Resolve()->region, "us-west-2");
  EXPECT_EQ(Resolve({"", "ca-central-1", ""})->region, "ca-central-1");
  env_["AWS_MAX_ATTEMPTS"] = "5";
  EXPECT_EQ(Resolve()->retry.max_attempts, 5);
  env_["AWS_MAX_ATTEMPTS"] = "zero";
  EXPECT_EQ(Resolve().status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SharedConfigTest, EndpointsFromProfileAndServicesSection) {
  Write("config",
        "[default]\nendpoint_url = http://127.0.0.1:4566\nservices = local\n"
        "[services local]\niam =\n  endpoint_url = http://127.0.0.1:5000\n"
        "secrets_manager =\n  endpoint_url = http://127.0.0.1:5001\n");
  auto s = Resolve();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->endpoints.profile_endpoint_url, "http://127.0.0.1:4566");
  EXPECT_EQ(s->endpoints.services_urls.at("iam"), "http://127.0.0.1:5000");
  EXPECT_EQ(s->endpoints.services_urls.at("secrets_manager"), "http://127.0.0.1:5001");
  auto iam = aws::ResolveEndpoint(aws::Service::kIam, "us-east-1", s->endpoints, env_);
  EXPECT_EQ(iam->url, "http://127.0.0.1:5000/");
  auto sts = aws::ResolveEndpoint(aws::Service::kSts, "us-east-1", s->endpoints, env_);
  EXPECT_EQ(sts->url, "http://127.0.0.1:4566/");
}

TEST_F(SharedConfigTest, ErrorsNameTheProfileAndPlace) {
  auto missing = Resolve({"nope", "", ""});
  EXPECT_TRUE(missing.status().IsNotFound());
  Write("config", "[default]\nregion = x\nregion = y\n");
  auto dup = Resolve();
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().ToString().find(dir_ + "/config:3"), std::string::npos) << dup.status().ToString();
}

}  // namespace
}  // namespace keyrotor::credentials
