// Responding to an exposed access key: the AWS Health events that report
// one, who owns the key, and what CloudTrail says it did. The response itself
// is a rotation (Rotator::RotateUser with StepOverrides::exposure): journaled,
// verified, handed over like any other, with the exposed key retired at once
// (docs/leak-response.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "aws/clients.h"
#include "base/clock.h"
#include "base/status.h"

namespace keyrotor::engine {

// The AWS Health event types (service RISK) that report an exposed key.
inline constexpr const char* kExposureEventTypes[] = {
    "AWS_RISK_CREDENTIALS_EXPOSED", "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED", "AWS_RISK_IAM_QUARANTINE"};

// An AWS Health event as EventBridge delivers it ("source": "aws.health";
// AWS Health User Guide, "Reference: AWS Health events Amazon EventBridge
// schema"), reduced to what a response needs.
struct ExposureEvent {
  std::string event_type;  // detail.eventTypeCode
  std::string event_arn;   // detail.eventArn
  // The affected account: detail.affectedAccount (an organization's
  // delegated Health view), else the event's account.
  std::string account;
  std::vector<std::string> access_key_ids;  // detail.affectedEntities[].entityValue
};

// Whether `event` claims to be an AWS Health event (source aws.health), so a
// Lambda can route it; ParseExposureEvent then judges it.
bool IsHealthEvent(const nlohmann::json& event);
// InvalidArgument naming the field for anything that is not an exposure
// event of the types above with at least one access key id.
Result<ExposureEvent> ParseExposureEvent(std::string_view text);
// "AKIA" or "ASIA"... : 16-128 characters of [A-Z0-9]. Temporary keys
// (ASIA...) cannot be rotated: they are refused with an explanation.
Status ValidateExposedKeyId(const std::string& access_key_id);

// An example event for `access_key_id`, as AWS would send it (for
// `keyrotor respond --example-event` and docs).
nlohmann::json ExampleExposureEvent(const std::string& access_key_id, const std::string& account, TimePoint now);

// The IAM user owning `access_key_id` in the account `iam` works in
// (GetAccessKeyLastUsed answers it, also for a quarantined user). NotFound
// when the key does not exist there.
Result<std::string> FindKeyOwner(aws::IamClient& iam, const std::string& access_key_id);

// What CloudTrail's event history says a key did.
struct KeyActivity {
  TimePoint start{}, end{};
  std::vector<std::string> regions;
  size_t events = 0;
  bool truncated = false;  // more events than were read (kMaxLookupPages per region)
  std::map<std::string, size_t> by_event;   // "iam.amazonaws.com:CreateUser" -> count
  std::map<std::string, size_t> by_source_ip;
  std::map<std::string, size_t> by_region;
  std::map<std::string, size_t> errors;     // errorCode -> count (refused calls)
  std::optional<TimePoint> first_seen, last_seen;
  std::map<std::string, std::string> lookup_errors;  // region -> why its history could not be read
};
inline constexpr int kMaxLookupPages = 20;  // 1,000 events a region

// Reads the history of each region in turn, at most 2 requests a second per
// region (CloudTrail's LookupEvents quota) paced on `admin`'s clock. A
// region that cannot be read is named in lookup_errors; the others still count.
KeyActivity LookupKeyActivity(const aws::ClientFactory& admin, const std::string& access_key_id, TimePoint start,
                              TimePoint end, const std::vector<std::string>& regions);
nlohmann::json ActivityToJson(const KeyActivity& activity);
// One line for people: "12 calls in 24h from 203.0.113.9 (10), 127.0.0.1 (2): ...".
std::string ActivitySummaryLine(const nlohmann::json& activity);

}  // namespace keyrotor::engine
