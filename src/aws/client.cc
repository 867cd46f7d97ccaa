#include "aws/client.h"

#include "aws/sigv4.h"
#include "base/secret.h"
#include "base/strings.h"

namespace keyrotor::aws {

ServiceClient::ServiceClient(ClientContext context, ServiceEndpoint endpoint)
    : context_(std::move(context)), endpoint_(std::move(endpoint)) {}

Result<HttpResponse> ServiceClient::Invoke(std::string_view operation, HttpRequest request,
                                           const CallOptions& options) {
  if (!context_.transport) return Status::Internal("client has no HTTP transport");
  RetryStrategy strategy(context_.retry, context_.clock, context_.quota);
  const int max_attempts = std::max(1, context_.retry.max_attempts);
  // Throttled attempts paced by the rate limiter do not count against
  // max_attempts (see RetryOptions::max_throttled_attempts).
  const int max_throttled = std::max(max_attempts, context_.retry.max_throttled_attempts);
  int counted = 0;  // attempts that count against max_attempts
  bool paced_retry = false;
  Status last;
  for (int attempt = 1; counted < max_attempts && attempt <= max_throttled; ++attempt) {
    if (attempt > 1 && !paced_retry) context_.clock->SleepFor(strategy.Backoff(counted + 1));
    HttpRequest to_send = request;
    if (options.sign) {
      if (!context_.credentials) return Status::Internal(std::string(operation) + ": no credentials to sign with");
      Result<Credentials> creds = context_.credentials->GetCredentials();
      if (!creds.ok()) return creds.status();
      // Sign each attempt afresh: X-Amz-Date must be current, and
      // refreshed temporary credentials must be picked up.
      KR_RETURN_IF_ERROR(SignRequest(to_send, *creds, endpoint_.scope, context_.clock->Now()));
    }
    if (context_.service_rate_limiter) context_.service_rate_limiter->Acquire();
    if (context_.rate_limiter) context_.rate_limiter->Acquire();
    Result<HttpResponse> response = context_.transport->Send(to_send, context_.timeouts);
    if (response.ok() && response->status >= 200 && response->status < 300) {
      if (context_.quota) context_.quota->OnSuccess();
      if (context_.rate_limiter) context_.rate_limiter->OnResponse(false);
      if (context_.service_rate_limiter) context_.service_rate_limiter->OnResponse(false);
      const std::string* id = FindHeader(response->headers, "x-amzn-requestid");
      last_request_id_ = id ? *id : "";
      return response;
    }
    last = response.ok() ? ParseError(operation, *response) : response.status().WithContext(std::string(operation));
    RetryClass rc = Classify(last, options.idempotency == Idempotency::kIdempotent);
    if (context_.rate_limiter) context_.rate_limiter->OnResponse(rc == RetryClass::kThrottling);
    if (context_.service_rate_limiter) context_.service_rate_limiter->OnResponse(rc == RetryClass::kThrottling);
    if (rc == RetryClass::kNone) return last;
    if (options.earlier_attempt_may_have_applied && rc == RetryClass::kTransient) {
      *options.earlier_attempt_may_have_applied = true;
    }
    // A throttle under an active limiter: the limiter has just slowed down and
    // its next token is the right moment to try again.
    paced_retry = rc == RetryClass::kThrottling && ((context_.rate_limiter && context_.rate_limiter->enabled()) ||
                                                    (context_.service_rate_limiter &&
                                                     context_.service_rate_limiter->enabled()));
    if (paced_retry) continue;
    ++counted;
    if (counted >= max_attempts) break;
    if (context_.quota && !context_.quota->Acquire(last.IsUnknownOutcome())) return last;
  }
  return last;
}

namespace {

// application/x-www-form-urlencoded as botocore sends it: Python's
// urllib.parse.urlencode over the serialised parameters (AWSRequest.
// _prepare_body), i.e. quote_plus: letters, digits and "_.-~" stay, a space
// becomes '+', every other byte is %XX in upper-case hex. AWS itself hashes
// the raw body, but emulators that re-encode the form before checking the
// signature only agree with bodies encoded exactly so.
std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
        c == '-' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

std::string EncodeQueryBody(const std::string& action, const std::string& version, const QueryParams& params) {
  // Action and Version first, then the parameters in the order given: the
  // clients list them in the service model's member order, as botocore's
  // QuerySerializer emits them for a call that names them in that order.
  std::string body = "Action=" + FormEncode(action) + "&Version=" + FormEncode(version);
  for (const auto& [k, v] : params) body += "&" + FormEncode(k) + "=" + FormEncode(v);
  return body;
}

std::string ChildText(pugi::xml_node node, const char* name) { return node.child(name).text().as_string(); }

Secret TakeSecretText(pugi::xml_node node, const char* name) {
  Secret out(ChildText(node, name));
  if (pugi::xml_node text = node.child(name).first_child()) {
    std::string blank(std::string_view(text.value()).size(), 'x');
    text.set_value(blank.c_str());
  }
  return out;
}

Result<TimePoint> ChildTime(pugi::xml_node node, const char* name) {
  std::string text = ChildText(node, name);
  if (text.empty()) return Status::ParseError(std::string("response lacks <") + name + ">");
  return ParseIso8601(text);
}

AwsErrorDetail ParseQueryErrorBody(const HttpResponse& response) {
  AwsErrorDetail detail;
  detail.http_status = response.status;
  pugi::xml_document doc;
  if (doc.load_buffer(response.body.data(), response.body.size())) {
    pugi::xml_node root = doc.document_element();
    pugi::xml_node error = root.child("Error");
    if (!error) error = root.child("Errors").child("Error");  // EC2-style wrapper
    detail.code = ChildText(error, "Code");
    detail.message = ChildText(error, "Message");
    if (detail.message.empty()) detail.message = ChildText(error, "message");
    detail.request_id = ChildText(root, "RequestId");
    if (detail.request_id.empty()) detail.request_id = ChildText(root, "RequestID");
  }
  if (detail.request_id.empty()) {
    if (const std::string* id = FindHeader(response.headers, "x-amzn-requestid")) detail.request_id = *id;
  }
  return detail;
}

AwsErrorDetail ParseJsonErrorBody(const HttpResponse& response) {
  AwsErrorDetail detail;
  detail.http_status = response.status;
  if (const std::string* id = FindHeader(response.headers, "x-amzn-requestid")) detail.request_id = *id;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  std::string type;
  if (body.is_object()) {
    if (body.contains("__type") && body["__type"].is_string()) type = body["__type"].get<std::string>();
    for (const char* key : {"message", "Message"}) {
      if (body.contains(key) && body[key].is_string()) {
        detail.message = body[key].get<std::string>();
        break;
      }
    }
  }
  if (type.empty()) {
    if (const std::string* t = FindHeader(response.headers, "x-amzn-errortype")) type = *t;
  }
  // botocore: drop anything after ':' and anything up to the last '#'.
  if (size_t colon = type.find(':'); colon != std::string::npos) type.resize(colon);
  if (size_t hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  detail.code = type;
  return detail;
}

QueryClient::QueryClient(ClientContext context, ServiceEndpoint endpoint, std::string api_version)
    : ServiceClient(std::move(context), std::move(endpoint)), api_version_(std::move(api_version)) {}

Status QueryClient::ParseError(std::string_view operation, const HttpResponse& response) const {
  return Status::Aws(ParseQueryErrorBody(response), std::string(operation));
}

Result<QueryClient::Reply> QueryClient::Call(const std::string& action, const QueryParams& params,
                                             const CallOptions& options) {
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint_.url;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = EncodeQueryBody(action, api_version_, params);
  KR_ASSIGN_OR_RETURN(HttpResponse response, Invoke(action, std::move(request), options));
  Reply reply;
  reply.doc = std::make_unique<pugi::xml_document>();
  pugi::xml_parse_result parsed = reply.doc->load_buffer(response.body.data(), response.body.size());
  // pugixml copies the text into the document; the response buffer is wiped on return.
  if (!parsed) {
    return Status::ParseError(action + ": response is not XML (" + parsed.description() + ")");
  }
  pugi::xml_node root = reply.doc->child((action + "Response").c_str());
  if (!root) {
    return Status::ParseError(action + ": unexpected response element <" +
                              std::string(reply.doc->document_element().name()) + ">");
  }
  reply.result = root.child((action + "Result").c_str());
  reply.request_id = root.child("ResponseMetadata").child("RequestId").text().as_string();
  if (!reply.request_id.empty()) last_request_id_ = reply.request_id;
  return reply;
}

Status QueryClient::Paginate(const std::string& action, QueryParams params, const char* list_element,
                             const std::function<Status(pugi::xml_node)>& on_member) {
  std::string marker;
  // A bound so a server that never stops paginating cannot loop us forever.
  for (int page = 0; page < 100000; ++page) {
    QueryParams page_params = params;
    if (!marker.empty()) page_params.emplace_back("Marker", marker);
    KR_ASSIGN_OR_RETURN(Reply reply, Call(action, page_params));
    for (pugi::xml_node m : reply.result.child(list_element).children("member")) KR_RETURN_IF_ERROR(on_member(m));
    bool truncated = ChildText(reply.result, "IsTruncated") == "true";
    if (!truncated) return Status::Ok();
    std::string next = ChildText(reply.result, "Marker");
    if (next.empty() || next == marker) {
      return Status::ParseError(action + ": IsTruncated without a new Marker");
    }
    marker = std::move(next);
  }
  return Status::ParseError(action + ": too many pages");
}

JsonClient::JsonClient(ClientContext context, ServiceEndpoint endpoint, std::string target_prefix)
    : ServiceClient(std::move(context), std::move(endpoint)), target_prefix_(std::move(target_prefix)) {}

Status JsonClient::ParseError(std::string_view operation, const HttpResponse& response) const {
  return Status::Aws(ParseJsonErrorBody(response), std::string(operation));
}

Result<nlohmann::json> JsonClient::Call(const std::string& operation, const nlohmann::json& body,
                                        const CallOptions& options) {
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint_.url;
  request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  request.headers.emplace_back("X-Amz-Target", target_prefix_ + "." + operation);
  request.body = body.dump();
  KR_ASSIGN_OR_RETURN(HttpResponse response, Invoke(operation, std::move(request), options));
  nlohmann::json parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status::ParseError(operation + ": response is not a JSON object");
  }
  return parsed;
}

}  // namespace keyrotor::aws
