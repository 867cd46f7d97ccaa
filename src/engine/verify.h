// Proving a new key works before anything depends on it: STS
// GetCallerIdentity signed with the key, polled while IAM propagates it.
#pragma once

#include <string>

#include "aws/clients.h"
#include "base/secret.h"

namespace keyrotor::engine {

// Errors IAM answers for a key it has not propagated yet (or has retired).
bool IsPropagationError(const Status& status);

// Signs GetCallerIdentity with the key until it is accepted or `timeout`
// passes (polling briskly: propagation usually takes seconds). Other errors
// end the wait at once.
Result<aws::CallerIdentity> VerifyKeyWorks(const aws::ClientFactory& base, const std::string& access_key_id,
                                           const Secret& secret, Duration timeout);

// Runs `call` (an IAM call signed with a just-created key) with the same
// bounded wait while it fails with a propagation error.
Status RetryWhilePropagating(Clock* clock, Duration timeout, const std::function<Status()>& call);

// Static credentials for one key, as a provider.
std::shared_ptr<aws::CredentialsProvider> StaticKey(const std::string& access_key_id, const Secret& secret,
                                                    const std::string& provider_name);

}  // namespace keyrotor::engine
