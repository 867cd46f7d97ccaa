// The AWS SDKs' "standard" retry mode (botocore retries/standard.py):
// up to max_attempts tries, exponential backoff with full jitter capped at
// 20 s, retrying throttling codes, transient codes, HTTP 500/502/503/504 and
// transient network failures, with a shared retry quota so a broken endpoint
// does not multiply load. "adaptive" adds a client-side rate limiter (later).
#pragma once

#include <functional>
#include <mutex>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace keyrotor::aws {

bool IsThrottlingCode(std::string_view code);
bool IsTransientCode(std::string_view code);

enum class RetryClass { kNone, kThrottling, kTransient };
// How a failed attempt should be treated. `idempotent` false means a request
// whose outcome is unknown (timeout after sending) must not be blindly resent.
RetryClass Classify(const Status& status, bool idempotent);

struct RetryOptions {
  int max_attempts = 3;  // AWS_MAX_ATTEMPTS / max_attempts; counts the first try
  Duration max_backoff{20000};
  Duration base_backoff{1000};
  // With a rate limiter, a throttled attempt is retried when the limiter lets
  // it go (no backoff, no retry quota: the limiter already slowed down) up to
  // this many attempts in all; errors of other kinds still count against
  // max_attempts. A fleet run at an account's limit is throttled often, and
  // giving up on a throttle would fail a rotation that only had to wait.
  int max_throttled_attempts = 20;
};

// botocore's retry quota: 500 tokens, 5 per retry (10 after a timeout), one
// refunded per success. Shared by all clients of one process/endpoint.
class RetryQuota {
 public:
  bool Acquire(bool timeout);
  void OnSuccess();

 private:
  std::mutex mu_;
  int tokens_ = 500;
};

// "adaptive" retry mode's client-side rate limiter, botocore's design: dormant
// until the service first throttles; then sends are paced by a token bucket
// whose rate drops to 0.7x of the rate actually sent when a throttle comes
// (once a second at most: the throttles right after a cut answer requests
// sent before it), and climbs back along a CUBIC curve that flattens out
// near the rate that was throttled, so it spends its time just under the
// service's limit instead of sawing far below it.
//
// With a ceiling (a fleet account's configured rate_limit) it is enabled from
// the start at the ceiling and never sends faster, but still backs off when
// the service throttles below it (another tool sharing the account's quota).
class AdaptiveRateLimiter {
 public:
  // `max_rate` 0: no ceiling (dormant until throttled).
  explicit AdaptiveRateLimiter(Clock* clock, double min_rate = 0.5, double max_rate = 0);
  // Waits (through the clock) until a send may go; returns how long it waited.
  Duration Acquire();
  void OnResponse(bool throttled);
  bool enabled() const;
  double rate() const;  // tokens per second, while enabled

 private:
  void RefillLocked(TimePoint now);
  double SentRateLocked(TimePoint now) const;
  void CountSendLocked(TimePoint now);
  void UpdateRateLocked(TimePoint now);  // the CUBIC climb since the last cut

  Clock* clock_;
  const double min_rate_;
  const double max_rate_;
  mutable std::mutex mu_;
  bool enabled_ = false;
  double rate_ = 0;
  // Sends let through (issued_) and the bucket's credit so far; a sender may
  // go once credit_ covers its place in the queue.
  double issued_ = 0;
  double credit_ = 0;
  TimePoint last_refill_{};
  // Sends in the current one-second window, to learn the rate actually sent.
  TimePoint window_start_{};
  int window_sends_ = 0;
  double measured_rate_ = 0;
  // The last cut: when, and the rate that was throttled then (CUBIC's W_max).
  bool throttled_once_ = false;
  TimePoint last_decrease_{};
  double last_max_ = 0;
};

class RetryStrategy {
 public:
  // `random` returns a uniform value in [0,1); the default uses a thread-local engine.
  RetryStrategy(RetryOptions options, Clock* clock, RetryQuota* quota = nullptr,
                std::function<double()> random = nullptr);

  // Delay before attempt number `attempt` (2 = first retry): rand * min(base * 2^(attempt-2), max).
  Duration Backoff(int attempt);
  const RetryOptions& options() const { return options_; }
  Clock* clock() const { return clock_; }
  RetryQuota* quota() const { return quota_; }

 private:
  RetryOptions options_;
  Clock* clock_;
  RetryQuota* quota_;
  std::function<double()> random_;
};

}  // namespace keyrotor::aws
