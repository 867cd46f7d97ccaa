#include "notify/sns_notifier.h"

#include <gtest/gtest.h>

#include "aws/curl_transport.h"
#include "sandbox/server.h"
#include "support/sandbox_clients.h"

namespace keyrotor::notify {
namespace {

class SnsNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("notifier-admin");
    event_.kind = EventKind::kKeyCreated;
    event_.time = TimePoint(std::chrono::seconds(1700000000));
    event_.rotation_id = "rot-1";
    event_.account = "123456789012";
    event_.user = "bob";
    event_.new_access_key_id = "AKIANEWKEY0000000001";
    event_.old_access_key_id = "AKIAOLDKEY0000000001";
    event_.message = "The old key will be deactivated on 2023-11-21.";
  }
  void TearDown() override { server_->Stop(); }

  aws::ClientFactory Clients() {
    return testing::SandboxClients(server_->endpoint(), &transport_, admin_.access_key_id, admin_.secret);
  }
  std::string CreateTopic(const std::string& name, const std::string& region = "us-east-1") {
    auto sns = Clients().WithRegion(region).Sns();
    EXPECT_TRUE(sns.ok());
    auto arn = sns->CreateTopic(name);
    EXPECT_TRUE(arn.ok()) << arn.status().ToString();
    return arn.ok() ? *arn : "";
  }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  Event event_;
};

TEST_F(SnsNotifierTest, PublishesSubjectTextAndJson) {
  std::string arn = CreateTopic("rotations");
  auto notifier = MakeNotifier("sns:" + arn, Clients(), {});
  ASSERT_TRUE(notifier.ok()) << notifier.status().ToString();
  EXPECT_EQ((*notifier)->Describe(), "sns:" + arn);
  Status s = (*notifier)->Notify(event_);
  ASSERT_TRUE(s.ok()) << s.ToString();

  auto messages = server_->sandbox().PublishedMessages(arn);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].subject, "keyrotor: new access key for bob");
  const std::string& text = messages[0].message;
  EXPECT_NE(text.find("bob"), std::string::npos) << text;
  EXPECT_NE(text.find("AKIANEWKEY0000000001"), std::string::npos) << text;
  EXPECT_NE(text.find("AKIAOLDKEY0000000001"), std::string::npos) << text;
  EXPECT_NE(text.find("deactivated on 2023-11-21"), std::string::npos) << text;
  // The text for people, then the event JSON for programs.
  size_t json_start = text.find("\n\n{");
  ASSERT_NE(json_start, std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(text.substr(json_start + 2)), EventToJson(event_));
}

TEST_F(SnsNotifierTest, PublishesToTheTopicsOwnRegion) {
  std::string arn = CreateTopic("eu-rotations", "eu-west-1");
  ASSERT_EQ(arn, "arn:aws:sns:eu-west-1:123456789012:eu-rotations");
  auto notifier = MakeNotifier("sns:" + arn, Clients(), {});  // the factory's region is us-east-1
  ASSERT_TRUE(notifier.ok());
  event_.kind = EventKind::kRotationFailed;
  Status s = (*notifier)->Notify(event_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto messages = server_->sandbox().PublishedMessages(arn);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].subject, "keyrotor: key rotation failed for bob");
}

TEST_F(SnsNotifierTest, MissingTopicIsAnError) {
  auto notifier = MakeNotifier("sns:arn:aws:sns:us-east-1:123456789012:absent", Clients(), {});
  ASSERT_TRUE(notifier.ok());
  Status s = (*notifier)->Notify(event_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("sns:arn:aws:sns:us-east-1:123456789012:absent"), std::string::npos) << s.ToString();
}

TEST(SnsNotifierTextTest, SubjectsStayWithinSnsLimits) {
  Event e;
  e.user = std::string(120, 'u');
  EXPECT_EQ(EventSubject(e).size(), 100u);
  e.user = "bob\nsmith";
  EXPECT_EQ(EventSubject(e), "keyrotor: new access key for bob?smith");
  e.kind = EventKind::kStepDeferred;
  e.user = "bob";
  e.old_access_key_id = "AKIAOLD";
  EXPECT_NE(EventText(e).find("AKIAOLD"), std::string::npos);
  EXPECT_NE(EventText(e).find("still in use"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::notify
