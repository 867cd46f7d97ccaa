#include "lambda/runtime.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace keyrotor::lambda {
namespace {

constexpr char kVersion[] = "/2018-06-01";

std::string ErrorType(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kParseError:
      return "keyrotor.InvalidEvent";
    case StatusCode::kAwsError:
      return "keyrotor.AwsError";
    default:
      return "keyrotor.RotationFailed";
  }
}

}  // namespace

RuntimeApiClient::RuntimeApiClient(aws::HttpTransport* transport, std::string api)
    : transport_(transport), base_("http://" + std::move(api) + kVersion) {}

Result<Invocation> RuntimeApiClient::Next() {
  aws::HttpRequest request;
  request.method = "GET";
  request.url = base_ + "/runtime/invocation/next";
  aws::TransportOptions no_timeout;
  no_timeout.total_timeout = Duration(0);  // Lambda answers when it has an event, however long that takes
  KR_ASSIGN_OR_RETURN(aws::HttpResponse response, transport_->Send(request, no_timeout));
  if (response.status != 200) {
    return Status::FailedPrecondition("runtime API: next invocation answered HTTP " + std::to_string(response.status));
  }
  Invocation inv;
  if (const std::string* id = aws::FindHeader(response.headers, "Lambda-Runtime-Aws-Request-Id")) inv.request_id = *id;
  if (inv.request_id.empty()) return Status::ParseError("runtime API: invocation without Lambda-Runtime-Aws-Request-Id");
  if (const std::string* ms = aws::FindHeader(response.headers, "Lambda-Runtime-Deadline-Ms")) {
    int64_t v = 0;
    if (std::from_chars(ms->data(), ms->data() + ms->size(), v).ec == std::errc()) {
      inv.deadline = TimePoint(std::chrono::milliseconds(v));
    }
  }
  if (const std::string* arn = aws::FindHeader(response.headers, "Lambda-Runtime-Invoked-Function-Arn")) {
    inv.function_arn = *arn;
  }
  inv.body = std::move(response.body);
  return inv;
}

Status RuntimeApiClient::Post(const std::string& path, const std::string& body, bool is_error) {
  aws::HttpRequest request;
  request.method = "POST";
  request.url = base_ + path;
  request.body = body;
  request.headers.emplace_back("Content-Type", "application/json");
  if (is_error) request.headers.emplace_back("Lambda-Runtime-Function-Error-Type", "Unhandled");
  KR_ASSIGN_OR_RETURN(aws::HttpResponse response, transport_->Send(request, aws::TransportOptions()));
  if (response.status != 202) {
    return Status::FailedPrecondition("runtime API: " + path + " answered HTTP " + std::to_string(response.status));
  }
  return Status::Ok();
}

Status RuntimeApiClient::Respond(const std::string& request_id, const std::string& body) {
  return Post("/runtime/invocation/" + request_id + "/response", body, false);
}

Status RuntimeApiClient::Fail(const std::string& request_id, const std::string& error_type,
                              const std::string& message) {
  nlohmann::json doc = {{"errorType", error_type}, {"errorMessage", message}};
  return Post("/runtime/invocation/" + request_id + "/error", doc.dump(), true);
}

Status RuntimeApiClient::InitError(const std::string& error_type, const std::string& message) {
  nlohmann::json doc = {{"errorType", error_type}, {"errorMessage", message}};
  return Post("/runtime/init/error", doc.dump(), true);
}

Status ServeInvocations(RuntimeApiClient& api, const InvocationHandler& handler, size_t max_invocations) {
  for (size_t served = 0; max_invocations == 0 || served < max_invocations; ++served) {
    KR_ASSIGN_OR_RETURN(Invocation inv, api.Next());
    Result<std::string> result = handler(inv);
    Status reported = result.ok() ? api.Respond(inv.request_id, *result)
                                  : api.Fail(inv.request_id, ErrorType(result.status()), result.status().ToString());
    if (!reported.ok()) return reported;
  }
  return Status::Ok();
}

}  // namespace keyrotor::lambda
