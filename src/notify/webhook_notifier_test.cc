#include "notify/webhook_notifier.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <mutex>
#include <regex>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "net/http_server.h"
#include "support/sandbox_clients.h"

namespace keyrotor::notify {
namespace {

constexpr char kWebhookSecret[] = "whsec-0123456789abcdef";

// A loopback receiver that answers from a script (200 once it runs out) and
// records every request it got.
class FakeReceiver {
 public:
  FakeReceiver() {
    auto server = net::HttpServer::Start({}, [this](const aws::HttpRequest& request, net::ResponseControl&) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
      aws::HttpResponse response;
      response.status = 200;
      if (!script_.empty()) {
        response = script_.front();
        script_.pop_front();
      }
      return response;
    });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void Answer(int status, aws::HeaderList headers = {}) {
    aws::HttpResponse response;
    response.status = status;
    response.headers = std::move(headers);
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(response));
  }
  std::vector<aws::HttpRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string url(const std::string& path) const { return server_->endpoint() + path; }
  void Stop() { server_->Stop(); }

 private:
  std::mutex mu_;
  std::deque<aws::HttpResponse> script_;
  std::vector<aws::HttpRequest> requests_;
  std::unique_ptr<net::HttpServer> server_;
};

// What a receiver does (docs/notifications.md): a timestamp within 300 s of
// its own clock, and the HMAC of "<timestamp>.<delivery>.<raw body>".
bool ReceiverAccepts(const aws::HttpRequest& r, int64_t receiver_now) {
  const std::string* timestamp = aws::FindHeader(r.headers, "X-Keyrotor-Timestamp");
  const std::string* delivery = aws::FindHeader(r.headers, "X-Keyrotor-Delivery");
  const std::string* signature = aws::FindHeader(r.headers, "X-Keyrotor-Signature-256");
  if (!timestamp || !delivery || !signature) return false;
  if (std::llabs(receiver_now - std::stoll(*timestamp)) > 300) return false;
  std::string expected =
      "sha256=" + HexEncode(HmacSha256(kWebhookSecret, *timestamp + "." + *delivery + "." + r.body));
  return expected == *signature;
}

class WebhookNotifierTest : public ::testing::Test {
 protected:
  WebhookNotifierTest() : clock_(TimePoint(std::chrono::seconds(1700000000))) {
    options_.transport = &transport_;
    options_.clock = &clock_;
    event_.kind = EventKind::kKeyCreated;
    event_.time = clock_.Now();
    event_.rotation_id = "rot-1";
    event_.account = "123456789012";
    event_.user = "bob";
    event_.new_access_key_id = "AKIANEWKEY0000000001";
    event_.old_access_key_id = "AKIAOLDKEY0000000001";
  }

  Result<std::unique_ptr<Notifier>> Make(const std::string& spec) {
    return MakeNotifier(spec, testing::SandboxClients("http://127.0.0.1:1", &transport_), options_);
  }
  Duration Slept() { return std::chrono::duration_cast<Duration>(clock_.Now() - start_); }

  aws::CurlTransport transport_;
  FakeClock clock_;
  const TimePoint start_ = clock_.Now();
  NotifierOptions options_;
  Event event_;
  FakeReceiver receiver_;
};

TEST_F(WebhookNotifierTest, PostsSignedEventJson) {
  options_.webhook_secret = Secret(kWebhookSecret);
  auto notifier = Make("webhook:" + receiver_.url("/hooks/keyrotor?team=ops"));
  ASSERT_TRUE(notifier.ok()) << notifier.status().ToString();
  Status s = (*notifier)->Notify(event_);
  ASSERT_TRUE(s.ok()) << s.ToString();

  auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const aws::HttpRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, receiver_.url("/hooks/keyrotor?team=ops"));
  EXPECT_EQ(nlohmann::json::parse(r.body), EventToJson(event_));
  EXPECT_EQ(*aws::FindHeader(r.headers, "Content-Type"), "application/json");
  EXPECT_EQ(*aws::FindHeader(r.headers, "User-Agent"), std::string("keyrotor/") + KEYROTOR_VERSION);
  EXPECT_EQ(*aws::FindHeader(r.headers, "X-Keyrotor-Event"), "key_created");
  const std::string* delivery = aws::FindHeader(r.headers, "X-Keyrotor-Delivery");
  ASSERT_NE(delivery, nullptr);
  EXPECT_TRUE(std::regex_match(*delivery, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")));
  EXPECT_EQ(*aws::FindHeader(r.headers, "X-Keyrotor-Timestamp"), "1700000000");
  // What a receiver does: recompute the HMAC with the shared secret.
  const std::string* signature = aws::FindHeader(r.headers, "X-Keyrotor-Signature-256");
  ASSERT_NE(signature, nullptr);
  EXPECT_EQ(*signature,
            "sha256=" + HexEncode(HmacSha256(kWebhookSecret, "1700000000." + *delivery + "." + r.body)));
  EXPECT_TRUE(ReceiverAccepts(r, 1700000000));
  EXPECT_EQ(r.body.find(kWebhookSecret), std::string::npos);
  EXPECT_EQ(Slept(), Duration(0));
}

// A captured delivery cannot be replayed later: replayed as is it is too
// old; with a fresh timestamp (or another delivery id, or another body) the
// signature no longer matches.
TEST_F(WebhookNotifierTest, TheSignatureCoversTheTimestampSoACapturedDeliveryCannotBeReplayed) {
  options_.webhook_secret = Secret(kWebhookSecret);
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  ASSERT_TRUE((*notifier)->Notify(event_).ok());
  ASSERT_EQ(receiver_.requests().size(), 1u);
  const aws::HttpRequest captured = receiver_.requests()[0];
  ASSERT_TRUE(ReceiverAccepts(captured, 1700000000));
  EXPECT_TRUE(ReceiverAccepts(captured, 1700000000 + 300));
  EXPECT_FALSE(ReceiverAccepts(captured, 1700000000 + 301));  // replayed as is, six minutes later

  aws::HttpRequest replay = captured;
  aws::SetHeader(replay.headers, "X-Keyrotor-Timestamp", "1700003600");  // restamped an hour later
  EXPECT_FALSE(ReceiverAccepts(replay, 1700003600));
  replay = captured;
  aws::SetHeader(replay.headers, "X-Keyrotor-Timestamp", "1700000001");  // even by one second
  EXPECT_FALSE(ReceiverAccepts(replay, 1700000001));
  replay = captured;
  aws::SetHeader(replay.headers, "X-Keyrotor-Delivery", RandomUuid());  // to get past deduplication
  EXPECT_FALSE(ReceiverAccepts(replay, 1700000000));
  replay = captured;
  replay.body += " ";
  EXPECT_FALSE(ReceiverAccepts(replay, 1700000000));
}

// Each attempt is stamped and signed afresh: the retry after a backoff
// carries its own time and still verifies, with the same delivery id.
TEST_F(WebhookNotifierTest, EachAttemptIsStampedAndSignedWhenSent) {
  options_.webhook_secret = Secret(kWebhookSecret);
  receiver_.Answer(503);
  receiver_.Answer(200);
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  ASSERT_TRUE((*notifier)->Notify(event_).ok());
  auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(*aws::FindHeader(requests[0].headers, "X-Keyrotor-Timestamp"), "1700000000");
  EXPECT_EQ(*aws::FindHeader(requests[1].headers, "X-Keyrotor-Timestamp"), "1700000001");  // after the 1 s backoff
  EXPECT_EQ(*aws::FindHeader(requests[0].headers, "X-Keyrotor-Delivery"),
            *aws::FindHeader(requests[1].headers, "X-Keyrotor-Delivery"));
  EXPECT_TRUE(ReceiverAccepts(requests[0], 1700000000));
  EXPECT_TRUE(ReceiverAccepts(requests[1], 1700000001));
  EXPECT_FALSE(ReceiverAccepts(requests[1], 1700000001 + 301));
}

TEST_F(WebhookNotifierTest, UnsignedWithoutASecret) {
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  ASSERT_TRUE((*notifier)->Notify(event_).ok());
  ASSERT_EQ(receiver_.requests().size(), 1u);
  EXPECT_EQ(aws::FindHeader(receiver_.requests()[0].headers, "X-Keyrotor-Signature-256"), nullptr);
}

TEST_F(WebhookNotifierTest, RetriesServerErrorsWithTheSameDeliveryId) {
  receiver_.Answer(503);
  receiver_.Answer(503);
  receiver_.Answer(200);
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  Status s = (*notifier)->Notify(event_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 3u);
  const std::string delivery = *aws::FindHeader(requests[0].headers, "X-Keyrotor-Delivery");
  for (const auto& r : requests) EXPECT_EQ(*aws::FindHeader(r.headers, "X-Keyrotor-Delivery"), delivery);
  EXPECT_EQ(requests[0].body, requests[2].body);
  EXPECT_EQ(Slept(), Duration(1000 + 2000));  // exponential backoff, through the fake clock

  // The next event is a new delivery.
  ASSERT_TRUE((*notifier)->Notify(event_).ok());
  EXPECT_NE(*aws::FindHeader(receiver_.requests().back().headers, "X-Keyrotor-Delivery"), delivery);
}

TEST_F(WebhookNotifierTest, HonoursRetryAfterOnThrottling) {
  receiver_.Answer(429, {{"Retry-After", "7"}});
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  ASSERT_TRUE((*notifier)->Notify(event_).ok());
  EXPECT_EQ(receiver_.requests().size(), 2u);
  EXPECT_EQ(Slept(), Duration(7000));
}

TEST_F(WebhookNotifierTest, GivesUpAfterTheConfiguredAttempts) {
  options_.webhook_attempts = 4;
  for (int i = 0; i < 5; ++i) receiver_.Answer(500);
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  Status s = (*notifier)->Notify(event_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("HTTP 500"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("after 4 attempts"), std::string::npos) << s.ToString();
  EXPECT_EQ(receiver_.requests().size(), 4u);
  EXPECT_EQ(Slept(), Duration(1000 + 2000 + 4000));
}

TEST_F(WebhookNotifierTest, ClientErrorIsPermanent) {
  options_.webhook_secret = Secret(kWebhookSecret);
  receiver_.Answer(400);
  auto notifier = Make("webhook:" + receiver_.url("/h"));
  ASSERT_TRUE(notifier.ok());
  Status s = (*notifier)->Notify(event_);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("HTTP 400"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.ToString().find(kWebhookSecret), std::string::npos);
  EXPECT_EQ(receiver_.requests().size(), 1u);
  EXPECT_EQ(Slept(), Duration(0));
}

TEST_F(WebhookNotifierTest, NetworkErrorsRetryAndNeverQuoteThePath) {
  std::string url = receiver_.url("/services/T0SECRETPATH");
  receiver_.Stop();  // nothing listens on the port any more: connection refused
  auto notifier = Make("webhook:" + url);
  ASSERT_TRUE(notifier.ok());
  EXPECT_EQ((*notifier)->Describe().find("T0SECRETPATH"), std::string::npos);
  Status s = (*notifier)->Notify(event_);
  EXPECT_EQ(s.code(), StatusCode::kNetworkError) << s.ToString();
  EXPECT_EQ(s.ToString().find("T0SECRETPATH"), std::string::npos) << s.ToString();
  EXPECT_EQ(Slept(), Duration(1000 + 2000));
}

TEST_F(WebhookNotifierTest, PlainHttpOnlyToLoopback) {
  // Refused when the spec is parsed: no request is ever attempted.
  for (const char* spec : {"webhook:http://example.com/x", "webhook:http://10.0.0.8/hook",
                           "webhook:http://169.254.169.254/latest/meta-data/", "webhook:http://[fd00:ec2::254]/"}) {
    auto notifier = Make(spec);
    EXPECT_EQ(notifier.status().code(), StatusCode::kInvalidArgument) << spec;
  }
  EXPECT_TRUE(Make("webhook:https://example.com/x").ok());
  EXPECT_TRUE(Make("webhook:http://localhost:9/x").ok());
  EXPECT_EQ(Make("webhook:https://example.com/hooks/T0SECRET").value()->Describe(), "webhook:https://example.com/...");
  EXPECT_EQ(receiver_.requests().size(), 0u);
}

TEST_F(WebhookNotifierTest, NeedsATransport) {
  options_.transport = nullptr;
  EXPECT_FALSE(Make("webhook:" + receiver_.url("/h")).ok());
}

}  // namespace
}  // namespace keyrotor::notify
