// A transport that answers every request with the fuzzer's bytes, so the
// service clients parse them exactly as they parse a real reply: the parsing
// code is reached through the HttpTransport seam, not copied.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "aws/client.h"
#include "aws/http.h"
#include "base/clock.h"

namespace keyrotor::fuzz {

class ScriptedTransport : public aws::HttpTransport {
 public:
  // Called per request; returns the response to send.
  using Answer = std::function<aws::HttpResponse(const aws::HttpRequest&)>;
  explicit ScriptedTransport(Answer answer) : answer_(std::move(answer)) {}
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions&) override {
    ++requests_;
    return answer_(request);
  }
  int requests() const { return requests_; }

 private:
  Answer answer_;
  int requests_ = 0;
};

// One attempt per call (a retry would only parse the same bytes again) and a
// clock that never sleeps.
inline aws::ClientContext FuzzContext(aws::HttpTransport* transport, Clock* clock) {
  aws::ClientContext context;
  context.transport = transport;
  aws::Credentials credentials;
  credentials.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  credentials.secret_access_key = Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  credentials.provider = "fuzz";
  context.credentials = std::make_shared<aws::StaticCredentialsProvider>(std::move(credentials));
  context.clock = clock;
  context.retry.max_attempts = 1;
  context.retry.max_throttled_attempts = 1;
  return context;
}

}  // namespace keyrotor::fuzz
