// The shared machinery of every service client: sign, send, retry, and turn
// error documents into one Status. Protocol clients (query/XML and JSON 1.1)
// sit on top; each service client is a thin typed layer over those.
#pragma once

#include <pugixml.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "aws/endpoints.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "base/clock.h"

namespace keyrotor::aws {

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Result<Credentials> GetCredentials() = 0;
};

class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials) : credentials_(std::move(credentials)) {}
  Result<Credentials> GetCredentials() override { return credentials_.Clone(); }

 private:
  Credentials credentials_;
};

// What clients of one identity share.
struct ClientContext {
  HttpTransport* transport = nullptr;
  std::shared_ptr<CredentialsProvider> credentials;
  Clock* clock = Clock::Real();
  RetryOptions retry;
  RetryQuota* quota = nullptr;  // nullptr: no quota
  AdaptiveRateLimiter* rate_limiter = nullptr;  // retry_mode "adaptive"; nullptr: standard
  // A second limiter for this service alone, passed as well as rate_limiter
  // (IAM's per-account ceiling in a fleet run); nullptr: none.
  AdaptiveRateLimiter* service_rate_limiter = nullptr;
  TransportOptions timeouts;
};

enum class Idempotency { kIdempotent, kNotIdempotent };

struct CallOptions {
  Idempotency idempotency = Idempotency::kIdempotent;
  bool sign = true;
  // Set to true when an attempt before the final one may have taken effect
  // (its outcome was unknown, or the service answered 5xx). A delete whose
  // retry answers "not found" then succeeded on the earlier attempt.
  bool* earlier_attempt_may_have_applied = nullptr;
};

class ServiceClient {
 public:
  ServiceClient(ClientContext context, ServiceEndpoint endpoint);
  virtual ~ServiceClient() = default;
  const ServiceEndpoint& endpoint() const { return endpoint_; }
  const ClientContext& context() const { return context_; }
  // The request id of the last successful call, for the audit trail (AWS
  // support asks for it). One client per task: not synchronised.
  const std::string& last_request_id() const { return last_request_id_; }

 protected:
  // Sends `request` (url and body set by the caller) with signing and retries.
  // Returns the 2xx response, or the error as a Status.
  Result<HttpResponse> Invoke(std::string_view operation, HttpRequest request, const CallOptions& options);
  virtual Status ParseError(std::string_view operation, const HttpResponse& response) const = 0;

  ClientContext context_;
  ServiceEndpoint endpoint_;
  std::string last_request_id_;
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// AWS query protocol: form-encoded POST, XML reply (IAM, STS, SNS).
class QueryClient : public ServiceClient {
 public:
  QueryClient(ClientContext context, ServiceEndpoint endpoint, std::string api_version);

  struct Reply {
    std::unique_ptr<pugi::xml_document> doc;
    pugi::xml_node result;  // <OpResult>, or an empty node for ops without output
    std::string request_id;
  };
  Result<Reply> Call(const std::string& action, const QueryParams& params, const CallOptions& options = {});

  // Runs a paginated list call (Marker/IsTruncated), calling `on_member` for
  // each <member> of `list_element`.
  Status Paginate(const std::string& action, QueryParams params, const char* list_element,
                  const std::function<Status(pugi::xml_node)>& on_member);

 protected:
  Status ParseError(std::string_view operation, const HttpResponse& response) const override;

 private:
  std::string api_version_;
};

// AWS JSON 1.1 protocol (Secrets Manager, SSM).
class JsonClient : public ServiceClient {
 public:
  JsonClient(ClientContext context, ServiceEndpoint endpoint, std::string target_prefix);
  Result<nlohmann::json> Call(const std::string& operation, const nlohmann::json& body,
                              const CallOptions& options = {});

 protected:
  Status ParseError(std::string_view operation, const HttpResponse& response) const override;

 private:
  std::string target_prefix_;
};

// Form-encodes query parameters byte for byte as botocore does (Python's
// urlencode: a space as '+', only letters, digits and _.-~ kept as they are).
std::string EncodeQueryBody(const std::string& action, const std::string& version, const QueryParams& params);
// Parses a query-protocol error document (<ErrorResponse><Error> or <Response><Errors><Error>).
AwsErrorDetail ParseQueryErrorBody(const HttpResponse& response);
// Parses a JSON 1.1 error (__type with its "#" and ":" trimmed as botocore does).
AwsErrorDetail ParseJsonErrorBody(const HttpResponse& response);

// XML helpers.
std::string ChildText(pugi::xml_node node, const char* name);
// The text of `node`'s child `name` as a Secret, overwritten in the document
// (in place: same length, so pugixml reuses the buffer) so that the parsed
// reply no longer holds it when it is freed.
Secret TakeSecretText(pugi::xml_node node, const char* name);
Result<TimePoint> ChildTime(pugi::xml_node node, const char* name);

}  // namespace keyrotor::aws
