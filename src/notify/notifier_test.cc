#include "notify/notifier.h"

#include <gtest/gtest.h>

#include "support/sandbox_clients.h"

namespace keyrotor::notify {
namespace {

Event SampleEvent() {
  Event e;
  e.kind = EventKind::kKeyCreated;
  e.time = TimePoint(std::chrono::seconds(1700000000));
  e.rotation_id = "rot-1";
  e.account = "123456789012";
  e.user = "bob";
  e.new_access_key_id = "AKIANEWKEY0000000001";
  e.old_access_key_id = "AKIAOLDKEY0000000001";
  e.message = "old key deactivated after 7 days unused";
  return e;
}

TEST(NotifierTest, EventNamesRoundTrip) {
  for (EventKind kind : {EventKind::kKeyCreated, EventKind::kOldKeyDeactivated, EventKind::kOldKeyDeleted,
                         EventKind::kStepDeferred, EventKind::kRotationFailed}) {
    Result<EventKind> parsed = ParseEventName(EventName(kind));
    ASSERT_TRUE(parsed.ok()) << EventName(kind);
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(EventName(EventKind::kKeyCreated), "key_created");
  EXPECT_EQ(EventName(EventKind::kOldKeyDeactivated), "old_key_deactivated");
  EXPECT_EQ(EventName(EventKind::kOldKeyDeleted), "old_key_deleted");
  EXPECT_EQ(EventName(EventKind::kStepDeferred), "step_deferred");
  EXPECT_EQ(EventName(EventKind::kRotationFailed), "rotation_failed");
  EXPECT_EQ(ParseEventName("key-created").status().code(), StatusCode::kInvalidArgument);
}

TEST(NotifierTest, EventToJson) {
  EXPECT_EQ(EventToJson(SampleEvent()), (nlohmann::json{{"event", "key_created"},
                                                        {"time", "2023-11-14T22:13:20Z"},
                                                        {"rotation_id", "rot-1"},
                                                        {"account", "123456789012"},
                                                        {"user", "bob"},
                                                        {"new_access_key_id", "AKIANEWKEY0000000001"},
                                                        {"old_access_key_id", "AKIAOLDKEY0000000001"},
                                                        {"message", "old key deactivated after 7 days unused"}}));
}

TEST(NotifierTest, MakeNotifierRejectsBadSpecs) {
  aws::ClientFactory aws = testing::SandboxClients("http://127.0.0.1:1", nullptr);
  NotifierOptions options;
  for (const char* spec : {"", "email:bob@example.com", "sns", "sns:not-an-arn", "sns:arn:aws:sns:us-east-1:1234:t",
                           "sns:arn:aws:sqs:us-east-1:123456789012:t", "sns:arn:aws:sns:us-east-1:123456789012:t.fifo",
                           "webhook:", "webhook:ftp://example.com/x", "exec:", "exec:'unterminated"}) {
    Result<std::unique_ptr<Notifier>> n = MakeNotifier(spec, aws, options);
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument) << spec << ": " << n.status().ToString();
  }
}

TEST(NotifierTest, UnknownKindDoesNotQuoteTheRest) {
  aws::ClientFactory aws = testing::SandboxClients("http://127.0.0.1:1", nullptr);
  Result<std::unique_ptr<Notifier>> n = MakeNotifier("slack:https://hooks.example/T0SECRET", aws, {});
  EXPECT_EQ(n.status().message().find("T0SECRET"), std::string::npos) << n.status().ToString();
}

}  // namespace
}  // namespace keyrotor::notify
