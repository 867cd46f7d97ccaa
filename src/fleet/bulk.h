// Reading an account in bulk for a fleet pass (docs/fleet.md, "What a pass
// costs"): users with their path, groups and tags from
// GetAccountAuthorizationDetails (1,000 a page), and every user's keys from
// the IAM credential report, so that only users with something due cost IAM
// calls of their own.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aws/iam.h"
#include "base/clock.h"
#include "base/status.h"
#include "engine/rotator.h"

namespace keyrotor::fleet {

// An account's users and groups as selection needs them.
struct AccountDirectory {
  std::map<std::string, std::string> users;                     // user name -> path
  std::map<std::string, std::vector<aws::Tag>> tags;            // user name -> tags
  std::map<std::string, std::vector<std::string>> groups_of;    // user name -> group names
  std::map<std::string, std::set<std::string>> group_members;   // lower-case group -> lower-case user names
};
AccountDirectory DirectoryFromDetails(const aws::AuthorizationDetails& details);

// The credential report's key columns, by user name (the root row left out).
// A key's "last rotated" is when it was created or its status last changed.
using ReportedKeys = std::map<std::string, std::vector<engine::UserFacts::ReportedKey>>;
// InvalidArgument naming the line and column for a report it cannot read.
Result<ReportedKeys> ParseCredentialReport(std::string_view csv);

// AWS keeps a credential report for four hours: GenerateCredentialReport
// returns COMPLETE at once while one is that fresh.
inline constexpr auto kCredentialReportFresh = std::chrono::hours(4);

// Asks IAM to generate the report (a no-op while a fresh one exists), polls
// GenerateCredentialReport until it is COMPLETE (waiting 250 ms, doubling to
// 8 s, at most `max_wait` in all), then reads it.
Result<aws::CredentialReport> FetchCredentialReport(aws::IamClient& iam, Clock* clock,
                                                    Duration max_wait = std::chrono::minutes(5));

}  // namespace keyrotor::fleet
