// SNS in the sandbox (aws-wire.md §6).
#include <gtest/gtest.h>

#include <regex>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::SandboxWorld;
using testing::XmlValue;

TEST(SandboxSnsTest, CreateTopicAndPublish) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  auto topic = admin.Sns("CreateTopic", {{"Name", "rotations"}});
  ASSERT_EQ(topic.status, 200) << topic.body;
  std::string arn = XmlValue(topic.body, "TopicArn");
  EXPECT_EQ(arn, "arn:aws:sns:us-east-1:123456789012:rotations");
  EXPECT_EQ(XmlValue(admin.Sns("CreateTopic", {{"Name", "rotations"}}).body, "TopicArn"), arn);  // idempotent

  auto published = admin.Sns("Publish", {{"TopicArn", arn},
                                         {"Subject", "key rotated"},
                                         {"Message", "alice: AKIA... -> AKIA..."},
                                         {"MessageAttributes.entry.1.Name", "user"},
                                         {"MessageAttributes.entry.1.Value.DataType", "String"},
                                         {"MessageAttributes.entry.1.Value.StringValue", "alice"}});
  ASSERT_EQ(published.status, 200) << published.body;
  EXPECT_NE(published.body.find("<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"),
            std::string::npos);
  std::string id = XmlValue(published.body, "MessageId");
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")));

  auto messages = world.sandbox->PublishedMessages(arn);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message_id, id);
  EXPECT_EQ(messages[0].subject, "key rotated");
  EXPECT_EQ(messages[0].message, "alice: AKIA... -> AKIA...");
  EXPECT_EQ(messages[0].attributes.at("user"), "alice");
  EXPECT_EQ(world.sandbox->PublishedMessages().size(), 1u);
}

TEST(SandboxSnsTest, TopicArnsCarryTheSignedRegion) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  admin.region = "eu-west-1";
  std::string arn = XmlValue(admin.Sns("CreateTopic", {{"Name", "t"}}).body, "TopicArn");
  EXPECT_EQ(arn, "arn:aws:sns:eu-west-1:123456789012:t");
  EXPECT_EQ(admin.Sns("Publish", {{"TopicArn", arn}, {"Message", "m"}}).status, 200);
  // Topics are regional: the us-east-1 ARN names another (missing) topic.
  EXPECT_EQ(ErrorCode(admin.Sns("Publish", {{"TopicArn", "arn:aws:sns:us-east-1:123456789012:t"}, {"Message", "m"}})),
            "NotFound");
}

TEST(SandboxSnsTest, Errors) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  auto missing = admin.Sns("Publish", {{"TopicArn", "arn:aws:sns:us-east-1:123456789012:nope"}, {"Message", "hi"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "NotFound");
  EXPECT_NE(missing.body.find("<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"), std::string::npos);
  EXPECT_EQ(ErrorCode(admin.Sns("CreateTopic", {{"Name", "bad name"}})), "InvalidParameter");
  std::string arn = XmlValue(admin.Sns("CreateTopic", {{"Name", "t"}}).body, "TopicArn");
  EXPECT_EQ(ErrorCode(admin.Sns("Publish", {{"TopicArn", arn}, {"Message", ""}})), "InvalidParameter");
  EXPECT_EQ(ErrorCode(admin.Sns("Publish", {{"TopicArn", arn}, {"Message", "m"}, {"Subject", std::string(101, 's')}})),
            "InvalidParameter");

  auto key = world.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(key.ok());
  auto denied = world.Client(*key).Sns("Publish", {{"TopicArn", arn}, {"Message", "m"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(ErrorCode(denied), "AuthorizationError");
  EXPECT_TRUE(world.sandbox->PublishedMessages().empty());
}

}  // namespace
}  // namespace keyrotor::sandbox
