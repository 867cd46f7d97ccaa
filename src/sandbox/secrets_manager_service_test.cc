// Secrets Manager in the sandbox: the staging-label rules and token
// idempotency of aws-wire.md §4.
#include <gtest/gtest.h>

#include <regex>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using nlohmann::json;
using testing::ErrorCode;
using testing::ErrorMessage;
using testing::JsonBody;
using testing::SandboxWorld;

constexpr char kV1[] = "11111111-1111-4111-8111-111111111111";
constexpr char kV2[] = "22222222-2222-4222-8222-222222222222";
constexpr char kV3[] = "33333333-3333-4333-8333-333333333333";

class SecretsManagerTest : public ::testing::Test {
 protected:
  SandboxWorld world_;
  testing::TestClient admin_ = world_.AdminClient();

  json Call(const std::string& op, const json& body) {
    auto r = admin_.SecretsManager(op, body);
    EXPECT_EQ(r.status, 200) << op << ": " << r.body;
    return JsonBody(r);
  }
  void Create() {
    Call("CreateSecret",
         {{"Name", "app/db"}, {"SecretString", "p1"}, {"ClientRequestToken", kV1}, {"Description", "db creds"}});
  }
  json Stages() { return Call("DescribeSecret", {{"SecretId", "app/db"}})["VersionIdsToStages"]; }
};

TEST_F(SecretsManagerTest, CreateAndGetTheCurrentValue) {
  auto r =
      admin_.SecretsManager("CreateSecret", {{"Name", "app/db"}, {"SecretString", "p1"}, {"ClientRequestToken", kV1}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(*aws::FindHeader(r.headers, "content-type"), "application/x-amz-json-1.1");
  EXPECT_NE(aws::FindHeader(r.headers, "x-amzn-RequestId"), nullptr);
  json created = JsonBody(r);
  EXPECT_TRUE(
      std::regex_match(created["ARN"].get<std::string>(),
                       std::regex("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-[A-Za-z0-9]{6}")));
  EXPECT_EQ(created["VersionId"], kV1);

  json value = Call("GetSecretValue", {{"SecretId", "app/db"}});
  EXPECT_EQ(value["SecretString"], "p1");
  EXPECT_EQ(value["VersionId"], kV1);
  EXPECT_EQ(value["VersionStages"], json({"AWSCURRENT"}));
  EXPECT_EQ(value["CreatedDate"], 1772366400.0);
  // By full ARN too.
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", created["ARN"]}})["SecretString"], "p1");
  EXPECT_EQ(world_.sandbox->SecretValue("app/db")->reveal(), "p1");
}

TEST_F(SecretsManagerTest, PutSecretValueMovesCurrentAndPrevious) {
  Create();
  json put = Call("PutSecretValue", {{"SecretId", "app/db"}, {"SecretString", "p2"}, {"ClientRequestToken", kV2}});
  EXPECT_EQ(put["VersionStages"], json({"AWSCURRENT"}));
  EXPECT_EQ(Stages(), json({{kV1, {"AWSPREVIOUS"}}, {kV2, {"AWSCURRENT"}}}));
  Call("PutSecretValue", {{"SecretId", "app/db"}, {"SecretString", "p3"}, {"ClientRequestToken", kV3}});
  // kV1 lost its last label: deprecated, no longer listed.
  EXPECT_EQ(Stages(), json({{kV2, {"AWSPREVIOUS"}}, {kV3, {"AWSCURRENT"}}}));
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", "app/db"}, {"VersionStage", "AWSPREVIOUS"}})["SecretString"], "p2");
  // Deprecated versions stay readable by id.
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", "app/db"}, {"VersionId", kV1}})["SecretString"], "p1");
  json versions = Call("ListSecretVersionIds", {{"SecretId", "app/db"}, {"IncludeDeprecated", true}})["Versions"];
  EXPECT_EQ(versions.size(), 3u);
}

TEST_F(SecretsManagerTest, RotationWithPendingAndUpdateSecretVersionStage) {
  Create();
  json pending = Call(
      "PutSecretValue",
      {{"SecretId", "app/db"}, {"SecretString", "p2"}, {"ClientRequestToken", kV2}, {"VersionStages", {"AWSPENDING"}}});
  EXPECT_EQ(pending["VersionStages"], json({"AWSPENDING"}));
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", "app/db"}})["SecretString"], "p1");
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", "app/db"}, {"VersionStage", "AWSPENDING"}})["SecretString"], "p2");

  // Moving AWSCURRENT must name the version it leaves.
  auto refused = admin_.SecretsManager(
      "UpdateSecretVersionStage", {{"SecretId", "app/db"}, {"VersionStage", "AWSCURRENT"}, {"MoveToVersionId", kV2}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(ErrorCode(refused), "InvalidParameterException");
  EXPECT_EQ(ErrorMessage(refused),
            "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to "
            "version 11111111-1111-4111-8111-111111111111, so you must explicitly reference that version in "
            "RemoveFromVersionId.");
  json moved = Call(
      "UpdateSecretVersionStage",
      {{"SecretId", "app/db"}, {"VersionStage", "AWSCURRENT"}, {"MoveToVersionId", kV2}, {"RemoveFromVersionId", kV1}});
  EXPECT_EQ(moved["Name"], "app/db");
  EXPECT_EQ(Stages(), json({{kV1, {"AWSPREVIOUS"}}, {kV2, {"AWSPENDING", "AWSCURRENT"}}}));
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", "app/db"}})["SecretString"], "p2");

  // Then drop AWSPENDING; AWSCURRENT cannot be removed outright.
  Call("UpdateSecretVersionStage",
       {{"SecretId", "app/db"}, {"VersionStage", "AWSPENDING"}, {"RemoveFromVersionId", kV2}});
  EXPECT_EQ(Stages(), json({{kV1, {"AWSPREVIOUS"}}, {kV2, {"AWSCURRENT"}}}));
  EXPECT_EQ(ErrorCode(admin_.SecretsManager(
                "UpdateSecretVersionStage",
                {{"SecretId", "app/db"}, {"VersionStage", "AWSCURRENT"}, {"RemoveFromVersionId", kV2}})),
            "InvalidParameterException");
  // RemoveFromVersionId must be where the label is.
  EXPECT_EQ(ErrorCode(admin_.SecretsManager(
                "UpdateSecretVersionStage",
                {{"SecretId", "app/db"}, {"VersionStage", "AWSPREVIOUS"}, {"RemoveFromVersionId", kV2}})),
            "InvalidParameterException");
  // Moving AWSCURRENT back onto AWSPREVIOUS's version swaps them.
  Call(
      "UpdateSecretVersionStage",
      {{"SecretId", "app/db"}, {"VersionStage", "AWSCURRENT"}, {"MoveToVersionId", kV1}, {"RemoveFromVersionId", kV2}});
  EXPECT_EQ(Stages(), json({{kV1, {"AWSCURRENT"}}, {kV2, {"AWSPREVIOUS"}}}));
}

TEST_F(SecretsManagerTest, ClientRequestTokenIdempotency) {
  Create();
  json first = Call("PutSecretValue", {{"SecretId", "app/db"}, {"SecretString", "p2"}, {"ClientRequestToken", kV2}});
  json retry = Call("PutSecretValue", {{"SecretId", "app/db"}, {"SecretString", "p2"}, {"ClientRequestToken", kV2}});
  EXPECT_EQ(retry["VersionId"], kV2);
  EXPECT_EQ(Stages(), json({{kV1, {"AWSPREVIOUS"}}, {kV2, {"AWSCURRENT"}}}));  // the retry moved nothing
  auto conflict = admin_.SecretsManager(
      "PutSecretValue", {{"SecretId", "app/db"}, {"SecretString", "other"}, {"ClientRequestToken", kV2}});
  EXPECT_EQ(conflict.status, 400);
  EXPECT_EQ(ErrorCode(conflict), "ResourceExistsException");
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", "app/db"}})["SecretString"], "p2");

  // A retried CreateSecret is fine; a different one is not.
  EXPECT_EQ(
      admin_.SecretsManager("CreateSecret", {{"Name", "app/db"}, {"SecretString", "p1"}, {"ClientRequestToken", kV1}})
          .status,
      200);
  auto exists = admin_.SecretsManager("CreateSecret", {{"Name", "app/db"}, {"SecretString", "new"}});
  EXPECT_EQ(ErrorCode(exists), "ResourceExistsException");
  EXPECT_EQ(ErrorMessage(exists), "The operation failed because the secret app/db already exists.");
}

TEST_F(SecretsManagerTest, ErrorsAndBinarySecrets) {
  auto missing = admin_.SecretsManager("GetSecretValue", {{"SecretId", "nope"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(ErrorCode(missing), "ResourceNotFoundException");
  EXPECT_EQ(ErrorMessage(missing), "Secrets Manager can't find the specified secret.");
  EXPECT_EQ(*aws::FindHeader(missing.headers, "X-Amzn-ErrorType"), "ResourceNotFoundException");
  EXPECT_EQ(ErrorCode(admin_.SecretsManager("CreateSecret",
                                            {{"Name", "x"}, {"SecretString", "a"}, {"SecretBinary", "YQ=="}})),
            "InvalidParameterException");
  EXPECT_EQ(ErrorCode(admin_.SecretsManager("GetSecretValue", {{"SecretId", 42}})), "SerializationException");
  EXPECT_EQ(ErrorCode(admin_.SecretsManager("CreateSecret", {{"Name", "x"}, {"ClientRequestToken", "short"}})),
            "ValidationException");
  EXPECT_EQ(ErrorCode(admin_.SecretsManager("RotateEverything", json::object())), "UnknownOperationException");

  Call("CreateSecret", {{"Name", "bin"}, {"SecretBinary", "AAEC/w=="}});
  json value = Call("GetSecretValue", {{"SecretId", "bin"}});
  EXPECT_EQ(value["SecretBinary"], "AAEC/w==");
  EXPECT_FALSE(value.contains("SecretString"));
  EXPECT_EQ(ErrorCode(admin_.SecretsManager("GetSecretValue", {{"SecretId", "bin"}, {"VersionStage", "AWSPENDING"}})),
            "ResourceNotFoundException");

  // A secret created without a value has no version yet; its first version becomes AWSCURRENT.
  json empty = Call("CreateSecret", {{"Name", "empty"}});
  EXPECT_FALSE(empty.contains("VersionId"));
  EXPECT_EQ(ErrorCode(admin_.SecretsManager("GetSecretValue", {{"SecretId", "empty"}})), "ResourceNotFoundException");
  json first =
      Call("PutSecretValue", {{"SecretId", "empty"}, {"SecretString", "v"}, {"VersionStages", {"AWSPENDING"}}});
  EXPECT_EQ(first["VersionStages"], json({"AWSPENDING", "AWSCURRENT"}));
}

TEST_F(SecretsManagerTest, ArnCarriesTheSignedRegion) {
  admin_.region = "eu-west-1";
  json created = Call("CreateSecret", {{"Name", "regional"}, {"SecretString", "x"}});
  EXPECT_TRUE(created["ARN"].get<std::string>().starts_with("arn:aws:secretsmanager:eu-west-1:123456789012:secret:"));
  EXPECT_EQ(Call("GetSecretValue", {{"SecretId", created["ARN"]}})["SecretString"], "x");
}

TEST_F(SecretsManagerTest, DescribeSecret) {
  Create();
  json d = Call("DescribeSecret", {{"SecretId", "app/db"}});
  EXPECT_EQ(d["Name"], "app/db");
  EXPECT_EQ(d["Description"], "db creds");
  EXPECT_TRUE(d["CreatedDate"].is_number());
  EXPECT_TRUE(d["LastChangedDate"].is_number());
  EXPECT_FALSE(d.contains("LastAccessedDate"));
  Call("GetSecretValue", {{"SecretId", "app/db"}});
  EXPECT_TRUE(Call("DescribeSecret", {{"SecretId", "app/db"}}).contains("LastAccessedDate"));
}

TEST_F(SecretsManagerTest, OnlyAdminsTouchSecrets) {
  Create();
  auto key = world_.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(key.ok());
  auto bob = world_.Client(*key);
  auto denied = bob.SecretsManager("GetSecretValue", {{"SecretId", "app/db"}});
  EXPECT_EQ(denied.status, 400);
  EXPECT_EQ(ErrorCode(denied), "AccessDeniedException");
  EXPECT_NE(ErrorMessage(denied).find("secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:"),
            std::string::npos);
  EXPECT_EQ(denied.body.find("p1"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::sandbox
