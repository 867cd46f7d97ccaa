// CloudTrail's LookupEvents over the requests the sandbox served, and AWS's
// key quarantine: the managed policy AWS attaches to the user of an exposed
// key, and the Health event it sends.
#include <gtest/gtest.h>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::ErrorMessage;
using testing::JsonBody;
using testing::SandboxWorld;
using testing::XmlValue;
using testing::XmlValues;

nlohmann::json ByKey(const std::string& key, int max = 50) {
  return {{"LookupAttributes", {{{"AttributeKey", "AccessKeyId"}, {"AttributeValue", key}}}}, {"MaxResults", max}};
}

TEST(SandboxCloudTrailTest, LookupEventsFindsAKeysCallsNewestFirstPageByPage) {
  SandboxWorld world([](SandboxOptions& o) { o.cloudtrail_lookup_rps = 0; });
  auto key = std::move(world.sandbox->CreateUserWithKey("eve")).value();
  auto eve = world.Client(key);
  eve.extra_headers = {{kSourceIpHeader, "203.0.113.9"}};
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(eve.Sts("GetCallerIdentity").status, 200);
    world.clock.Advance(std::chrono::seconds(1));
  }
  ASSERT_EQ(eve.Iam("ListAccessKeys").status, 200);
  auto admin = world.AdminClient();
  std::vector<std::string> names;
  std::vector<double> times;
  nlohmann::json body = ByKey(key.access_key_id, 2);
  int pages = 0;
  for (;;) {
    auto r = admin.CloudTrail("LookupEvents", body);
    ASSERT_EQ(r.status, 200) << r.body;
    ++pages;
    nlohmann::json page = JsonBody(r);
    for (const auto& e : page["Events"]) {
      names.push_back(e["EventName"]);
      times.push_back(e["EventTime"].get<double>());
      EXPECT_EQ(e["AccessKeyId"], key.access_key_id);
      EXPECT_EQ(e["Username"], "eve");
      nlohmann::json record = nlohmann::json::parse(e["CloudTrailEvent"].get<std::string>());
      EXPECT_EQ(record["sourceIPAddress"], "203.0.113.9");
      EXPECT_EQ(record["awsRegion"], "us-east-1");
      EXPECT_EQ(record["userIdentity"]["type"], "IAMUser");
      EXPECT_EQ(record["userIdentity"]["accessKeyId"], key.access_key_id);
    }
    if (!page.contains("NextToken")) break;
    body["NextToken"] = page["NextToken"];
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(names.size(), 6u);
  EXPECT_EQ(names[0], "ListAccessKeys");  // newest first
  EXPECT_TRUE(std::is_sorted(times.rbegin(), times.rend()));

  // The time range narrows it; a token is refused with other parameters.
  nlohmann::json narrow = ByKey(key.access_key_id);
  narrow["StartTime"] = times[2];
  narrow["EndTime"] = times[1];
  EXPECT_EQ(JsonBody(admin.CloudTrail("LookupEvents", narrow))["Events"].size(), 2u);
  nlohmann::json first = JsonBody(admin.CloudTrail("LookupEvents", ByKey(key.access_key_id, 1)));
  nlohmann::json other = ByKey("AKIAOTHEROTHEROTHER1", 1);
  other["NextToken"] = first["NextToken"];
  auto bad = admin.CloudTrail("LookupEvents", other);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorCode(bad), "InvalidNextTokenException");
  // Another region holds none of these (IAM's and this STS's are us-east-1's).
  admin.region = "eu-west-1";
  EXPECT_EQ(JsonBody(admin.CloudTrail("LookupEvents", ByKey(key.access_key_id)))["Events"].size(), 0u);
}

TEST(SandboxCloudTrailTest, LookupEventsRefusesBadInputAsCloudTrailDoes) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  nlohmann::json two = {{"LookupAttributes",
                         {{{"AttributeKey", "AccessKeyId"}, {"AttributeValue", "A"}},
                          {{"AttributeKey", "Username"}, {"AttributeValue", "b"}}}}};
  auto r = admin.CloudTrail("LookupEvents", two);
  EXPECT_EQ(ErrorCode(r), "InvalidLookupAttributesException");
  world.clock.Advance(std::chrono::seconds(1));
  r = admin.CloudTrail("LookupEvents", {{"StartTime", 200}, {"EndTime", 100}});
  EXPECT_EQ(ErrorCode(r), "InvalidTimeRangeException");
  world.clock.Advance(std::chrono::seconds(1));
  r = admin.CloudTrail("LookupEvents", {{"MaxResults", 51}});
  EXPECT_EQ(ErrorCode(r), "InvalidMaxResultsException");
  EXPECT_FALSE(ErrorMessage(r).empty());
  world.clock.Advance(std::chrono::seconds(1));
  // A user's key without the right: AccessDeniedException naming the action.
  auto key = std::move(world.sandbox->CreateUserWithKey("ivy")).value();
  r = world.Client(key).CloudTrail("LookupEvents");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "AccessDeniedException");
  EXPECT_NE(ErrorMessage(r).find("cloudtrail:LookupEvents"), std::string::npos);
}

TEST(SandboxCloudTrailTest, LookupEventsIsLimitedToTwoRequestsASecondPerRegion) {
  SandboxWorld world;  // cloudtrail_lookup_rps = 2, AWS's quota
  auto admin = world.AdminClient();
  EXPECT_EQ(admin.CloudTrail("LookupEvents").status, 200);
  EXPECT_EQ(admin.CloudTrail("LookupEvents").status, 200);
  auto third = admin.CloudTrail("LookupEvents");
  EXPECT_EQ(third.status, 400);
  EXPECT_EQ(ErrorCode(third), "ThrottlingException");
  admin.region = "eu-west-1";  // each region has its own allowance
  EXPECT_EQ(admin.CloudTrail("LookupEvents").status, 200);
  admin.region = "us-east-1";
  world.clock.Advance(std::chrono::milliseconds(500));
  EXPECT_EQ(admin.CloudTrail("LookupEvents").status, 200);
}

TEST(SandboxQuarantineTest, TheQuarantinePolicyDeniesTheUsersOwnKeysButNotTheAdmin) {
  SandboxWorld world;
  auto key = std::move(world.sandbox->CreateUserWithKey("kim")).value();
  auto kim = world.Client(key);
  auto admin = world.AdminClient();
  auto attach = admin.Iam("AttachUserPolicy", {{"UserName", "kim"},
                                               {"PolicyArn", "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}});
  ASSERT_EQ(attach.status, 200) << attach.body;
  auto listed = admin.Iam("ListAttachedUserPolicies", {{"UserName", "kim"}});
  EXPECT_EQ(XmlValues(listed.body, "PolicyName"), std::vector<std::string>{"AWSCompromisedKeyQuarantineV3"});
  auto create = kim.Iam("CreateAccessKey");
  EXPECT_EQ(create.status, 403);
  EXPECT_EQ(ErrorCode(create), "AccessDenied");
  EXPECT_NE(ErrorMessage(create).find("explicit deny in an identity-based policy: "
                                      "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"),
            std::string::npos);
  EXPECT_EQ(ErrorCode(kim.Iam("UpdateAccessKey", {{"AccessKeyId", key.access_key_id}, {"Status", "Inactive"}})),
            "AccessDenied");
  // What the policy does not deny still works (the attacker's reads, sts).
  EXPECT_EQ(kim.Iam("ListAccessKeys").status, 200);
  EXPECT_EQ(kim.Sts("GetCallerIdentity").status, 200);
  // The admin acts on the user as before.
  EXPECT_EQ(admin.Iam("CreateAccessKey", {{"UserName", "kim"}}).status, 200);
  EXPECT_EQ(admin.Iam("UpdateAccessKey", {{"UserName", "kim"}, {"AccessKeyId", key.access_key_id}, {"Status", "Inactive"}})
                .status,
            200);
  // A policy the sandbox does not know is not attachable; detaching removes it.
  auto unknown = admin.Iam("AttachUserPolicy", {{"UserName", "kim"}, {"PolicyArn", "arn:aws:iam::aws:policy/NoSuchThing"}});
  EXPECT_EQ(ErrorCode(unknown), "NoSuchEntity");
  EXPECT_EQ(admin.Iam("DetachUserPolicy", {{"UserName", "kim"},
                                           {"PolicyArn", "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}})
                .status,
            200);
  EXPECT_TRUE(world.sandbox->AttachedUserPolicies("123456789012", "kim").empty());
}

TEST(SandboxQuarantineTest, ExposeKeyQuarantinesTheUserAndAnswersAHealthEvent) {
  SandboxWorld world;
  auto key = std::move(world.sandbox->CreateUserWithKey("lou")).value();
  Result<std::string> text = world.sandbox->ExposeKey(key.access_key_id);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  nlohmann::json event = nlohmann::json::parse(*text);
  EXPECT_EQ(event["source"], "aws.health");
  EXPECT_EQ(event["detail-type"], "AWS Health Event");
  EXPECT_EQ(event["account"], "123456789012");
  EXPECT_EQ(event["detail"]["service"], "RISK");
  EXPECT_EQ(event["detail"]["eventTypeCode"], "AWS_RISK_CREDENTIALS_EXPOSED");
  EXPECT_EQ(event["detail"]["affectedEntities"][0]["entityValue"], key.access_key_id);
  EXPECT_EQ(world.sandbox->AttachedUserPolicies("123456789012", "lou"),
            std::vector<std::string>{"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"});
  EXPECT_EQ(world.sandbox->ExposeKey("AKIANOSUCHKEYNOSUCH1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(world.sandbox->ExposeKey(key.access_key_id, "AWS_EC2_SOMETHING").status().code(),
            StatusCode::kInvalidArgument);
  // Over HTTP, as the CLI tests and the benchmark use it.
  aws::HttpRequest request;
  request.method = "POST";
  request.url = std::string("http://127.0.0.1:4566") + kExposePath + "?access_key_id=" + key.access_key_id;
  net::ResponseControl control;
  aws::HttpResponse response = world.sandbox->Handle(request, control);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body)["detail"]["affectedEntities"][0]["entityValue"], key.access_key_id);
}

}  // namespace
}  // namespace keyrotor::sandbox
