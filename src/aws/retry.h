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
