// Deliberate misbehaviour: injected server faults and throttling, decided per
// request before the operation runs, so an injected fault means the
// operation did not happen (what a client's retry logic must assume for a
// 500/503, and must not assume for a reset after sending).
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

#include "base/clock.h"

namespace keyrotor::sandbox {

struct FaultDecision {
  enum class Kind {
    kNone,
    kInternalError,       // HTTP 500 InternalFailure (IAM: ServiceFailure)
    kServiceUnavailable,  // HTTP 503 ServiceUnavailable
    kConnectionReset,     // the server drops the connection without answering
    kThrottled,           // HTTP 400 Throttling / ThrottlingException
  };
  Kind kind = Kind::kNone;

  bool faulted() const { return kind != Kind::kNone; }
};

// Requests per second with a burst: Take() is true while a token is left.
// Not synchronised: its owner locks.
class TokenBucket {
 public:
  TokenBucket(double rps, double burst) : rps_(rps), burst_(burst), tokens_(burst) {}
  bool Take(TimePoint now);

 private:
  double rps_, burst_, tokens_;
  TimePoint last_refill_{};
  bool refilled_once_ = false;
};

class FaultInjector {
 public:
  // fail_rate in [0, 1]; throttle_rps 0 = no throttling; seed 0 = random.
  FaultInjector(double fail_rate, double throttle_rps, uint64_t seed);

  // One decision per request. Exactly one random draw is made per call, so
  // with a fixed seed the sequence of faults depends only on the number of
  // requests, not on what they were or on throttling.
  FaultDecision Decide(TimePoint now);

 private:
  const double fail_rate_;
  const double rps_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  TokenBucket bucket_;
};

}  // namespace keyrotor::sandbox
