// CloudTrail (JSON 1.1, target prefix
// com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101): LookupEvents over
// the requests the sandbox served, which is how keyrotor tells what an
// exposed key did. Shapes and errors follow the CloudTrail API Reference
// (LookupEvents, Event, LookupAttribute; InvalidLookupAttributesException,
// InvalidTimeRangeException, InvalidMaxResultsException,
// InvalidNextTokenException) and botocore's cloudtrail 2013-11-01 model:
// timestamps are epoch seconds, at most 50 events a page, newest first,
// events of the region the request was signed for. The record in
// CloudTrailEvent follows the CloudTrail record contents page of the
// CloudTrail User Guide. Its 2-requests-per-second limit per account and
// region is applied by Sandbox::Handle (SandboxOptions::cloudtrail_lookup_rps).
// Unlike AWS, events are visible at once (AWS delivers them within minutes).
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/services.h"

namespace keyrotor::sandbox {
namespace {

constexpr std::string_view kTrailTokenPrefix = "keyrotor-sandbox-trail:";

bool IsReadOnlyOperation(std::string_view op) {
  return StartsWith(op, "Get") || StartsWith(op, "List") || StartsWith(op, "Describe") || StartsWith(op, "Lookup") ||
         StartsWith(op, "Simulate");
}

Result<std::optional<TimePoint>> OptionalEpoch(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<TimePoint>();
  if (!it->is_number()) {
    return ApiError(400, "SerializationException", std::string("Unexpected value type for ") + name);
  }
  return std::optional<TimePoint>(FromMillis(static_cast<int64_t>(std::llround(it->get<double>() * 1000.0))));
}

double EpochOf(TimePoint t) { return static_cast<double>(ToMillis(t)) / 1000.0; }

// What a lookup attribute selects; empty key: everything.
struct TrailFilter {
  std::string key, value;
  bool Matches(const TrailRecord& r) const {
    if (key.empty()) return true;
    if (key == "AccessKeyId") return r.access_key_id == value;
    if (key == "Username") return r.user_name == value;
    if (key == "EventName") return r.event_name == value;
    if (key == "EventSource") return r.event_source == value;
    if (key == "EventId") return r.event_id == value;
    if (key == "ReadOnly") return (r.read_only ? "true" : "false") == value;
    return false;  // ResourceType, ResourceName: the sandbox records no resources
  }
};

std::string TrailRecordJson(const State& state, const TrailRecord& r) {
  nlohmann::json identity = {{"type", r.identity_type},
                             {"arn", r.principal_arn},
                             {"accountId", state.account_id},
                             {"accessKeyId", r.access_key_id}};
  if (r.identity_type == "IAMUser") identity["userName"] = r.user_name;
  nlohmann::json record = {{"eventVersion", "1.09"},
                           {"userIdentity", identity},
                           {"eventTime", FormatIso8601(r.time)},
                           {"eventSource", r.event_source},
                           {"eventName", r.event_name},
                           {"awsRegion", r.region},
                           {"sourceIPAddress", r.source_ip},
                           {"userAgent", "keyrotor-sandbox"},
                           {"requestParameters", nullptr},
                           {"responseElements", nullptr},
                           {"eventID", r.event_id},
                           {"readOnly", r.read_only},
                           {"eventType", "AwsApiCall"},
                           {"managementEvent", true},
                           {"recipientAccountId", state.account_id},
                           {"eventCategory", "Management"}};
  if (!r.error_code.empty()) record["errorCode"] = r.error_code;
  return record.dump();
}

Result<Reply> LookupEvents(OpContext& ctx, const RoutedRequest& request) {
  if (!IsAllowed(ctx.caller, "cloudtrail:LookupEvents", "")) {
    return AccessDenied(Service::kCloudTrail, ctx.caller, "cloudtrail:LookupEvents",
                        "arn:aws:cloudtrail:" + std::string(ctx.region) + ":" + ctx.state.account_id + ":trail/*");
  }
  const nlohmann::json& body = request.body;
  TrailFilter filter;
  if (auto it = body.find("LookupAttributes"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return ApiError(400, "SerializationException", "LookupAttributes must be a list");
    if (it->size() > 1) {
      return ApiError(400, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.");
    }
    if (it->size() == 1) {
      const nlohmann::json& a = (*it)[0];
      KR_ASSIGN_OR_RETURN(filter.key, RequiredString(a, "AttributeKey"));
      KR_ASSIGN_OR_RETURN(filter.value, RequiredString(a, "AttributeValue"));
      static const char* kKeys[] = {"EventId",      "EventName",    "ReadOnly",    "Username",
                                    "ResourceType", "ResourceName", "EventSource", "AccessKeyId"};
      if (std::none_of(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return filter.key == k; })) {
        return ApiError(400, "ValidationException",
                        ValidationMessage(filter.key, "lookupAttributes.1.member.attributeKey",
                                          "Member must satisfy enum value set: [EventId, EventName, ReadOnly, "
                                          "Username, ResourceType, ResourceName, EventSource, AccessKeyId]"));
      }
    }
  }
  KR_ASSIGN_OR_RETURN(std::optional<TimePoint> start, OptionalEpoch(body, "StartTime"));
  KR_ASSIGN_OR_RETURN(std::optional<TimePoint> end, OptionalEpoch(body, "EndTime"));
  if (start && end && *start > *end) {
    return ApiError(400, "InvalidTimeRangeException", "Start time must not be after end time.");
  }
  size_t max = 50;
  if (auto it = body.find("MaxResults"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 50) {
      return ApiError(400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.");
    }
    max = static_cast<size_t>(it->get<int64_t>());
  }
  // The token names where the last page stopped and what it was asked: a
  // token used with other parameters is refused, as AWS refuses it.
  std::string fingerprint = HexSha256(filter.key + "\n" + filter.value + "\n" +
                                      (start ? std::to_string(ToMillis(*start)) : "") + "\n" +
                                      (end ? std::to_string(ToMillis(*end)) : ""))
                                .substr(0, 16);
  uint64_t below = UINT64_MAX;
  KR_ASSIGN_OR_RETURN(std::optional<std::string> token, OptionalString(body, "NextToken"));
  if (token) {
    std::optional<std::string> decoded = Base64Decode(*token);
    bool ok = decoded && StartsWith(*decoded, kTrailTokenPrefix);
    if (ok) {
      std::string_view rest = std::string_view(*decoded).substr(kTrailTokenPrefix.size());
      size_t colon = rest.find(':');
      ok = colon != std::string_view::npos && rest.substr(colon + 1) == fingerprint;
      if (ok) {
        auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + colon, below);
        ok = ec == std::errc() && ptr == rest.data() + colon;
      }
    }
    if (!ok) return ApiError(400, "InvalidNextTokenException", "Invalid NextToken.");
  }
  nlohmann::json events = nlohmann::json::array();
  uint64_t last_included = 0;
  bool more = false;
  for (auto it = ctx.state.trail.rbegin(); it != ctx.state.trail.rend(); ++it) {
    const TrailRecord& r = *it;
    if (r.sequence >= below) continue;
    if (r.region != ctx.region) continue;
    if ((start && r.time < *start) || (end && r.time > *end)) continue;
    if (!filter.Matches(r)) continue;
    if (events.size() == max) {
      more = true;
      break;
    }
    last_included = r.sequence;
    events.push_back({{"EventId", r.event_id},
                      {"EventName", r.event_name},
                      {"ReadOnly", r.read_only ? "true" : "false"},
                      {"AccessKeyId", r.access_key_id},
                      {"EventTime", EpochOf(r.time)},
                      {"EventSource", r.event_source},
                      {"Username", r.user_name},
                      {"Resources", nlohmann::json::array()},
                      {"CloudTrailEvent", TrailRecordJson(ctx.state, r)}});
  }
  nlohmann::json reply = {{"Events", std::move(events)}};
  if (more) {
    reply["NextToken"] = Base64Encode(std::string(kTrailTokenPrefix) + std::to_string(last_included) + ":" + fingerprint);
  }
  return Reply::Json(std::move(reply));
}

}  // namespace

void RecordTrail(State& state, Service service, const std::string& operation, const Principal& caller,
                 std::string_view region, std::string source_ip, TimePoint now, const std::string& error_code) {
  if (caller.kind == Principal::Kind::kAnonymous) return;
  TrailRecord r;
  r.sequence = ++state.trail_sequence;
  r.event_id = RandomUuid();
  r.time = now;
  r.event_name = operation;
  r.event_source = std::string(SigningName(service)) + ".amazonaws.com";
  r.access_key_id = caller.access_key_id;
  r.principal_arn = caller.arn;
  if (caller.IsUser()) {
    r.user_name = caller.user_name;
    r.identity_type = "IAMUser";
  } else {
    size_t slash = caller.arn.rfind('/');
    r.user_name = slash == std::string::npos ? caller.arn : caller.arn.substr(slash + 1);
    r.identity_type = "AssumedRole";
  }
  // IAM and Organizations are global: CloudTrail records their events in us-east-1.
  bool global = service == Service::kIam || service == Service::kOrganizations;
  r.region = global ? "us-east-1" : std::string(region);
  r.source_ip = std::move(source_ip);
  r.error_code = error_code;
  r.read_only = IsReadOnlyOperation(operation);
  state.trail.push_back(std::move(r));
  while (state.trail.size() > kTrailCapacity) state.trail.pop_front();
}

Operation FindCloudTrailOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"LookupEvents", LookupEvents},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
