// SSM Parameter Store in the sandbox (aws-wire.md §5).
#include <gtest/gtest.h>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using nlohmann::json;
using testing::ErrorCode;
using testing::ErrorMessage;
using testing::JsonBody;
using testing::SandboxWorld;

constexpr char kPlaintext[] = "s3cr3t-value-that-must-not-leak";

class SsmTest : public ::testing::Test {
 protected:
  SandboxWorld world_;
  testing::TestClient admin_ = world_.AdminClient();

  json Call(const std::string& op, const json& body) {
    auto r = admin_.Ssm(op, body);
    EXPECT_EQ(r.status, 200) << op << ": " << r.body;
    return JsonBody(r);
  }
};

TEST_F(SsmTest, SecureStringNeverLeaksWithoutDecryption) {
  json put = Call("PutParameter", {{"Name", "/app/key"}, {"Value", kPlaintext}, {"Type", "SecureString"}});
  EXPECT_EQ(put, json({{"Version", 1}, {"Tier", "Standard"}}));

  auto encrypted = admin_.Ssm("GetParameter", {{"Name", "/app/key"}});
  ASSERT_EQ(encrypted.status, 200);
  EXPECT_EQ(encrypted.body.find(kPlaintext), std::string::npos);
  json p = JsonBody(encrypted)["Parameter"];
  std::string value = p["Value"];
  EXPECT_NE(value, kPlaintext);
  EXPECT_GT(value.size(), 40u);
  EXPECT_EQ(value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
            std::string::npos);
  EXPECT_EQ(
      JsonBody(admin_.Ssm("GetParameter", {{"Name", "/app/key"}, {"WithDecryption", false}}))["Parameter"]["Value"],
      value);

  json decrypted = Call("GetParameter", {{"Name", "/app/key"}, {"WithDecryption", true}})["Parameter"];
  EXPECT_EQ(decrypted["Value"], kPlaintext);
  EXPECT_EQ(decrypted["Type"], "SecureString");
  EXPECT_EQ(decrypted["Version"], 1);
  EXPECT_EQ(decrypted["ARN"], "arn:aws:ssm:us-east-1:123456789012:parameter/app/key");  // no doubled slash
  EXPECT_EQ(decrypted["DataType"], "text");
  EXPECT_TRUE(decrypted["LastModifiedDate"].is_number());
  EXPECT_EQ(world_.sandbox->ParameterValue("/app/key")->reveal(), kPlaintext);
}

TEST_F(SsmTest, OverwriteIncrementsTheVersion) {
  Call("PutParameter", {{"Name", "plain"}, {"Value", "v1"}, {"Type", "String"}});
  auto again = admin_.Ssm("PutParameter", {{"Name", "plain"}, {"Value", "v2"}, {"Type", "String"}});
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(ErrorCode(again), "ParameterAlreadyExists");
  EXPECT_EQ(ErrorMessage(again),
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
  EXPECT_EQ(Call("PutParameter", {{"Name", "plain"}, {"Value", "v2"}, {"Overwrite", true}})["Version"], 2);
  json p = Call("GetParameter", {{"Name", "plain"}})["Parameter"];
  EXPECT_EQ(p["Value"], "v2");  // String values need no decryption
  EXPECT_EQ(p["Type"], "String");
  EXPECT_EQ(p["ARN"], "arn:aws:ssm:us-east-1:123456789012:parameter/plain");
  json v1 = Call("GetParameter", {{"Name", "plain:1"}})["Parameter"];
  EXPECT_EQ(v1["Value"], "v1");
  EXPECT_EQ(v1["Selector"], ":1");
  EXPECT_EQ(ErrorCode(admin_.Ssm("GetParameter", {{"Name", "plain:7"}})), "ParameterVersionNotFound");
}

TEST_F(SsmTest, ArnsFollowTheSignedRegionAndNameParameters) {
  Call("PutParameter", {{"Name", "/app/key"}, {"Value", "v"}, {"Type", "String"}});
  Call("PutParameter", {{"Name", "plain"}, {"Value", "p"}, {"Type", "String"}});
  admin_.region = "eu-west-1";
  json p = Call("GetParameter", {{"Name", "arn:aws:ssm:eu-west-1:123456789012:parameter/app/key"}})["Parameter"];
  EXPECT_EQ(p["Name"], "/app/key");
  EXPECT_EQ(p["ARN"], "arn:aws:ssm:eu-west-1:123456789012:parameter/app/key");
  EXPECT_EQ(
      Call("GetParameter", {{"Name", "arn:aws:ssm:eu-west-1:123456789012:parameter/plain"}})["Parameter"]["Value"],
      "p");
  EXPECT_EQ(
      Call("GetParameter", {{"Name", "arn:aws:ssm:eu-west-1:123456789012:parameter/app/key:1"}})["Parameter"]["Value"],
      "v");
}

TEST_F(SsmTest, Errors) {
  auto missing = admin_.Ssm("GetParameter", {{"Name", "/app/missing"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(ErrorCode(missing), "ParameterNotFound");
  EXPECT_EQ(ErrorMessage(missing), "Parameter /app/missing not found.");
  EXPECT_EQ(ErrorCode(admin_.Ssm("PutParameter", {{"Name", "/x"}, {"Value", "v"}})), "ValidationException");
  EXPECT_EQ(ErrorCode(admin_.Ssm("PutParameter", {{"Name", "/x"}, {"Value", "v"}, {"Type", "Blob"}})),
            "ValidationException");
  EXPECT_EQ(ErrorCode(admin_.Ssm("PutParameter", {{"Name", "/x"}, {"Value", "v"}, {"Type", "String"}, {"KeyId", "k"}})),
            "ValidationException");
  EXPECT_EQ(
      ErrorCode(admin_.Ssm("PutParameter", {{"Name", "/x"}, {"Value", std::string(4097, 'a')}, {"Type", "String"}})),
      "ValidationException");
  EXPECT_EQ(ErrorCode(admin_.Ssm("PutParameter", {{"Name", "/x"}, {"Value", 5}, {"Type", "String"}})),
            "SerializationException");
  EXPECT_EQ(ErrorCode(admin_.Ssm("DeleteEverything")), "UnknownOperationException");

  auto key = world_.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(ErrorCode(world_.Client(*key).Ssm("GetParameter", {{"Name", "/app/key"}})), "AccessDeniedException");
}

}  // namespace
}  // namespace keyrotor::sandbox
