// Keeps another provider's credentials in memory and refreshes them shortly
// before they expire, so a fleet run of thousands of calls asks STS, IMDS or a
// credential_process once per session instead of once per request.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "aws/client.h"
#include "base/clock.h"

namespace keyrotor::credentials {

struct CachingOptions {
  // Refresh when the credentials expire within this margin. botocore refreshes
  // 15 min ahead when it can ("advisory") and must within 10 min; 5 min leaves
  // every call that starts now room to finish signing with the old ones.
  Duration refresh_margin = std::chrono::minutes(5);
  Clock* clock = Clock::Real();
};

class CachingCredentialsProvider : public aws::CredentialsProvider {
 public:
  explicit CachingCredentialsProvider(std::shared_ptr<aws::CredentialsProvider> inner, CachingOptions options = {});

  // Thread-safe. At most one refresh runs at a time; callers that arrive
  // during it wait and share its outcome. A failed refresh while the cached
  // credentials have not yet expired returns them (the next call retries).
  // Credentials without an expiration are fetched once. Credentials that
  // live shorter than twice the margin are refreshed at half their remaining
  // life instead, so a source that hands out 4-minute credentials is not
  // asked again on every call.
  Result<aws::Credentials> GetCredentials() override;

 private:
  bool NeedsRefresh(TimePoint now) const;
  bool Usable(TimePoint now) const;
  // What a caller gets after a refresh finished with `error` (ok = success).
  Result<aws::Credentials> Outcome(const Status& error, TimePoint now) const;

  const std::shared_ptr<aws::CredentialsProvider> inner_;
  const CachingOptions options_;

  std::mutex mu_;
  std::condition_variable refreshed_;
  std::optional<aws::Credentials> cached_;
  TimePoint refresh_at_;  // when cached_ (if it expires) is due for a refresh
  bool refreshing_ = false;
  uint64_t generation_ = 0;  // bumped when a refresh ends
  Status last_error_;        // of the refresh that ended last
};

}  // namespace keyrotor::credentials
