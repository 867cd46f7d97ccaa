// AWS CloudTrail (JSON 1.1, target prefix
// "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"): LookupEvents,
// the 90-day management-event history of one region, to tell what an exposed
// access key did. Shapes from the CloudTrail API Reference (LookupEvents,
// Event, LookupAttribute) and botocore's cloudtrail 2013-11-01 model:
// timestamps are epoch seconds, at most 50 events a page, NextToken paging.
// AWS allows 2 LookupEvents requests per second per account and region.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aws/client.h"

namespace keyrotor::aws {

struct TrailEvent {
  std::string event_id;
  std::string event_name;    // "ListBuckets"
  std::string event_source;  // "s3.amazonaws.com"
  std::string access_key_id;
  std::string user_name;
  TimePoint event_time{};
  bool read_only = false;
  // From the CloudTrailEvent document (the full record as a JSON string).
  std::string source_ip;   // sourceIPAddress
  std::string region;      // awsRegion
  std::string error_code;  // errorCode: the call was refused ("AccessDenied")
};

class CloudTrailClient : public JsonClient {
 public:
  CloudTrailClient(ClientContext context, ServiceEndpoint endpoint);

  // Every event signed with `access_key_id` between `start` and `end`, newest
  // first, page by page (`on_event` may stop the walk with an error).
  // `before_request` (may be null) runs before each page is asked: the
  // caller's pacing. At most `max_pages` pages (0: all); `*truncated` (may
  // be null) tells whether more remained.
  Status LookupEventsByAccessKey(const std::string& access_key_id, TimePoint start, TimePoint end,
                                 const std::function<Status(const TrailEvent&)>& on_event, int max_pages = 0,
                                 const std::function<void()>& before_request = nullptr, bool* truncated = nullptr);
};

// Parses one element of LookupEvents' Events list.
Result<TrailEvent> ParseTrailEvent(const nlohmann::json& j);

}  // namespace keyrotor::aws
