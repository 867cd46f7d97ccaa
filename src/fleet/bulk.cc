#include "fleet/bulk.h"

#include <algorithm>

#include "base/strings.h"
#include "engine/policy.h"

namespace keyrotor::fleet {
namespace {

// One CSV record (RFC 4180: quoted fields may hold commas and doubled quotes).
Result<std::vector<std::string>> SplitCsvLine(std::string_view line, size_t line_no) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  if (quoted) {
    return Status::InvalidArgument("credential report line " + std::to_string(line_no) + ": unterminated quote");
  }
  fields.push_back(std::move(field));
  return fields;
}

}  // namespace

AccountDirectory DirectoryFromDetails(const aws::AuthorizationDetails& details) {
  AccountDirectory dir;
  for (const std::string& g : details.group_names) dir.group_members[ToLower(g)];
  for (const aws::IamUserDetail& d : details.users) {
    const std::string& name = d.user.user_name;
    dir.users[name] = d.user.path;
    dir.tags[name] = d.user.tags;
    dir.groups_of[name] = d.groups;
    for (const std::string& g : d.groups) dir.group_members[ToLower(g)].insert(ToLower(name));
  }
  return dir;
}

Result<ReportedKeys> ParseCredentialReport(std::string_view csv) {
  std::vector<std::string> lines = Split(csv, '\n');
  if (lines.empty()) return Status::InvalidArgument("credential report: empty");
  for (std::string& l : lines) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  }
  KR_ASSIGN_OR_RETURN(std::vector<std::string> header, SplitCsvLine(lines[0], 1));
  auto column = [&](std::string_view name) -> Result<size_t> {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) return Status::InvalidArgument("credential report: no column '" + std::string(name) + "'");
    return static_cast<size_t>(it - header.begin());
  };
  KR_ASSIGN_OR_RETURN(size_t user_col, column("user"));
  size_t active_col[2], rotated_col[2];
  for (int k = 0; k < 2; ++k) {
    std::string prefix = "access_key_" + std::to_string(k + 1) + "_";
    KR_ASSIGN_OR_RETURN(active_col[k], column(prefix + "active"));
    KR_ASSIGN_OR_RETURN(rotated_col[k], column(prefix + "last_rotated"));
  }
  ReportedKeys out;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    KR_ASSIGN_OR_RETURN(std::vector<std::string> f, SplitCsvLine(lines[i], i + 1));
    if (f.size() != header.size()) {
      return Status::InvalidArgument("credential report line " + std::to_string(i + 1) + ": " +
                                     std::to_string(f.size()) + " fields, the header has " +
                                     std::to_string(header.size()));
    }
    if (f[user_col] == "<root_account>") continue;
    std::vector<engine::UserFacts::ReportedKey>& keys = out[f[user_col]];
    for (int k = 0; k < 2; ++k) {
      const std::string& rotated = f[rotated_col[k]];
      if (rotated == "N/A") continue;  // no such key
      Result<TimePoint> when = ParseIso8601(rotated);
      if (!when.ok()) {
        return Status::InvalidArgument("credential report line " + std::to_string(i + 1) + ": access_key_" +
                                       std::to_string(k + 1) + "_last_rotated '" + rotated + "' is not a time");
      }
      keys.push_back({f[active_col[k]] == "true", *when});
    }
  }
  return out;
}

Result<aws::CredentialReport> FetchCredentialReport(aws::IamClient& iam, Clock* clock, Duration max_wait) {
  TimePoint deadline = clock->Now() + max_wait;
  Duration wait = std::chrono::milliseconds(250);
  for (;;) {
    KR_ASSIGN_OR_RETURN(aws::ReportState state, iam.GenerateCredentialReport());
    if (state == aws::ReportState::kComplete) break;
    if (clock->Now() + wait > deadline) {
      return Status::FailedPrecondition("the credential report was not ready after " + engine::FormatDuration(max_wait));
    }
    clock->SleepFor(wait);
    wait = std::min<Duration>(wait * 2, std::chrono::seconds(8));
  }
  return iam.GetCredentialReport();
}

}  // namespace keyrotor::fleet
