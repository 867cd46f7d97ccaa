// The sandbox's side of the AWS wire: which service and operation a request
// names, its parameters, and the one way every reply and error is rendered
// (query-protocol XML for IAM/STS/SNS, JSON 1.1 for Secrets Manager and SSM).
// Shapes follow shared/reference/aws-wire.md §0.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http.h"
#include "base/status.h"

namespace keyrotor::sandbox {

enum class Service { kUnknown, kIam, kSts, kSns, kSecretsManager, kSsm, kOrganizations, kCloudTrail };

// The SigV4 service name: "iam", "sts", "sns", "secretsmanager", "ssm", "organizations".
std::string_view SigningName(Service service);
bool IsJsonService(Service service);

// Decoded query-protocol parameters (form body and URL query string).
using Params = std::map<std::string, std::string, std::less<>>;

// What a request asks for, known before authentication.
struct RoutedRequest {
  Service service = Service::kUnknown;
  bool json_protocol = false;
  std::string operation;      // "CreateAccessKey", "GetSecretValue"
  Params params;              // query protocol
  nlohmann::json body;        // JSON protocol: the request object
  std::string scope_service;  // from the Authorization header, when it parses
};

// Works out service and operation: JSON 1.1 by X-Amz-Target prefix; query
// protocol by Action + Version (several services share one endpoint), then by
// the credential scope's service when Version is absent. A routing failure
// comes back as the AWS error to send (InvalidAction, UnknownOperationException,
// SerializationException), with `out` filled as far as it got so the error
// can be rendered in the right protocol.
Status Route(const aws::HttpRequest& request, RoutedRequest& out);

// An error the sandbox sends: an AWS code, message and HTTP status.
Status ApiError(int http_status, std::string code, std::string message);
// "1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint: <constraint>"
// (Coral's wording, which IAM, STS, SSM and Secrets Manager all use).
std::string ValidationMessage(std::string_view value, std::string_view member, std::string_view constraint);
std::string NullValidationMessage(std::string_view member);

// Builds XML with escaping; elements are closed by name to keep call sites readable.
class XmlWriter {
 public:
  XmlWriter& Open(std::string_view name);
  XmlWriter& Close(std::string_view name);
  XmlWriter& Leaf(std::string_view name, std::string_view text);
  XmlWriter& Empty(std::string_view name);  // <Name/>
  std::string Take();

 private:
  std::string out_;
};
std::string XmlEscape(std::string_view text);

// A successful operation's output, in whichever protocol the service speaks.
struct Reply {
  std::string xml;         // query: the children of <OpResult>
  bool has_result = true;  // query operations without output send no <OpResult>
  nlohmann::json json = nlohmann::json::object();

  static Reply Xml(std::string children);
  static Reply NoResult();
  static Reply Json(nlohmann::json body);
  Reply() = default;
  Reply(const Reply&) = default;
  Reply(Reply&&) = default;
  Reply& operator=(const Reply&) = default;
  Reply& operator=(Reply&&) = default;
  ~Reply();  // the XML may hold a new secret access key
};

aws::HttpResponse RenderReply(const RoutedRequest& routed, const Reply& reply);
// `error` must carry AWS detail (from ApiError); anything else renders as an internal failure.
aws::HttpResponse RenderError(const RoutedRequest& routed, const Status& error);

// Query-protocol list helpers: Name.member.N (N from 1, stopping at the first gap)
// and Name.member.N.Field structures.
std::vector<std::string> MemberList(const Params& params, std::string_view name);
std::vector<std::map<std::string, std::string>> MemberStructs(const Params& params, std::string_view name);
const std::string* FindParam(const Params& params, std::string_view name);

// JSON 1.1 request members. A member of the wrong JSON type is a
// SerializationException (400); a missing required one a ValidationException
// naming the member in lowerCamelCase, as Coral does.
Result<std::optional<std::string>> OptionalString(const nlohmann::json& body, const char* name);
Result<std::string> RequiredString(const nlohmann::json& body, const char* name);
Result<std::optional<bool>> OptionalBool(const nlohmann::json& body, const char* name);
Result<std::optional<std::vector<std::string>>> OptionalStringList(const nlohmann::json& body, const char* name);

// ListUsers-style pagination (MaxItems 1-1000, default 100; opaque Marker).
// Items are addressed by a sort key; the marker names the last key returned,
// so the next page resumes after it even if items were added or removed.
struct PageRequest {
  size_t max_items = 100;
  std::optional<std::string> after;  // resume after this sort key
};
Result<PageRequest> ParsePageRequest(const Params& params);
struct Page {
  size_t begin = 0, end = 0;  // indexes into the sorted keys
  bool truncated = false;
  std::string marker;  // set when truncated
};
Page Paginate(const std::vector<std::string>& sorted_keys, const PageRequest& request);
// The sort key of the i-th item of a list kept in its own order (zero-padded, so it sorts as a number).
std::string PositionKey(size_t i);
// Paginate over `count` items kept in their own order (keys, tags, actions).
Page PaginatePositions(size_t count, const PageRequest& request);
void WritePageTail(XmlWriter& xml, const Page& page);  // <IsTruncated> and, when truncated, <Marker>

// Seconds since the epoch with millisecond precision, as JSON 1.1 sends timestamps.
double EpochSeconds(std::chrono::system_clock::time_point t);

}  // namespace keyrotor::sandbox
