#include "notify/webhook_notifier.h"

#include <algorithm>
#include <charconv>

#include "aws/curl_transport.h"
#include "base/crypto.h"

namespace keyrotor::notify {
namespace {

constexpr Duration kFirstBackoff{1000};
constexpr Duration kMaxBackoff{30000};
// A receiver's Retry-After is honoured up to this; beyond it the engine's
// next run is the better retry.
constexpr Duration kMaxRetryAfter{60000};

bool IsRetryableHttpStatus(int status) { return status == 429 || status >= 500; }

// Retry-After in delta-seconds (the HTTP-date form is rare for webhooks and
// falls back to our own backoff).
std::optional<Duration> RetryAfter(const aws::HttpResponse& response) {
  const std::string* value = aws::FindHeader(response.headers, "Retry-After");
  if (value == nullptr) return std::nullopt;
  int seconds = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
  if (ec != std::errc() || end != value->data() + value->size() || seconds < 0) return std::nullopt;
  return std::min<Duration>(Duration(seconds * 1000LL), kMaxRetryAfter);
}

// `status` with every mention of `url` replaced by `shown`: the transport
// quotes the URL it failed to reach, and ours may carry a credential.
Status ScrubUrl(const Status& status, const std::string& url, const std::string& shown) {
  std::string message = status.message();
  for (size_t pos = message.find(url); pos != std::string::npos; pos = message.find(url, pos + shown.size())) {
    message.replace(pos, url.size(), shown);
  }
  switch (status.code()) {
    case StatusCode::kNetworkError:
      return Status::NetworkError(std::move(message));
    case StatusCode::kUnknownOutcome:
      return Status::UnknownOutcome(std::move(message));
    case StatusCode::kFailedPrecondition:
      return Status::FailedPrecondition(std::move(message));
    case StatusCode::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

class WebhookNotifier : public Notifier {
 public:
  WebhookNotifier(std::string url, const aws::Url& parsed, const NotifierOptions& options)
      : url_(std::move(url)),
        // The path and query of a webhook URL are often its credential
        // (chat incoming-webhook URLs): only scheme and host are ever shown.
        shown_url_(parsed.scheme + "://" + parsed.Authority() +
                   (parsed.path == "/" && parsed.query.empty() ? "/" : "/...")),
        shown_("webhook:" + shown_url_),
        transport_(options.transport),
        clock_(options.clock),
        secret_(options.webhook_secret),
        attempts_(std::max(1, options.webhook_attempts)) {}

  std::string Describe() const override { return shown_; }

  Status Notify(const Event& event) override {
    aws::HttpRequest request;
    request.method = "POST";
    request.url = url_;
    request.body = EventToJson(event).dump();
    aws::SetHeader(request.headers, "Content-Type", "application/json");
    aws::SetHeader(request.headers, "User-Agent", std::string("keyrotor/") + KEYROTOR_VERSION);
    aws::SetHeader(request.headers, "X-Keyrotor-Event", EventName(event.kind));
    // One id for every attempt of this delivery: a receiver that saw an
    // attempt whose answer we lost can recognise the retry.
    const std::string delivery = RandomUuid();
    aws::SetHeader(request.headers, "X-Keyrotor-Delivery", delivery);
    aws::TransportOptions timeouts;
    timeouts.connect_timeout = std::chrono::milliseconds(5000);
    timeouts.total_timeout = std::chrono::milliseconds(15000);

    Status last;
    Duration backoff = kFirstBackoff;
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      std::optional<Duration> wait;
      // Stamped and signed per attempt: a receiver refuses a timestamp far
      // from its own clock, so a captured request cannot be replayed later,
      // and our own retries (up to minutes apart) stay acceptable.
      std::string timestamp = std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count());
      if (!secret_.empty()) {
        aws::SetHeader(request.headers, "X-Keyrotor-Signature-256",
                       WebhookSignature(secret_.get(), timestamp, delivery, request.body));
      }
      aws::SetHeader(request.headers, "X-Keyrotor-Timestamp", std::move(timestamp));
      Result<aws::HttpResponse> response = transport_->Send(request, timeouts);
      if (!response.ok()) {
        Status s = ScrubUrl(response.status(), url_, shown_url_);
        // Delivery is at least once, so a request that may have arrived
        // (UnknownOutcome) is resent too: the delivery id makes that safe.
        if (s.code() != StatusCode::kNetworkError && !s.IsUnknownOutcome()) return s.WithContext(shown_);
        last = s;
      } else if (response->status >= 200 && response->status < 300) {
        return Status::Ok();
      } else if (!IsRetryableHttpStatus(response->status)) {
        return Status::FailedPrecondition(shown_ + " answered HTTP " + std::to_string(response->status) +
                                          " (not retried: the receiver refused the delivery)");
      } else {
        last = Status::UnknownOutcome(shown_ + " answered HTTP " + std::to_string(response->status));
        wait = RetryAfter(*response);
      }
      if (attempt < attempts_) {
        clock_->SleepFor(wait.value_or(backoff));
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
    }
    return last.WithContext("after " + std::to_string(attempts_) + (attempts_ == 1 ? " attempt" : " attempts"));
  }

 private:
  const std::string url_;
  const std::string shown_url_;
  const std::string shown_;
  aws::HttpTransport* const transport_;
  Clock* const clock_;
  const SharedSecret secret_;
  const int attempts_;
};

}  // namespace

std::string WebhookSignature(const Secret& secret, std::string_view timestamp, std::string_view delivery,
                             std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + delivery.size() + body.size() + 2);
  signed_text.append(timestamp).append(".").append(delivery).append(".").append(body);
  return "sha256=" + HexEncode(HmacSha256(secret.reveal(), signed_text));
}

Result<std::unique_ptr<Notifier>> MakeWebhookNotifier(std::string_view url, const NotifierOptions& options) {
  Result<aws::Url> parsed = aws::ParseUrl(url);
  if (!parsed.ok()) return Status::InvalidArgument("--notify webhook: not a URL (expected https://HOST/PATH)");
  // The transport's own rule, checked now so a bad spec fails before any rotation.
  Status safe = aws::CheckUrlIsSafe(*parsed);
  if (!safe.ok()) return safe.WithContext("--notify webhook");
  if (options.transport == nullptr) return Status::Internal("webhook notifier built without an HTTP transport");
  if (options.clock == nullptr) return Status::Internal("webhook notifier built without a clock");
  return std::unique_ptr<Notifier>(std::make_unique<WebhookNotifier>(std::string(url), *parsed, options));
}

}  // namespace keyrotor::notify
