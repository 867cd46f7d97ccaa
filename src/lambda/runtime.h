// An AWS Lambda custom runtime: the Runtime API loop (next invocation,
// response or error) that `keyrotor lambda` — or the binary installed as
// `bootstrap` in a deployment package — runs inside Lambda.
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
#pragma once

#include <functional>
#include <string>

#include "aws/http.h"
#include "base/clock.h"
#include "base/status.h"

namespace keyrotor::lambda {

struct Invocation {
  std::string request_id;    // Lambda-Runtime-Aws-Request-Id
  std::string body;          // the event
  TimePoint deadline{};      // Lambda-Runtime-Deadline-Ms
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
};

class RuntimeApiClient {
 public:
  // `api` is AWS_LAMBDA_RUNTIME_API ("127.0.0.1:9001"): plain http on loopback.
  RuntimeApiClient(aws::HttpTransport* transport, std::string api);

  // Blocks until Lambda has an event (no timeout, as the API asks).
  Result<Invocation> Next();
  Status Respond(const std::string& request_id, const std::string& body);
  // {"errorType": ..., "errorMessage": ...}; the message must hold no secret.
  Status Fail(const std::string& request_id, const std::string& error_type, const std::string& message);
  Status InitError(const std::string& error_type, const std::string& message);

 private:
  Status Post(const std::string& path, const std::string& body, bool is_error);
  aws::HttpTransport* transport_;
  std::string base_;
};

// What an invocation produces: the response document, or an error whose
// code becomes the errorType.
using InvocationHandler = std::function<Result<std::string>(const Invocation&)>;

// Serves invocations one at a time until the Runtime API fails (Lambda is
// shutting the environment down) or `max_invocations` were handled (0: no
// limit). A handler error is reported to Lambda and the loop goes on.
Status ServeInvocations(RuntimeApiClient& api, const InvocationHandler& handler, size_t max_invocations = 0);

}  // namespace keyrotor::lambda
