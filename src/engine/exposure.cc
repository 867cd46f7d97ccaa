#include "engine/exposure.h"

#include <algorithm>
#include <cctype>

#include "aws/cloudtrail.h"
#include "base/crypto.h"
#include "base/strings.h"

namespace keyrotor::engine {
namespace {

Status BadEvent(const std::string& where, const std::string& why) {
  return Status::InvalidArgument("not an exposure event: " + where + ": " + why);
}

const nlohmann::json* Member(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() ? nullptr : &*it;
}

std::string TopN(const std::map<std::string, size_t>& counts, size_t n) {
  std::vector<std::pair<std::string, size_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < n; ++i) {
    if (!out.empty()) out += ", ";
    out += sorted[i].first + " (" + std::to_string(sorted[i].second) + ")";
  }
  if (sorted.size() > n) out += ", +" + std::to_string(sorted.size() - n) + " more";
  return out;
}

nlohmann::json CountsToJson(const std::map<std::string, size_t>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : counts) j[k] = v;
  return j;
}

}  // namespace

bool IsHealthEvent(const nlohmann::json& event) {
  if (!event.is_object()) return false;
  const nlohmann::json* source = Member(event, "source");
  return source && source->is_string() && source->get<std::string>() == "aws.health";
}

Status ValidateExposedKeyId(const std::string& id) {
  bool shape = id.size() >= 16 && id.size() <= 128 &&
               std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isupper(c) || std::isdigit(c); });
  if (!shape) {
    return Status::InvalidArgument("'" + id.substr(0, 32) +
                                   "' is not an access key id (16-128 upper-case letters and digits, AKIA...)");
  }
  if (StartsWith(id, "ASIA")) {
    return Status::InvalidArgument("access key " + id +
                                   " is temporary (ASIA...): it expires by itself and cannot be rotated; revoke the "
                                   "role's sessions instead");
  }
  return Status::Ok();
}

Result<ExposureEvent> ParseExposureEvent(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("not an exposure event: the input is not JSON");
  if (!j.is_object()) return BadEvent("the event", "not a JSON object");
  if (!IsHealthEvent(j)) return BadEvent("source", "expected \"aws.health\"");
  const nlohmann::json* detail = Member(j, "detail");
  if (!detail || !detail->is_object()) return BadEvent("detail", "missing or not an object");
  const nlohmann::json* service = Member(*detail, "service");
  if (!service || !service->is_string() || service->get<std::string>() != "RISK") {
    return BadEvent("detail.service", "expected \"RISK\" (an AWS Health risk event)");
  }
  ExposureEvent out;
  const nlohmann::json* type = Member(*detail, "eventTypeCode");
  if (!type || !type->is_string()) return BadEvent("detail.eventTypeCode", "missing");
  out.event_type = type->get<std::string>();
  if (std::none_of(std::begin(kExposureEventTypes), std::end(kExposureEventTypes),
                   [&](const char* t) { return out.event_type == t; })) {
    return BadEvent("detail.eventTypeCode", "\"" + out.event_type.substr(0, 80) +
                                                "\" is not one of AWS_RISK_CREDENTIALS_EXPOSED, "
                                                "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED, "
                                                "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED, AWS_RISK_IAM_QUARANTINE");
  }
  if (const nlohmann::json* arn = Member(*detail, "eventArn"); arn && arn->is_string()) out.event_arn = *arn;
  // An organization's delegated Health view names the affected account in
  // the detail; the event's own account is then the one that received it.
  const nlohmann::json* affected = Member(*detail, "affectedAccount");
  const nlohmann::json* account = Member(j, "account");
  if (affected && affected->is_string() && !affected->get<std::string>().empty()) {
    out.account = *affected;
  } else if (account && account->is_string()) {
    out.account = *account;
  }
  if (out.account.size() != 12 ||
      !std::all_of(out.account.begin(), out.account.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return BadEvent("account", "expected a 12-digit account id in account or detail.affectedAccount");
  }
  const nlohmann::json* entities = Member(*detail, "affectedEntities");
  if (!entities || !entities->is_array()) return BadEvent("detail.affectedEntities", "missing or not a list");
  for (size_t i = 0; i < entities->size(); ++i) {
    const nlohmann::json& e = (*entities)[i];
    const nlohmann::json* value = e.is_object() ? Member(e, "entityValue") : nullptr;
    std::string where = "detail.affectedEntities[" + std::to_string(i) + "].entityValue";
    if (!value || !value->is_string()) return BadEvent(where, "missing");
    std::string id = *value;
    Status valid = ValidateExposedKeyId(id);
    if (!valid.ok()) return BadEvent(where, valid.message());
    if (std::find(out.access_key_ids.begin(), out.access_key_ids.end(), id) == out.access_key_ids.end()) {
      out.access_key_ids.push_back(std::move(id));
    }
  }
  if (out.access_key_ids.empty()) return BadEvent("detail.affectedEntities", "names no access key");
  return out;
}

nlohmann::json ExampleExposureEvent(const std::string& access_key_id, const std::string& account, TimePoint now) {
  // The shape of the AWS Health User Guide's EventBridge schema and samples.
  std::string id = RandomUuid();
  return {{"version", "0"},
          {"id", id},
          {"detail-type", "AWS Health Event"},
          {"source", "aws.health"},
          {"account", account},
          {"time", FormatIso8601(now)},
          {"region", "us-east-1"},
          {"resources", nlohmann::json::array({access_key_id})},
          {"detail",
           {{"eventArn", "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_" +
                             HexEncode(RandomBytes(8))},
            {"service", "RISK"},
            {"eventTypeCode", "AWS_RISK_CREDENTIALS_EXPOSED"},
            {"eventTypeCategory", "issue"},
            {"eventScopeCode", "ACCOUNT_SPECIFIC"},
            {"eventRegion", "global"},
            {"startTime", FormatIso8601(now)},
            {"eventDescription",
             nlohmann::json::array({{{"language", "en_US"},
                                     {"latestDescription", "Your AWS Access Key " + access_key_id +
                                                               " was found publicly available."}}})},
            {"affectedEntities", nlohmann::json::array({{{"entityValue", access_key_id}}})},
            {"affectedAccount", account}}}};
}

Result<std::string> FindKeyOwner(aws::IamClient& iam, const std::string& access_key_id) {
  Result<aws::AccessKeyLastUsed> used = iam.GetAccessKeyLastUsed(access_key_id);
  if (!used.ok()) {
    if (used.status().IsAws("NoSuchEntity")) {
      return Status::NotFound("access key " + access_key_id + " does not exist in this account");
    }
    return used.status().WithContext("finding the owner of access key " + access_key_id);
  }
  if (used->user_name.empty()) return Status::NotFound("access key " + access_key_id + " belongs to no IAM user");
  return used->user_name;
}

KeyActivity LookupKeyActivity(const aws::ClientFactory& admin, const std::string& access_key_id, TimePoint start,
                              TimePoint end, const std::vector<std::string>& regions) {
  KeyActivity a;
  a.start = start;
  a.end = end;
  a.regions = regions;
  Clock* clock = admin.context().clock;
  // CloudTrail allows 2 LookupEvents a second per account and region: one
  // request every 500 ms per region keeps under it (a throttled request is
  // retried by the client all the same).
  constexpr Duration kSpacing{500};
  for (const std::string& region : regions) {
    Result<aws::CloudTrailClient> trail = admin.WithRegion(region).CloudTrail();
    if (!trail.ok()) {
      a.lookup_errors[region] = trail.status().ToString();
      continue;
    }
    std::optional<TimePoint> last_request;
    bool truncated = false;
    Status walked = trail->LookupEventsByAccessKey(
        access_key_id, start, end,
        [&](const aws::TrailEvent& e) {
          ++a.events;
          ++a.by_event[e.event_source + ":" + e.event_name];
          if (!e.source_ip.empty()) ++a.by_source_ip[e.source_ip];
          ++a.by_region[e.region.empty() ? region : e.region];
          if (!e.error_code.empty()) ++a.errors[e.error_code];
          if (!a.first_seen || e.event_time < *a.first_seen) a.first_seen = e.event_time;
          if (!a.last_seen || e.event_time > *a.last_seen) a.last_seen = e.event_time;
          return Status::Ok();
        },
        kMaxLookupPages, [&] {
          if (last_request) {
            TimePoint next = *last_request + kSpacing;
            if (clock->Now() < next) clock->SleepFor(std::chrono::duration_cast<Duration>(next - clock->Now()));
          }
          last_request = clock->Now();
        },
        &truncated);
    if (truncated) a.truncated = true;
    if (!walked.ok()) {
      a.lookup_errors[region] = walked.ToString();
    }
  }
  return a;
}

nlohmann::json ActivityToJson(const KeyActivity& a) {
  nlohmann::json j = {{"window_start", FormatIso8601(a.start)},
                      {"window_end", FormatIso8601(a.end)},
                      {"regions", a.regions},
                      {"events", a.events},
                      {"truncated", a.truncated},
                      {"by_event", CountsToJson(a.by_event)},
                      {"by_source_ip", CountsToJson(a.by_source_ip)},
                      {"by_region", CountsToJson(a.by_region)},
                      {"errors", CountsToJson(a.errors)}};
  if (a.first_seen) j["first_seen"] = FormatIso8601(*a.first_seen);
  if (a.last_seen) j["last_seen"] = FormatIso8601(*a.last_seen);
  if (!a.lookup_errors.empty()) {
    j["lookup_errors"] = nlohmann::json::object();
    for (const auto& [region, why] : a.lookup_errors) j["lookup_errors"][region] = why;
  }
  return j;
}

std::string ActivitySummaryLine(const nlohmann::json& j) {
  if (!j.is_object()) return "CloudTrail activity unknown";
  auto counts = [&](const char* name) {
    std::map<std::string, size_t> out;
    if (auto it = j.find(name); it != j.end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) {
        if (v.is_number_unsigned()) out[k] = v.get<size_t>();
      }
    }
    return out;
  };
  size_t events = j.value("events", size_t{0});
  std::string line = "CloudTrail " + j.value("window_start", std::string()) + " to " +
                     j.value("window_end", std::string()) + ": " + std::to_string(events) +
                     (j.value("truncated", false) ? "+ calls" : " calls");
  if (events > 0) {
    line += " from " + TopN(counts("by_source_ip"), 5) + "; " + TopN(counts("by_event"), 8) + "; regions " +
            TopN(counts("by_region"), 5);
    std::map<std::string, size_t> errors = counts("errors");
    if (!errors.empty()) line += "; refused: " + TopN(errors, 5);
  }
  if (auto it = j.find("lookup_errors"); it != j.end() && it->is_object() && !it->empty()) {
    line += "; not read:";
    for (const auto& [region, why] : it->items()) line += " " + region + " (" + why.get<std::string>() + ")";
  }
  return line;
}

}  // namespace keyrotor::engine
