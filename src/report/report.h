// The access key report: every user's keys with their age and last use, and
// the CIS AWS Foundations Benchmark checks on them (1.12 unused credentials,
// 1.13 more than one active key, 1.14 keys older than 90 days). Gathering
// (this file) is separate from rendering (render.h) so a fleet run can merge
// several accounts' reports before printing them.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/clients.h"
#include "base/clock.h"
#include "base/status.h"

namespace keyrotor::report {

// The CIS AWS Foundations Benchmark v1.4/v1.5 recommendations keyrotor checks.
enum class Check {
  kUnusedCredentials,   // 1.12: credentials unused for 45 days or greater are disabled
  kMultipleActiveKeys,  // 1.13: only one active access key for any single IAM user
  kKeyNotRotated,       // 1.14: access keys are rotated every 90 days or less
};
inline constexpr Check kAllChecks[] = {Check::kUnusedCredentials, Check::kMultipleActiveKeys, Check::kKeyNotRotated};
std::string_view CheckId(Check check);     // "1.12", "1.13", "1.14"
std::string_view CheckTitle(Check check);  // the recommendation, for people

struct KeyReport {
  std::string access_key_id;
  std::string status;  // "Active" | "Inactive"
  TimePoint created{};
  int64_t age_days = 0;                // whole days since creation
  std::optional<TimePoint> last_used;  // absent: never used
  std::string last_used_service;       // empty when never used
  std::string last_used_region;
  std::vector<Check> findings;  // the checks this key fails, in kAllChecks order
  bool active() const { return status == "Active"; }
};

struct UserReport {
  std::string user;
  std::vector<KeyReport> keys;  // oldest first
};

struct Finding {
  Check check;
  std::string user;
  std::string access_key_id;
  std::string detail;  // for people: "active key is 100 days old"
};

struct Summary {
  size_t users = 0;
  size_t keys = 0;
  size_t active_keys = 0;
  size_t findings[std::size(kAllChecks)] = {};  // indexed by Check
  // The oldest active key, if any.
  std::string oldest_active_user;
  std::string oldest_active_key_id;
  int64_t oldest_active_age_days = -1;
  size_t total_findings() const;
};

struct Report {
  std::string account;
  TimePoint generated_at{};
  std::vector<UserReport> users;  // by user name
  std::vector<Finding> findings;  // by user, then key, then check
  Summary summary;
};

struct ReportOptions {
  std::vector<std::string> users;  // empty: every user in the account (ListUsers)
  // Users whose keys are fetched at once. Each worker takes its own IamClient
  // from `clients`; without a factory every call goes through the one client
  // passed to BuildReport, one at a time.
  int concurrency = 8;
  const aws::ClientFactory* clients = nullptr;
  Duration max_key_age = std::chrono::hours(24 * 90);  // 1.14: an active key older than this
  Duration max_unused = std::chrono::hours(24 * 45);   // 1.12: unused (or never used since creation) this long
};

// Lists the users (or takes options.users), their keys and each key's last
// use, and runs the checks as of clock->Now(). A listed user that does not
// exist is NotFound; any other failed call fails the whole report (a partial
// report would under-count findings).
Result<Report> BuildReport(aws::IamClient& iam, const std::string& account, Clock* clock, const ReportOptions& options);

// The checks on gathered keys; BuildReport calls it, tests may too. Fills
// each key's findings, the report's findings and the summary.
void Evaluate(Report& report, const ReportOptions& options);

}  // namespace keyrotor::report
