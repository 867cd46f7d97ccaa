#include "report/iam_policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace keyrotor::report {
namespace {

using Json = nlohmann::json;

Json Policy(const PolicyFeatures& f) { return Json::parse(BuildPolicyJson(f)); }

// The statement with this Sid, or null.
Json StatementBySid(const Json& policy, const std::string& sid) {
  for (const Json& s : policy["Statement"]) {
    if (s["Sid"] == sid) return s;
  }
  return nullptr;
}

std::vector<std::string> Sids(const Json& policy) {
  std::vector<std::string> out;
  for (const Json& s : policy["Statement"]) out.push_back(s["Sid"]);
  return out;
}

TEST(IamPolicyJsonTest, IamOnlyWhenNothingElseIsConfigured) {
  Json p = Policy(PolicyFeatures{{"credentials-file:/srv/creds#default", "vault:/srv/v", "exec:/bin/true"},
                                 {"webhook:https://hooks.example/x", "exec:/bin/true"},
                                 {},
                                 {}});
  EXPECT_EQ(p["Version"], "2012-10-17");
  EXPECT_EQ(Sids(p), (std::vector<std::string>{"KeyrotorListUsers", "KeyrotorAccountReports", "KeyrotorUserAccessKeys",
                                               "KeyrotorReadGroups", "KeyrotorExposureActivity"}));
  EXPECT_EQ(StatementBySid(p, "KeyrotorExposureActivity"),
            Json::parse(R"({"Sid": "KeyrotorExposureActivity", "Effect": "Allow",
                            "Action": ["cloudtrail:LookupEvents"], "Resource": "*"})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorAccountReports"),
            Json::parse(R"({"Sid": "KeyrotorAccountReports", "Effect": "Allow",
                            "Action": ["iam:GenerateCredentialReport", "iam:GetAccountAuthorizationDetails",
                                       "iam:GetCredentialReport"],
                            "Resource": "*"})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorListUsers"),
            Json::parse(R"({"Sid": "KeyrotorListUsers", "Effect": "Allow", "Action": ["iam:ListUsers"],
                            "Resource": "*"})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorUserAccessKeys"),
            Json::parse(R"({"Sid": "KeyrotorUserAccessKeys", "Effect": "Allow",
                            "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed",
                                       "iam:GetUser", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies",
                                       "iam:ListGroupsForUser", "iam:ListUserTags", "iam:UpdateAccessKey"],
                            "Resource": "arn:aws:iam::*:user/*"})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorReadGroups"),
            Json::parse(R"({"Sid": "KeyrotorReadGroups", "Effect": "Allow", "Action": ["iam:GetGroup"],
                            "Resource": "arn:aws:iam::*:group/*"})"));
  std::string text = BuildPolicyJson(PolicyFeatures{});
  for (const char* service : {"secretsmanager:", "ssm:", "kms:", "sns:", "sts:", "organizations:"}) {
    EXPECT_EQ(text.find(service), std::string::npos) << service;
  }
}

TEST(IamPolicyJsonTest, SecretsManagerScopedToTheSecretNames) {
  Json p = Policy(PolicyFeatures{{"secretsmanager:apps/{user}", "secretsmanager:{account}/shared"}, {}, {}, {}});
  EXPECT_EQ(StatementBySid(p, "KeyrotorSecretsManager"),
            Json::parse(R"({"Sid": "KeyrotorSecretsManager", "Effect": "Allow",
                            "Action": ["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
                                       "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                                       "secretsmanager:UpdateSecretVersionStage"],
                            "Resource": ["arn:aws:secretsmanager:*:*:secret:apps/*-*",
                                         "arn:aws:secretsmanager:*:*:secret:*/shared-*"]})"));
  EXPECT_TRUE(StatementBySid(p, "KeyrotorSsmParameters").is_null());
  EXPECT_TRUE(StatementBySid(p, "KeyrotorKmsKeys").is_null());
  EXPECT_TRUE(StatementBySid(p, "KeyrotorSnsPublish").is_null());
}

TEST(IamPolicyJsonTest, SsmSnsKmsAndRoles) {
  Json p = Policy(PolicyFeatures{{"ssm:/keys/{user}/access"},
                                 {"sns:arn:aws:sns:eu-west-1:123456789012:keys", "webhook:https://x.example/"},
                                 {"arn:aws:iam::111111111111:role/keyrotor", "arn:aws:iam::222222222222:role/keyrotor"},
                                 {"1234abcd-12ab-34cd-56ef-1234567890ab"}});
  EXPECT_EQ(Sids(p), (std::vector<std::string>{"KeyrotorListUsers", "KeyrotorAccountReports", "KeyrotorUserAccessKeys",
                                               "KeyrotorReadGroups", "KeyrotorExposureActivity", "KeyrotorSsmParameters",
                                               "KeyrotorKmsKeys", "KeyrotorSnsPublish", "KeyrotorAssumeRoles"}));
  EXPECT_EQ(StatementBySid(p, "KeyrotorSsmParameters"),
            Json::parse(R"({"Sid": "KeyrotorSsmParameters", "Effect": "Allow",
                            "Action": ["ssm:GetParameter", "ssm:PutParameter"],
                            "Resource": "arn:aws:ssm:*:*:parameter/keys/*/access"})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorKmsKeys"), Json::parse(R"({"Sid": "KeyrotorKmsKeys", "Effect": "Allow",
                            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                            "Resource": "arn:aws:kms:*:*:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                            "Condition": {"StringLike": {"kms:ViaService": ["secretsmanager.*.amazonaws.com",
                                                                           "ssm.*.amazonaws.com"]}}})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorSnsPublish"),
            Json::parse(R"({"Sid": "KeyrotorSnsPublish", "Effect": "Allow", "Action": ["sns:Publish"],
                            "Resource": "arn:aws:sns:eu-west-1:123456789012:keys"})"));
  EXPECT_EQ(StatementBySid(p, "KeyrotorAssumeRoles"),
            Json::parse(R"({"Sid": "KeyrotorAssumeRoles", "Effect": "Allow", "Action": ["sts:AssumeRole"],
                            "Resource": ["arn:aws:iam::111111111111:role/keyrotor",
                                         "arn:aws:iam::222222222222:role/keyrotor"]})"));
  EXPECT_TRUE(StatementBySid(p, "KeyrotorSecretsManager").is_null());
}

TEST(IamPolicyJsonTest, KmsAliasesUseTheResourceAliasesCondition) {
  // A per-destination key and an alias: the alias is granted through kms:ResourceAliases.
  Json p = Policy(PolicyFeatures{
      {"secretsmanager:app?kms_key_id=arn%3Aaws%3Akms%3Aeu-west-1%3A123456789012%3Akey%2Fabc"}, {}, {}, {"alias/keys"}});
  EXPECT_EQ(StatementBySid(p, "KeyrotorKmsKeys")["Resource"], "arn:aws:kms:eu-west-1:123456789012:key/abc");
  Json alias = StatementBySid(p, "KeyrotorKmsAliases");
  EXPECT_EQ(alias["Resource"], "arn:aws:kms:*:*:key/*");
  EXPECT_EQ(alias["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"], Json::array({"alias/keys"}));
  EXPECT_EQ(StatementBySid(p, "KeyrotorSecretsManager")["Resource"], "arn:aws:secretsmanager:*:*:secret:app-*");
}

TEST(IamPolicyJsonTest, FromEngineOptions) {
  engine::EngineOptions options;
  options.destinations = {"ssm:/a"};
  options.notify = {"sns:arn:aws:sns:us-east-1:123456789012:t"};
  options.destination_options.kms_key_id = "alias/x";
  PolicyFeatures f = FeaturesFromEngineOptions(options);
  EXPECT_EQ(f.destinations, options.destinations);
  EXPECT_EQ(f.notify, options.notify);
  EXPECT_EQ(f.kms_key_ids, std::vector<std::string>{"alias/x"});
}

TEST(IamPolicyJsonTest, ValidationRefusesWhatRotateWouldRefuse) {
  EXPECT_TRUE(ValidatePolicyFeatures(PolicyFeatures{{"ssm:/a"}, {"sns:arn:aws:sns:us-east-1:1:t"}, {}, {}}).ok());
  EXPECT_FALSE(ValidatePolicyFeatures(PolicyFeatures{{"s3:bucket"}, {}, {}, {}}).ok());
  // GitHub destinations need no AWS permission, and are no error either.
  EXPECT_TRUE(ValidatePolicyFeatures(PolicyFeatures{{"github:acme/app", "github-org:acme#AWS"}, {}, {}, {}}).ok());
  EXPECT_EQ(BuildPolicyJson(PolicyFeatures{{"github:acme/app"}, {}, {}, {}}),
            BuildPolicyJson(PolicyFeatures{{}, {}, {}, {}}));
  EXPECT_FALSE(ValidatePolicyFeatures(PolicyFeatures{{"secretsmanager:"}, {}, {}, {}}).ok());
  EXPECT_FALSE(ValidatePolicyFeatures(PolicyFeatures{{}, {"sns:topic"}, {}, {}}).ok());
  EXPECT_FALSE(ValidatePolicyFeatures(PolicyFeatures{{}, {}, {"arn:aws:iam::1:user/x"}, {}}).ok());
}

TEST(IamPolicyJsonTest, MergeFeaturesKeepsEachSpecOnceInOrder) {
  PolicyFeatures f{{"ssm:/a"}, {"sns:arn:aws:sns:us-east-1:1:t"}, {}, {"alias/a"}};
  MergeFeatures(f, PolicyFeatures{{"ssm:/a", "secretsmanager:b"}, {"sns:arn:aws:sns:us-east-1:1:t"},
                                  {"arn:aws:iam::1:role/r"}, {"alias/b", "alias/a"}});
  EXPECT_EQ(f.destinations, (std::vector<std::string>{"ssm:/a", "secretsmanager:b"}));
  EXPECT_EQ(f.notify, (std::vector<std::string>{"sns:arn:aws:sns:us-east-1:1:t"}));
  EXPECT_EQ(f.assume_roles, (std::vector<std::string>{"arn:aws:iam::1:role/r"}));
  EXPECT_EQ(f.kms_key_ids, (std::vector<std::string>{"alias/a", "alias/b"}));
}

}  // namespace
}  // namespace keyrotor::report
