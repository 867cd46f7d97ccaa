#include "aws/cloudtrail.h"

#include <cmath>

namespace keyrotor::aws {
namespace {

std::string TrailString(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// botocore sends JSON timestamps as whole epoch seconds (serialize.py's
// _timestamp_unixtimestamp) and reads them with a fraction. The window is
// widened to whole seconds, never narrowed.
int64_t EpochSecondsFloor(TimePoint t) { return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count(); }
int64_t EpochSecondsCeil(TimePoint t) { return std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch()).count(); }

}  // namespace

Result<TrailEvent> ParseTrailEvent(const nlohmann::json& j) {
  if (!j.is_object()) return Status::ParseError("LookupEvents: an event is not an object");
  TrailEvent e;
  e.event_id = TrailString(j, "EventId");
  e.event_name = TrailString(j, "EventName");
  e.event_source = TrailString(j, "EventSource");
  e.access_key_id = TrailString(j, "AccessKeyId");
  e.user_name = TrailString(j, "Username");
  e.read_only = TrailString(j, "ReadOnly") == "true";
  auto time = j.find("EventTime");
  if (time != j.end() && time->is_number()) {
    e.event_time = FromMillis(static_cast<int64_t>(std::llround(time->get<double>() * 1000.0)));
  }
  // The record itself: source IP and region are only there.
  std::string record = TrailString(j, "CloudTrailEvent");
  if (!record.empty()) {
    nlohmann::json doc = nlohmann::json::parse(record, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object()) {
      e.source_ip = TrailString(doc, "sourceIPAddress");
      e.region = TrailString(doc, "awsRegion");
      e.error_code = TrailString(doc, "errorCode");
      if (e.event_source.empty()) e.event_source = TrailString(doc, "eventSource");
    }
  }
  if (e.event_name.empty()) return Status::ParseError("LookupEvents: an event without EventName");
  return e;
}

CloudTrailClient::CloudTrailClient(ClientContext context, ServiceEndpoint endpoint)
    : JsonClient(std::move(context), std::move(endpoint), "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101") {}

Status CloudTrailClient::LookupEventsByAccessKey(const std::string& access_key_id, TimePoint start, TimePoint end,
                                                 const std::function<Status(const TrailEvent&)>& on_event,
                                                 int max_pages, const std::function<void()>& before_request,
                                                 bool* truncated) {
  if (truncated) *truncated = false;
  nlohmann::json body = {
      {"LookupAttributes", nlohmann::json::array({{{"AttributeKey", "AccessKeyId"}, {"AttributeValue", access_key_id}}})},
      {"StartTime", EpochSecondsFloor(start)},
      {"EndTime", EpochSecondsCeil(end)},
      {"MaxResults", 50}};
  for (int page = 0;; ++page) {
    if (max_pages != 0 && page == max_pages) {
      if (truncated) *truncated = true;
      return Status::Ok();
    }
    if (before_request) before_request();
    KR_ASSIGN_OR_RETURN(nlohmann::json reply, Call("LookupEvents", body));
    auto events = reply.find("Events");
    if (events != reply.end() && !events->is_array()) return Status::ParseError("LookupEvents: Events is not a list");
    if (events != reply.end()) {
      for (const nlohmann::json& item : *events) {
        KR_ASSIGN_OR_RETURN(TrailEvent e, ParseTrailEvent(item));
        KR_RETURN_IF_ERROR(on_event(e));
      }
    }
    std::string next = TrailString(reply, "NextToken");
    if (next.empty()) return Status::Ok();
    body["NextToken"] = next;
  }
}

}  // namespace keyrotor::aws
