#include "destinations/destination.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor::destinations {
namespace {

constexpr char kDestinationSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

KeyHandoff Key() {
  KeyHandoff key;
  key.rotation_id = "rot-1";
  key.account = "123456789012";
  key.user = "alice";
  key.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  key.secret_access_key = Secret(kDestinationSecret);
  key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
  return key;
}

aws::ClientFactory NoAws() { return testing::SandboxClients("http://127.0.0.1:9", nullptr); }

Result<std::unique_ptr<Destination>> Make(std::string_view spec, DestinationOptions options = {}) {
  return MakeDestination(spec, NoAws(), options);
}

TEST(DestinationSpecTest, ParsesEveryKind) {
  for (const char* spec :
       {"credentials-file:/home/u/.aws/credentials#dev", "credentials-file:/tmp/a#b/credentials#dev",
        "secretsmanager:app/key", "secretsmanager:app/key?kms_key_id=alias%2Fmine",
        "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:app/key-AbCdEf", "ssm:/app/key",
        "ssm:plain", "ssm:/app/key?kms_key_id=alias/x", "vault:/var/lib/keyrotor/vault", "vault:/tmp/v#ci"}) {
    auto d = Make(spec);
    ASSERT_TRUE(d.ok()) << spec << ": " << d.status().ToString();
    EXPECT_EQ((*d)->Describe(), spec);
  }
}

TEST(DestinationSpecTest, RefusesMalformedSpecsNamingThem) {
  for (const char* spec : {"",
                           "nokind",
                           "ftp:/x",
                           "credentials-file:/tmp/creds",
                           "credentials-file:/tmp/creds#",
                           "credentials-file:#dev",
                           "credentials-file:/c#[dev]",
                           "secretsmanager:",
                           "secretsmanager:bad name",
                           "secretsmanager:app?kms=x",
                           "secretsmanager:app?kms_key_id=",
                           "ssm:",
                           "ssm:app/key",
                           "ssm:/aws/key",
                           "ssm:ssm-thing",
                           "ssm:/app//key",
                           "ssm:/app/k*y",
                           "vault:",
                           "vault:#entry",
                           "vault:/tmp/v#"}) {
    auto d = Make(spec);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(d.status().message().find("'" + std::string(spec) + "'"), std::string::npos) << d.status().ToString();
  }
}

TEST(DestinationSpecTest, ExecSplitsTheProgramWithoutAShell) {
  auto d = Make("exec:/bin/cat --flag 'two words'");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->Describe(), "exec:/bin/cat --flag 'two words'");
  EXPECT_EQ(Make("exec:").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Make("exec:/bin/x 'unterminated").status().code(), StatusCode::kInvalidArgument);
}

// A program that cannot run could neither take a key nor put the old one
// back: refused when the spec is parsed, naming the spec.
TEST(DestinationSpecTest, ExecRefusesAProgramThatDoesNotExistOrIsNotExecutable) {
  std::string dir = testing::MakeTempDir("keyrotor-exec-spec");
  std::string plain = dir + "/not-executable.sh";
  ASSERT_TRUE(AtomicWriteFile(plain, "#!/bin/sh\nexit 0\n", {0600, false}).ok());
  DestinationOptions options;
  options.exec_env = {{"PATH", dir + ":/usr/bin:/bin"}};
  for (std::string spec : {"exec:" + dir + "/missing", "exec:" + plain, "exec:" + dir + " --flag",
                           std::string("exec:keyrotor-no-such-program")}) {
    auto d = Make(spec, options);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(d.status().message().find("'" + spec + "'"), std::string::npos) << d.status().ToString();
  }
  // On the PATH the child gets, not ours.
  EXPECT_TRUE(Make("exec:cat", options).ok());
  options.exec_env = {{"PATH", dir}};
  EXPECT_FALSE(Make("exec:cat", options).ok());
  std::filesystem::remove_all(dir);
}

TEST(RenderValueDestinationTest, DefaultIsTheClassicFormat) {
  auto v = RenderValue("", Key());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->reveal(), std::string("{\"AccessKey\":\"AKIAIOSFODNN7EXAMPLE\",\"SecretKey\":\"") + kDestinationSecret + "\"}");
}

TEST(RenderValueDestinationTest, TemplateReplacesEveryPlaceholderEscaped) {
  KeyHandoff key = Key();
  key.user = "we\"ird\\user";
  auto v = RenderValue(
      R"({"id":"{{access_key_id}}","secret":"{{ secret_access_key }}","user":"{{user}}","acct":"{{account}}",)"
      R"("at":"{{created}}"})",
      key);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto doc = nlohmann::json::parse(v->reveal());
  EXPECT_EQ(doc["id"], "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(doc["secret"], kDestinationSecret);
  EXPECT_EQ(doc["user"], "we\"ird\\user");
  EXPECT_EQ(doc["acct"], "123456789012");
  EXPECT_EQ(doc["at"], "2026-11-25T01:02:03Z");
}

TEST(RenderValueDestinationTest, BadTemplatesAreRefusedWithoutTheSecret) {
  for (const char* tmpl : {R"({"s": {{secret_access_key}} })", R"({"s":"{{secret_access_key}}")",
                           R"({"s":"{{secret_access_key}}","x":"{{nope}}"})", R"({"id":"{{access_key_id}}"})",
                           R"({"s":"{{secret_access_key}")"}) {
    auto v = RenderValue(tmpl, Key());
    ASSERT_FALSE(v.ok()) << tmpl;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(v.status().ToString().find(kDestinationSecret), std::string::npos) << v.status().ToString();
  }
}

}  // namespace
}  // namespace keyrotor::destinations
