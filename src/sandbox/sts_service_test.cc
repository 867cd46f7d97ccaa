// STS in the sandbox: identities and temporary credentials (aws-wire.md §3).
#include <gtest/gtest.h>

#include <regex>

#include "base/crypto.h"
#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::ErrorMessage;
using testing::SandboxWorld;
using testing::XmlValue;

const testing::Form kDeployer = {{"RoleArn", "arn:aws:iam::123456789012:role/ci/deployer"},
                                 {"RoleSessionName", "rotation"}};

testing::Form With(testing::Form form, const std::string& key, const std::string& value) {
  form.emplace_back(key, value);
  return form;
}

TEST(SandboxStsTest, GetCallerIdentityForAUser) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  auto r = admin.Sts("GetCallerIdentity");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
            std::string::npos);
  EXPECT_EQ(XmlValue(r.body, "UserId"), XmlValue(admin.Iam("GetUser").body, "UserId"));
  EXPECT_EQ(XmlValue(r.body, "Account"), "123456789012");
  EXPECT_EQ(XmlValue(r.body, "Arn"), "arn:aws:iam::123456789012:user/admin");
}

TEST(SandboxStsTest, AssumeRoleIssuesSessionCredentials) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  auto r = admin.Sts("AssumeRole", kDeployer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(std::regex_match(XmlValue(r.body, "AccessKeyId"), std::regex("ASIA[A-Z2-7]{16}")));
  EXPECT_TRUE(std::regex_match(XmlValue(r.body, "SecretAccessKey"), std::regex("[A-Za-z0-9+/]{40}")));
  EXPECT_GT(XmlValue(r.body, "SessionToken").size(), 200u);
  EXPECT_EQ(XmlValue(r.body, "Expiration"), "2026-03-01T13:00:00Z");  // default 3600 s
  // The assumed-role ARN names the role without its path.
  EXPECT_EQ(XmlValue(r.body, "Arn"), "arn:aws:sts::123456789012:assumed-role/deployer/rotation");
  EXPECT_TRUE(std::regex_match(XmlValue(r.body, "AssumedRoleId"), std::regex("AROA[A-Z2-7]{17}:rotation")));
  // The role id is stable across sessions.
  auto again = admin.Sts("AssumeRole", With(kDeployer, "DurationSeconds", "43200"));
  EXPECT_EQ(XmlValue(again.body, "AssumedRoleId"), XmlValue(r.body, "AssumedRoleId"));
  EXPECT_EQ(XmlValue(again.body, "Expiration"), "2026-03-02T00:00:00Z");
}

TEST(SandboxStsTest, AssumeRoleValidation) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  auto short_duration = admin.Sts("AssumeRole", With(kDeployer, "DurationSeconds", "899"));
  EXPECT_EQ(short_duration.status, 400);
  EXPECT_EQ(ErrorCode(short_duration), "ValidationError");
  EXPECT_EQ(ErrorMessage(short_duration),
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must "
            "have value greater than or equal to 900");
  EXPECT_EQ(ErrorCode(admin.Sts("AssumeRole", With(kDeployer, "DurationSeconds", "43201"))), "ValidationError");
  EXPECT_EQ(ErrorCode(admin.Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::123456789012:role/x"}})), "ValidationError");
  EXPECT_EQ(
      ErrorCode(admin.Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::123456789012:user/x"}, {"RoleSessionName", "s1"}})),
      "ValidationError");
  EXPECT_EQ(ErrorCode(admin.Sts("AssumeRole",
                                {{"RoleArn", "arn:aws:iam::123456789012:role/x"}, {"RoleSessionName", "bad session"}})),
            "ValidationError");
  auto other_account =
      admin.Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::999999999999:role/x"}, {"RoleSessionName", "s1"}});
  EXPECT_EQ(other_account.status, 403);
  EXPECT_EQ(ErrorCode(other_account), "AccessDenied");
}

TEST(SandboxStsTest, OnlyAdminsAssumeRolesAndChainingIsCappedAtAnHour) {
  SandboxWorld world;
  auto key = world.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(key.ok());
  auto bob = world.Client(*key);
  auto denied = bob.Sts("AssumeRole", kDeployer);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(ErrorMessage(denied),
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: sts:AssumeRole on resource: "
            "arn:aws:iam::123456789012:role/ci/deployer because no identity-based policy allows the sts:AssumeRole "
            "action");

  auto first = world.AdminClient().Sts("AssumeRole", kDeployer);
  auto session = world.AdminClient();
  session.As(XmlValue(first.body, "AccessKeyId"), Secret(XmlValue(first.body, "SecretAccessKey")),
             Secret(XmlValue(first.body, "SessionToken")));
  EXPECT_EQ(session.Sts("AssumeRole", With(kDeployer, "DurationSeconds", "3600")).status, 200);
  auto long_chain = session.Sts("AssumeRole", With(kDeployer, "DurationSeconds", "3601"));
  EXPECT_EQ(ErrorCode(long_chain), "ValidationError");
  EXPECT_EQ(ErrorMessage(long_chain),
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.");
}

TEST(SandboxStsTest, AssumeRoleWithWebIdentityIsUnsigned) {
  SandboxWorld world;
  auto anonymous = world.AdminClient();
  anonymous.sign = false;
  std::string claims = R"({"sub":"repo:org/app:ref:refs/heads/main","iss":"https://token.actions.example.com",)"
                       R"("aud":["sts.amazonaws.com"],"exp":1900000000})";
  std::string jwt = Base64Encode(R"({"alg":"RS256"})") + "." + Base64Encode(claims) + ".c2ln";
  auto r = anonymous.Sts("AssumeRoleWithWebIdentity", With(kDeployer, "WebIdentityToken", jwt));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(XmlValue(r.body, "AccessKeyId").starts_with("ASIA"));
  EXPECT_EQ(XmlValue(r.body, "SubjectFromWebIdentityToken"), "repo:org/app:ref:refs/heads/main");
  EXPECT_EQ(XmlValue(r.body, "Provider"), "https://token.actions.example.com");
  EXPECT_EQ(XmlValue(r.body, "Audience"), "sts.amazonaws.com");
  EXPECT_EQ(world.sandbox->stats().auth_failures, 0u);

  // The issued credentials work.
  auto session = world.AdminClient();
  session.As(XmlValue(r.body, "AccessKeyId"), Secret(XmlValue(r.body, "SecretAccessKey")),
             Secret(XmlValue(r.body, "SessionToken")));
  EXPECT_EQ(XmlValue(session.Sts("GetCallerIdentity").body, "Arn"),
            "arn:aws:sts::123456789012:assumed-role/deployer/rotation");

  auto invalid = anonymous.Sts("AssumeRoleWithWebIdentity", With(kDeployer, "WebIdentityToken", "invalid"));
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(ErrorCode(invalid), "InvalidIdentityToken");
  EXPECT_EQ(ErrorCode(anonymous.Sts("AssumeRoleWithWebIdentity", With(kDeployer, "WebIdentityToken", "abc"))),
            "ValidationError");
  EXPECT_EQ(ErrorCode(anonymous.Sts("AssumeRoleWithWebIdentity", kDeployer)), "ValidationError");
  std::string expired = Base64Encode("{}") + "." + Base64Encode(R"({"sub":"x","exp":1000})") + ".c2ln";
  EXPECT_EQ(ErrorCode(anonymous.Sts("AssumeRoleWithWebIdentity", With(kDeployer, "WebIdentityToken", expired))),
            "ExpiredTokenException");
  // Other STS operations still need a signature.
  EXPECT_EQ(ErrorCode(anonymous.Sts("GetCallerIdentity")), "MissingAuthenticationToken");
}

}  // namespace
}  // namespace keyrotor::sandbox
