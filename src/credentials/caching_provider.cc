#include "credentials/caching_provider.h"

#include <algorithm>
#include <utility>

namespace keyrotor::credentials {

CachingCredentialsProvider::CachingCredentialsProvider(std::shared_ptr<aws::CredentialsProvider> inner,
                                                       CachingOptions options)
    : inner_(std::move(inner)), options_(options) {}

bool CachingCredentialsProvider::NeedsRefresh(TimePoint now) const {
  if (!cached_) return true;
  if (!cached_->expiration) return false;
  return refresh_at_ <= now;
}

bool CachingCredentialsProvider::Usable(TimePoint now) const {
  return cached_ && (!cached_->expiration || *cached_->expiration > now);
}

Result<aws::Credentials> CachingCredentialsProvider::Outcome(const Status& error, TimePoint now) const {
  if (error.ok() && cached_) return cached_->Clone();
  // The refresh failed, but what we hold still signs: use it and let the next
  // call try again, rather than fail a rotation over a transient STS error.
  if (Usable(now)) return cached_->Clone();
  if (!error.ok()) return error;
  return Status::Internal("credentials cache: refresh produced no credentials");
}

Result<aws::Credentials> CachingCredentialsProvider::GetCredentials() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!NeedsRefresh(options_.clock->Now())) return cached_->Clone();

  if (refreshing_) {
    // Share the refresh in flight rather than start another: N threads must
    // not turn into N AssumeRole calls (or N MFA prompts).
    const uint64_t generation = generation_;
    refreshed_.wait(lock, [&] { return generation_ != generation; });
    return Outcome(last_error_, options_.clock->Now());
  }

  refreshing_ = true;
  lock.unlock();
  Result<aws::Credentials> fresh = inner_->GetCredentials();
  lock.lock();
  refreshing_ = false;
  ++generation_;
  if (fresh.ok()) {
    cached_ = std::move(fresh).value();
    if (cached_->expiration) {
      const auto now = options_.clock->Now();
      // Already expired credentials (a skewed source) count as zero lifetime.
      const auto lifetime = std::max<std::chrono::system_clock::duration>(*cached_->expiration - now, {});
      const auto margin = std::min<std::chrono::system_clock::duration>(options_.refresh_margin, lifetime / 2);
      refresh_at_ = *cached_->expiration - margin;
    }
    last_error_ = Status::Ok();
  } else {
    last_error_ = fresh.status();
  }
  refreshed_.notify_all();
  return Outcome(last_error_, options_.clock->Now());
}

}  // namespace keyrotor::credentials
