#include "aws/retry.h"

#include <cmath>

#include <algorithm>
#include <array>
#include <random>

namespace keyrotor::aws {

bool IsThrottlingCode(std::string_view code) {
  // botocore/retries/standard.py and aws-wire.md §0. IAM's "LimitExceeded"
  // (a quota, HTTP 409) is deliberately absent: retrying it cannot succeed.
  static constexpr std::array<std::string_view, 14> kCodes = {
      "Throttling",          "ThrottlingException",        "ThrottledException",
      "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
      "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
      "LimitExceededException", "RequestThrottled",        "SlowDown",
      "PriorRequestNotComplete", "EC2ThrottledException"};
  return std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

bool IsTransientCode(std::string_view code) {
  return code == "RequestTimeout" || code == "RequestTimeoutException" || code == "PriorRequestNotComplete" ||
         code == "InternalError" || code == "InternalFailure" || code == "ServiceUnavailable";
}

RetryClass Classify(const Status& status, bool idempotent) {
  if (status.ok()) return RetryClass::kNone;
  if (const AwsErrorDetail* aws = status.aws()) {
    if (IsThrottlingCode(aws->code)) return RetryClass::kThrottling;
    if (IsTransientCode(aws->code)) return RetryClass::kTransient;
    int s = aws->http_status;
    if (s == 500 || s == 502 || s == 503 || s == 504) return RetryClass::kTransient;
    return RetryClass::kNone;
  }
  switch (status.code()) {
    case StatusCode::kNetworkError:
      return RetryClass::kTransient;
    case StatusCode::kUnknownOutcome:
      return idempotent ? RetryClass::kTransient : RetryClass::kNone;
    default:
      return RetryClass::kNone;
  }
}

bool RetryQuota::Acquire(bool timeout) {
  std::lock_guard<std::mutex> lock(mu_);
  int cost = timeout ? 10 : 5;
  if (tokens_ < cost) return false;
  tokens_ -= cost;
  return true;
}

void RetryQuota::OnSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::min(500, tokens_ + 1);
}

RetryStrategy::RetryStrategy(RetryOptions options, Clock* clock, RetryQuota* quota, std::function<double()> random)
    : options_(options), clock_(clock), quota_(quota), random_(std::move(random)) {
  if (!random_) {
    random_ = [] {
      thread_local std::mt19937_64 engine{std::random_device{}()};
      return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    };
  }
}

Duration RetryStrategy::Backoff(int attempt) {
  int exponent = std::clamp(attempt - 2, 0, 30);
  double cap = std::min<double>(static_cast<double>(options_.base_backoff.count()) * static_cast<double>(1LL << exponent),
                                static_cast<double>(options_.max_backoff.count()));
  return Duration(static_cast<Duration::rep>(random_() * cap));
}

namespace {

// botocore's CUBIC constants (retries/adaptive.py): the rate drops to
// kBeta of the rate that was throttled, then climbs back along
// W(t) = kScale (t - K)^3 + W_max, flat near W_max, where K is when it gets
// there again.
constexpr double kBeta = 0.7;
constexpr double kScale = 0.4;
// A throttle cuts the rate once per interval: the throttles that follow at
// once answer requests sent before the cut, and cutting again for each would
// collapse the rate to its floor (as TCP cuts its window once per round trip).
constexpr std::chrono::milliseconds kDecreaseInterval{1000};

}  // namespace

AdaptiveRateLimiter::AdaptiveRateLimiter(Clock* clock, double min_rate, double max_rate)
    : clock_(clock), min_rate_(min_rate), max_rate_(max_rate) {
  if (max_rate_ > 0) {
    enabled_ = true;
    rate_ = max_rate_;
    credit_ = 1;  // a first request goes at once; the bucket then refills at the ceiling
    last_refill_ = clock_->Now();
  }
}

bool AdaptiveRateLimiter::enabled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return enabled_;
}

double AdaptiveRateLimiter::rate() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rate_;
}

void AdaptiveRateLimiter::RefillLocked(TimePoint now) {
  double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  // Unused credit is capped at a second's worth (at least one send).
  if (elapsed > 0) credit_ = std::min(credit_ + elapsed * rate_, issued_ + std::max(1.0, rate_));
  last_refill_ = now;
}

double AdaptiveRateLimiter::SentRateLocked(TimePoint now) const {
  // The window in progress counts once it is long enough to say something;
  // a burst at the very start is read over a quarter second.
  double elapsed = std::max(0.25, std::chrono::duration<double>(now - window_start_).count());
  return std::max(measured_rate_, window_sends_ / elapsed);
}

void AdaptiveRateLimiter::UpdateRateLocked(TimePoint now) {
  if (!throttled_once_) return;  // at the ceiling until the service first says otherwise
  double t = std::chrono::duration<double>(now - last_decrease_).count();
  double k = std::cbrt(last_max_ * (1 - kBeta) / kScale);
  double cubic = kScale * (t - k) * (t - k) * (t - k) + last_max_;
  // Never more than twice what is actually being sent: a quiet spell must not
  // grow a rate nobody tested (botocore bounds it the same way).
  double rate = std::min(cubic, 2 * std::max(SentRateLocked(now), min_rate_));
  if (max_rate_ > 0) rate = std::min(rate, max_rate_);
  rate_ = std::max(min_rate_, rate);
}

void AdaptiveRateLimiter::CountSendLocked(TimePoint now) {
  if (now - window_start_ >= std::chrono::seconds(1)) {
    double seconds = std::chrono::duration<double>(now - window_start_).count();
    measured_rate_ = window_start_ == TimePoint{} ? 0 : window_sends_ / seconds;
    window_start_ = now;
    window_sends_ = 0;
  }
  ++window_sends_;
}

Duration AdaptiveRateLimiter::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  TimePoint now = clock_->Now();
  if (!enabled_) {
    CountSendLocked(now);
    return Duration(0);
  }
  RefillLocked(now);
  UpdateRateLocked(now);
  // Senders go in the order they came, each when the credit reaches its
  // ticket. A waiter recomputes its wait at the current rate before it has
  // slept half of it: when a throttle cuts the rate, the requests queued at
  // the old one slow down too (else their throttles would cut it again), and
  // a rate that climbs lets them go sooner.
  const double ticket = issued_;
  issued_ += 1;
  Duration waited{0};
  while (credit_ < ticket + 1) {
    double seconds = (ticket + 1 - credit_) / rate_;
    auto needed = std::max<Duration::rep>(1, static_cast<Duration::rep>(std::ceil(seconds * 1000.0)));
    Duration wait(needed > 100 ? needed / 2 : needed);
    lock.unlock();
    clock_->SleepFor(wait);
    waited += wait;
    lock.lock();
    now = clock_->Now();
    RefillLocked(now);
    UpdateRateLocked(now);
  }
  CountSendLocked(now);
  return waited;
}

void AdaptiveRateLimiter::OnResponse(bool throttled) {
  std::lock_guard<std::mutex> lock(mu_);
  TimePoint now = clock_->Now();
  if (throttled) {
    if (throttled_once_ && now - last_decrease_ < kDecreaseInterval) return;
    double sent = SentRateLocked(now);
    double base = enabled_ ? std::min(rate_, std::max(sent, min_rate_)) : std::max(sent, 2.0);
    if (!enabled_) {
      enabled_ = true;
      last_refill_ = now;
      credit_ = issued_;
    } else {
      RefillLocked(now);
    }
    throttled_once_ = true;
    last_max_ = base;
    last_decrease_ = now;
    rate_ = std::max(min_rate_, base * kBeta);
  } else if (enabled_) {
    RefillLocked(now);
    UpdateRateLocked(now);
  }
}

}  // namespace keyrotor::aws
