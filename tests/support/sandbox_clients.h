// Clients for a sandbox endpoint, as the integration tests build them.
#pragma once

#include <memory>
#include <string>

#include "aws/clients.h"

namespace keyrotor::testing {

// Clients that send every call to `endpoint` (region us-east-1), signing with
// the given key, or unsigned-until-told when `access_key_id` is empty.
inline aws::ClientFactory SandboxClients(const std::string& endpoint, aws::HttpTransport* transport,
                                         const std::string& access_key_id = "", const Secret& secret = Secret(),
                                         int max_attempts = 3) {
  aws::ClientContext ctx;
  ctx.transport = transport;
  ctx.retry.max_attempts = max_attempts;
  ctx.retry.base_backoff = Duration(20);  // injected faults retry quickly
  if (!access_key_id.empty()) {
    ctx.credentials = std::make_shared<aws::StaticCredentialsProvider>(
        aws::Credentials{access_key_id, secret.Clone(), Secret(), std::nullopt, "test"});
  }
  aws::EndpointSettings endpoints;
  endpoints.explicit_url = endpoint;
  return aws::ClientFactory(ctx, "us-east-1", endpoints, {});
}

}  // namespace keyrotor::testing
