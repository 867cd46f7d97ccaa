// Authentication as AWS does it: SigV4 checks, the 15-minute clock window,
// IAM's eventual consistency for key changes, and STS session credentials.
#include <gtest/gtest.h>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::ErrorMessage;
using testing::SandboxWorld;
using testing::XmlValue;

constexpr char kInvalidToken[] = "The security token included in the request is invalid.";

TEST(SandboxAuthTest, UnknownKeyIsInvalidClientTokenId) {
  SandboxWorld world;
  auto client = world.AdminClient();
  client.As("AKIAAAAAAAAAAAAAAAAA", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
  auto r = client.Iam("GetUser");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "InvalidClientTokenId");
  EXPECT_EQ(ErrorMessage(r), kInvalidToken);
  // JSON 1.1 services name it differently and answer 400.
  auto json = client.SecretsManager("GetSecretValue", {{"SecretId", "x"}});
  EXPECT_EQ(json.status, 400);
  EXPECT_EQ(ErrorCode(json), "UnrecognizedClientException");
  EXPECT_EQ(*aws::FindHeader(json.headers, "X-Amzn-ErrorType"), "UnrecognizedClientException");
  EXPECT_EQ(*aws::FindHeader(json.headers, "content-type"), "application/x-amz-json-1.1");
  EXPECT_EQ(world.sandbox->stats().auth_failures, 2u);
}

TEST(SandboxAuthTest, UnauthenticatedCallersDoNotLearnWhichOperationsExist) {
  SandboxWorld world;
  auto client = world.AdminClient();
  client.As("AKIAAAAAAAAAAAAAAAAA", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
  EXPECT_EQ(ErrorCode(client.Iam("NoSuchAction")), "InvalidClientTokenId");
  EXPECT_EQ(ErrorCode(client.SecretsManager("NoSuchOperation")), "UnrecognizedClientException");
  // Authenticated, the same calls name the unknown operation.
  auto admin = world.AdminClient();
  EXPECT_EQ(ErrorCode(admin.Iam("NoSuchAction")), "InvalidAction");
  EXPECT_EQ(ErrorCode(admin.SecretsManager("NoSuchOperation")), "UnknownOperationException");
}

TEST(SandboxAuthTest, InactiveKeyIsRejected) {
  SandboxWorld world;
  auto key = world.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(key.ok());
  auto admin = world.AdminClient();
  ASSERT_EQ(
      admin.Iam("UpdateAccessKey", {{"UserName", "bob"}, {"AccessKeyId", key->access_key_id}, {"Status", "Inactive"}})
          .status,
      200);
  auto bob = world.Client(*key);
  auto r = bob.Sts("GetCallerIdentity");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "InvalidClientTokenId");
  ASSERT_EQ(
      admin.Iam("UpdateAccessKey", {{"UserName", "bob"}, {"AccessKeyId", key->access_key_id}, {"Status", "Active"}})
          .status,
      200);
  EXPECT_EQ(bob.Sts("GetCallerIdentity").status, 200);
}

TEST(SandboxAuthTest, WrongSecretIsSignatureDoesNotMatch) {
  SandboxWorld world;
  auto client = world.AdminClient();
  client.As(world.admin.access_key_id, Secret(std::string(40, 'x')));
  auto r = client.Iam("ListUsers");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "SignatureDoesNotMatch");
  EXPECT_EQ(ErrorMessage(r),
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.");
  EXPECT_EQ(r.body.find(world.admin.secret.reveal()), std::string::npos);
  auto json = client.Ssm("GetParameter", {{"Name", "/x"}});
  EXPECT_EQ(ErrorCode(json), "InvalidSignatureException");
}

TEST(SandboxAuthTest, TamperedBodyFailsVerification) {
  SandboxWorld world;
  aws::HttpRequest request;
  request.url = testing::kEndpoint;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = "Action=GetUser&Version=2010-05-08";
  aws::Credentials creds{world.admin.access_key_id, world.admin.secret.Clone(), Secret(), std::nullopt, "test"};
  ASSERT_TRUE(aws::SignRequest(request, creds, {"us-east-1", "iam"}, world.clock.Now()).ok());
  request.body = "Action=ListUsers&Version=2010-05-08";
  net::ResponseControl control;
  EXPECT_EQ(ErrorCode(world.sandbox->Handle(request, control)), "SignatureDoesNotMatch");
}

TEST(SandboxAuthTest, DatesOutsideFifteenMinutesAreRejected) {
  SandboxWorld world;
  auto client = world.AdminClient();
  client.signed_at = world.clock.Now() - std::chrono::minutes(20);
  auto past = client.Iam("GetUser");
  EXPECT_EQ(past.status, 403);
  EXPECT_EQ(ErrorCode(past), "SignatureDoesNotMatch");
  EXPECT_EQ(ErrorMessage(past),
            "Signature expired: 20260301T114000Z is now earlier than 20260301T114500Z (20260301T120000Z - 15 min.)");
  client.signed_at = world.clock.Now() + std::chrono::minutes(16);
  auto future = client.Iam("GetUser");
  EXPECT_EQ(ErrorCode(future), "SignatureDoesNotMatch");
  EXPECT_EQ(ErrorMessage(future),
            "Signature not yet current: 20260301T121600Z is still later than 20260301T121500Z (20260301T120000Z + 15 "
            "min.)");
  auto json = client.SecretsManager("DescribeSecret", {{"SecretId", "x"}});
  EXPECT_EQ(ErrorCode(json), "InvalidSignatureException");
  client.signed_at = world.clock.Now() - std::chrono::minutes(14);
  EXPECT_EQ(client.Iam("GetUser").status, 200);
}

TEST(SandboxAuthTest, MissingAuthentication) {
  SandboxWorld world;
  auto client = world.AdminClient();
  client.sign = false;
  auto query = client.Iam("GetUser");
  EXPECT_EQ(query.status, 403);
  EXPECT_EQ(ErrorCode(query), "MissingAuthenticationToken");
  auto json = client.SecretsManager("GetSecretValue", {{"SecretId", "x"}});
  EXPECT_EQ(json.status, 403);
  EXPECT_EQ(ErrorCode(json), "MissingAuthenticationTokenException");
}

TEST(SandboxAuthTest, ScopeMustNameTheRoutedServiceButAnyRegionIsFine) {
  SandboxWorld world;
  auto client = world.AdminClient();
  client.region = "eu-west-1";  // botocore signs IAM with the client's region at a custom endpoint (§0)
  EXPECT_EQ(client.Iam("GetUser").status, 200);
  client.scope_service = "sts";
  auto r = client.Iam("GetUser");
  EXPECT_EQ(ErrorCode(r), "SignatureDoesNotMatch");
  EXPECT_EQ(ErrorMessage(r), "Credential should be scoped to correct service: 'iam'. ");
}

TEST(SandboxAuthTest, VersionlessQueryRoutesByCredentialScope) {
  SandboxWorld world;
  auto client = world.AdminClient();
  auto r = client.Query("sts", "", "GetCallerIdentity", {});
  // Version= (empty) matches no API version; the scope picks STS.
  EXPECT_EQ(ErrorCode(r), "InvalidAction");
  aws::HttpRequest request;
  request.url = testing::kEndpoint;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = "Action=GetCallerIdentity";
  auto routed = client.Send(std::move(request), "sts");
  EXPECT_EQ(routed.status, 200) << routed.body;
  EXPECT_EQ(XmlValue(routed.body, "Account"), "123456789012");
}

TEST(SandboxAuthTest, NewKeyIsRefusedUntilTheConsistencyDelayPasses) {
  SandboxWorld world([](SandboxOptions& o) { o.consistency_ms = 5000; });
  auto admin = world.AdminClient();
  ASSERT_EQ(admin.Iam("CreateUser", {{"UserName", "bob"}}).status, 200);
  auto created = admin.Iam("CreateAccessKey", {{"UserName", "bob"}});
  ASSERT_EQ(created.status, 200);
  auto bob = world.AdminClient();
  bob.As(XmlValue(created.body, "AccessKeyId"), Secret(XmlValue(created.body, "SecretAccessKey")));

  EXPECT_EQ(ErrorCode(bob.Sts("GetCallerIdentity")), "InvalidClientTokenId");
  world.clock.Advance(std::chrono::milliseconds(4999));
  EXPECT_EQ(ErrorCode(bob.Sts("GetCallerIdentity")), "InvalidClientTokenId");
  world.clock.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(bob.Sts("GetCallerIdentity").status, 200);
}

TEST(SandboxAuthTest, DeletedAndDeactivatedKeysKeepWorkingForTheDelay) {
  SandboxWorld world([](SandboxOptions& o) { o.consistency_ms = 3000; });
  auto old_key = world.sandbox->CreateUserWithKey("bob", world.clock.Now() - std::chrono::hours(24 * 90));
  auto other = world.sandbox->CreateUserWithKey("bob", world.clock.Now() - std::chrono::hours(24));
  ASSERT_TRUE(old_key.ok() && other.ok());
  auto admin = world.AdminClient();
  auto bob_old = world.Client(*old_key);
  auto bob_other = world.Client(*other);
  ASSERT_EQ(bob_old.Sts("GetCallerIdentity").status, 200);  // seeded keys are long propagated

  ASSERT_EQ(admin.Iam("DeleteAccessKey", {{"UserName", "bob"}, {"AccessKeyId", old_key->access_key_id}}).status, 200);
  ASSERT_EQ(
      admin.Iam("UpdateAccessKey", {{"UserName", "bob"}, {"AccessKeyId", other->access_key_id}, {"Status", "Inactive"}})
          .status,
      200);
  // IAM no longer lists the deleted key, but it still signs for a while.
  EXPECT_EQ(world.sandbox->KeyCount("bob"), 1u);
  EXPECT_EQ(ErrorCode(admin.Iam("DeleteAccessKey", {{"UserName", "bob"}, {"AccessKeyId", old_key->access_key_id}})),
            "NoSuchEntity");
  world.clock.Advance(std::chrono::milliseconds(2999));
  EXPECT_EQ(bob_old.Sts("GetCallerIdentity").status, 200);
  EXPECT_EQ(bob_other.Sts("GetCallerIdentity").status, 200);
  world.clock.Advance(std::chrono::milliseconds(2));
  EXPECT_EQ(ErrorCode(bob_old.Sts("GetCallerIdentity")), "InvalidClientTokenId");
  EXPECT_EQ(ErrorCode(bob_other.Sts("GetCallerIdentity")), "InvalidClientTokenId");
}

TEST(SandboxAuthTest, AdminKeyIsUsableAtOnceEvenWithADelay) {
  SandboxWorld world([](SandboxOptions& o) { o.consistency_ms = 60000; });
  EXPECT_EQ(world.AdminClient().Iam("GetUser").status, 200);
}

TEST(SandboxAuthTest, TemporaryCredentialsAuthenticateWithTheirTokenAndExpire) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  auto assumed = admin.Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::123456789012:role/deployer"},
                                          {"RoleSessionName", "rotation"},
                                          {"DurationSeconds", "900"}});
  ASSERT_EQ(assumed.status, 200) << assumed.body;
  std::string id = XmlValue(assumed.body, "AccessKeyId");
  Secret secret(XmlValue(assumed.body, "SecretAccessKey"));
  Secret token(XmlValue(assumed.body, "SessionToken"));

  auto session = world.AdminClient();
  session.As(id, secret, token);
  auto who = session.Sts("GetCallerIdentity");
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(XmlValue(who.body, "Arn"), "arn:aws:sts::123456789012:assumed-role/deployer/rotation");
  EXPECT_TRUE(XmlValue(who.body, "UserId").starts_with("AROA"));
  EXPECT_TRUE(XmlValue(who.body, "UserId").ends_with(":rotation"));
  // Sessions act as admin in the sandbox, on every service.
  EXPECT_EQ(session.Iam("ListUsers").status, 200);
  EXPECT_EQ(ErrorCode(session.SecretsManager("DescribeSecret", {{"SecretId", "none"}})), "ResourceNotFoundException");

  auto no_token = world.AdminClient();
  no_token.As(id, secret);
  EXPECT_EQ(ErrorCode(no_token.Sts("GetCallerIdentity")), "InvalidClientTokenId");
  auto wrong_token = world.AdminClient();
  wrong_token.As(id, secret, Secret("bogus"));
  EXPECT_EQ(ErrorCode(wrong_token.Sts("GetCallerIdentity")), "InvalidClientTokenId");
  // A long-term key must not carry a session token.
  auto akia_with_token = world.AdminClient();
  akia_with_token.As(world.admin.access_key_id, world.admin.secret, Secret("bogus"));
  EXPECT_EQ(ErrorCode(akia_with_token.Sts("GetCallerIdentity")), "InvalidClientTokenId");

  world.clock.Advance(std::chrono::seconds(900));
  auto expired = session.Sts("GetCallerIdentity");
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(ErrorCode(expired), "ExpiredToken");
  EXPECT_EQ(ErrorCode(session.Ssm("GetParameter", {{"Name", "/x"}})), "ExpiredTokenException");
}

TEST(SandboxAuthTest, EveryAuthenticatedUseIsRecordedForTheKey) {
  SandboxWorld world;
  auto key = world.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(key.ok());
  auto bob = world.Client(*key);
  bob.region = "ap-south-1";
  world.clock.Advance(std::chrono::hours(1));
  // Denied is still authenticated: AWS records the use.
  EXPECT_EQ(ErrorCode(bob.Iam("ListUsers")), "AccessDenied");
  auto info = world.sandbox->GetKey(key->access_key_id);
  ASSERT_TRUE(info && info->last_used);
  EXPECT_EQ(info->last_used->service, "iam");
  EXPECT_EQ(info->last_used->region, "ap-south-1");
  EXPECT_EQ(info->last_used->when, world.clock.Now());
  // A failed signature is not a use.
  world.clock.Advance(std::chrono::hours(1));
  bob.As(key->access_key_id, Secret(std::string(40, 'z')));
  EXPECT_EQ(ErrorCode(bob.Sts("GetCallerIdentity")), "SignatureDoesNotMatch");
  EXPECT_EQ(world.sandbox->GetKey(key->access_key_id)->last_used->service, "iam");
}

}  // namespace
}  // namespace keyrotor::sandbox
