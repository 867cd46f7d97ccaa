#include "sandbox/faults.h"

#include <algorithm>

namespace keyrotor::sandbox {

bool TokenBucket::Take(TimePoint now) {
  if (!refilled_once_) {
    last_refill_ = now;
    refilled_once_ = true;
  } else if (now > last_refill_) {
    double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rps_);
    last_refill_ = now;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

FaultInjector::FaultInjector(double fail_rate, double throttle_rps, uint64_t seed)
    : fail_rate_(std::clamp(fail_rate, 0.0, 1.0)),
      rps_(std::max(0.0, throttle_rps)),
      rng_(seed != 0 ? seed : std::random_device{}()),
      bucket_(rps_, std::max(1.0, throttle_rps)) {}

FaultDecision FaultInjector::Decide(TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  // A 53-bit uniform draw in [0, 1): the first fail_rate of it picks a fault,
  // and where in that slice it fell picks which of the three.
  double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  if (u < fail_rate_) {
    int which = std::min(2, static_cast<int>(u / fail_rate_ * 3));
    switch (which) {
      case 0:
        return {FaultDecision::Kind::kInternalError};
      case 1:
        return {FaultDecision::Kind::kServiceUnavailable};
      default:
        return {FaultDecision::Kind::kConnectionReset};
    }
  }
  if (rps_ <= 0) return {};
  if (!bucket_.Take(now)) return {FaultDecision::Kind::kThrottled};
  return {};
}

}  // namespace keyrotor::sandbox
