#include "engine/verify.h"

#include <algorithm>

namespace keyrotor::engine {
namespace {

constexpr Duration kFirstPropagationWait{200};
constexpr Duration kMaxPropagationWait{1000};

}  // namespace

bool IsPropagationError(const Status& s) {
  return s.IsAws("InvalidClientTokenId") || s.IsAws("SignatureDoesNotMatch") || s.IsAws("AuthFailure") ||
         s.IsAws("UnrecognizedClientException") || s.IsAws("InvalidAccessKeyId");
}

std::shared_ptr<aws::CredentialsProvider> StaticKey(const std::string& id, const Secret& secret,
                                                    const std::string& provider) {
  return std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{id, secret.Clone(), Secret(), std::nullopt, provider});
}

Status RetryWhilePropagating(Clock* clock, Duration timeout, const std::function<Status()>& call) {
  TimePoint deadline = clock->Now() + timeout;
  Duration wait = kFirstPropagationWait;
  while (true) {
    Status s = call();
    if (s.ok() || !IsPropagationError(s) || clock->Now() + wait > deadline) return s;
    clock->SleepFor(wait);
    wait = std::min<Duration>(wait * 2, kMaxPropagationWait);
  }
}

Result<aws::CallerIdentity> VerifyKeyWorks(const aws::ClientFactory& base, const std::string& access_key_id,
                                           const Secret& secret, Duration timeout) {
  aws::ClientFactory as_key = base.WithCredentials(StaticKey(access_key_id, secret, "new key " + access_key_id));
  KR_ASSIGN_OR_RETURN(aws::StsClient sts, as_key.Sts());
  aws::CallerIdentity identity;
  Status s = RetryWhilePropagating(base.context().clock, timeout, [&]() -> Status {
    Result<aws::CallerIdentity> who = sts.GetCallerIdentity();
    if (!who.ok()) return who.status();
    identity = *who;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return identity;
}

}  // namespace keyrotor::engine
