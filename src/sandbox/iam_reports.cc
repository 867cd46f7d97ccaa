// IAM's account-wide reads: the credential report (GenerateCredentialReport,
// GetCredentialReport) and GetAccountAuthorizationDetails. Shapes, columns
// and errors follow the IAM API Reference and the IAM User Guide's "Getting
// credential reports for your AWS account" (the CSV columns, "N/A",
// ISO 8601 times with +00:00, the root row first; a report younger than four
// hours is returned again instead of being regenerated).
#include <algorithm>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/iam.h"

namespace keyrotor::sandbox::iam {
namespace {

constexpr auto kReportFresh = std::chrono::hours(4);

constexpr char kReportHeader[] =
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

// The report's time format: 2024-05-01T12:00:00+00:00.
std::string ReportTime(TimePoint t) {
  std::string iso = FormatIso8601(std::chrono::floor<std::chrono::seconds>(t));
  if (!iso.empty() && iso.back() == 'Z') iso.replace(iso.size() - 1, 1, "+00:00");
  return iso;
}

// RFC 4180: a field with a comma or a quote is quoted (IAM names may hold commas).
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void AppendKeyColumns(std::string& row, const AccessKeyRecord* key) {
  if (!key) {
    row += ",false,N/A,N/A,N/A,N/A";
    return;
  }
  row += key->active ? ",true," : ",false,";
  row += ReportTime(key->created);
  if (key->last_used) {
    row += "," + ReportTime(key->last_used->when) + "," + key->last_used->region + "," + key->last_used->service;
  } else {
    row += ",N/A,N/A,N/A";
  }
}

std::string BuildReport(const State& state, TimePoint now) {
  std::string csv = kReportHeader;
  // The root user's row comes first; the sandbox's root has no password use or keys to show.
  csv += "\n<root_account>,arn:aws:iam::" + state.account_id + ":root," + ReportTime(now - std::chrono::hours(24 * 365)) +
         ",not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
         "false,N/A,false,N/A";
  for (const auto& [key, user] : state.users) {
    std::string row = "\n" + CsvField(user.name) + "," + CsvField(user.arn) + "," + ReportTime(user.created) + ",false,N/A,N/A,N/A,false";
    for (size_t i = 0; i < 2; ++i) {
      const AccessKeyRecord* k = nullptr;
      if (i < user.key_ids.size()) {
        auto it = state.keys.find(user.key_ids[i]);
        if (it != state.keys.end()) k = &it->second;
      }
      AppendKeyColumns(row, k);
    }
    row += ",false,N/A,false,N/A";
    csv += row;
  }
  return csv;
}

bool Allowed(OpContext& ctx, std::string_view action) { return IsAllowed(ctx.caller, action, ""); }

std::string AccountResource(OpContext& ctx) { return "arn:aws:iam::" + ctx.state.account_id + ":root"; }

}  // namespace

Result<Reply> GenerateCredentialReport(OpContext& ctx, const RoutedRequest&) {
  if (!Allowed(ctx, "iam:GenerateCredentialReport")) {
    return Deny(ctx, "iam:GenerateCredentialReport", AccountResource(ctx));
  }
  std::optional<CredentialReportRecord>& report = ctx.state.credential_report;
  XmlWriter xml;
  if (report && ctx.now < report->started + kReportFresh) {
    xml.Leaf("State", ctx.now >= report->ready ? "COMPLETE" : "INPROGRESS");
    return Reply::Xml(xml.Take());
  }
  bool existed = report.has_value();
  CredentialReportRecord fresh;
  fresh.started = ctx.now;
  fresh.ready = ctx.now + std::chrono::milliseconds(std::max(0, ctx.state.options.credential_report_ms));
  fresh.csv = BuildReport(ctx.state, ctx.now);
  report = std::move(fresh);
  xml.Leaf("State", "STARTED")
      .Leaf("Description", existed ? "Report is older than 4 hours. Starting a new report generation task"
                                   : "No report exists. Starting a new report generation task");
  return Reply::Xml(xml.Take());
}

Result<Reply> GetCredentialReport(OpContext& ctx, const RoutedRequest&) {
  if (!Allowed(ctx, "iam:GetCredentialReport")) return Deny(ctx, "iam:GetCredentialReport", AccountResource(ctx));
  const std::optional<CredentialReportRecord>& report = ctx.state.credential_report;
  if (!report) {
    return ApiError(410, "ReportNotPresent",
                    "Credential report does not exist. Use GenerateCredentialReport to generate a credential report.");
  }
  if (ctx.now < report->ready) {
    return ApiError(404, "ReportInProgress", "Credential report is being generated. Please retry after a while.");
  }
  if (ctx.now >= report->started + kReportFresh) {
    return ApiError(410, "ReportExpired",
                    "The credential report has expired. Use GenerateCredentialReport to generate a new credential "
                    "report.");
  }
  XmlWriter xml;
  xml.Leaf("Content", Base64Encode(report->csv))
      .Leaf("ReportFormat", "text/csv")
      .Leaf("GeneratedTime", FormatIso8601(std::chrono::floor<std::chrono::seconds>(report->started)));
  return Reply::Xml(xml.Take());
}

// Users with their groups and tags (Filter=User); the other entity lists are
// sent empty, as AWS does when the filter leaves them out.
Result<Reply> GetAccountAuthorizationDetails(OpContext& ctx, const RoutedRequest& request) {
  std::vector<std::string> filters = MemberList(request.params, "Filter");
  for (const std::string& f : filters) {
    if (f != "User" && f != "Role" && f != "Group" && f != "LocalManagedPolicy" && f != "AWSManagedPolicy") {
      return ApiError(400, "ValidationError",
                      ValidationMessage(f, "filter",
                                        "Member must satisfy constraint: [Member must satisfy enum value set: "
                                        "[LocalManagedPolicy, Group, Role, User, AWSManagedPolicy]]"));
    }
  }
  KR_ASSIGN_OR_RETURN(PageRequest page_request, ParsePageRequest(request.params));
  if (!Allowed(ctx, "iam:GetAccountAuthorizationDetails")) {
    return Deny(ctx, "iam:GetAccountAuthorizationDetails", "*");
  }
  auto wanted = [&](const char* type) {
    return filters.empty() || std::find(filters.begin(), filters.end(), type) != filters.end();
  };
  // One listing of users then groups, paginated together: MaxItems counts entities of every type.
  std::vector<const UserRecord*> users;
  std::vector<const GroupRecord*> groups;
  std::vector<std::string> keys;
  if (wanted("User")) {
    for (const auto& [key, user] : ctx.state.users) {
      users.push_back(&user);
      keys.push_back("u/" + key);
    }
  }
  if (wanted("Group")) {
    for (const auto& [key, group] : ctx.state.groups) {
      groups.push_back(&group);
      keys.push_back("v/" + key);
    }
  }
  Page page = Paginate(keys, page_request);
  XmlWriter xml;
  xml.Open("UserDetailList");
  for (size_t i = page.begin; i < std::min(page.end, users.size()); ++i) {
    const UserRecord& user = *users[i];
    xml.Open("member");
    xml.Leaf("Path", user.path)
        .Leaf("UserName", user.name)
        .Leaf("UserId", user.id)
        .Leaf("Arn", user.arn)
        .Leaf("CreateDate", FormatIso8601(user.created));
    xml.Empty("UserPolicyList");
    xml.Open("GroupList");
    for (const std::string& group_key : user.groups) {
      const GroupRecord* group = ctx.state.FindGroup(group_key);
      xml.Leaf("member", group ? group->name : group_key);
    }
    xml.Close("GroupList");
    xml.Empty("AttachedManagedPolicies");
    if (!user.tags.empty()) {
      xml.Open("Tags");
      for (const Tag& tag : user.tags) {
        xml.Open("member").Leaf("Key", tag.key).Leaf("Value", tag.value).Close("member");
      }
      xml.Close("Tags");
    }
    xml.Close("member");
  }
  xml.Close("UserDetailList");
  xml.Open("GroupDetailList");
  for (size_t i = std::max(page.begin, users.size()); i < page.end; ++i) {
    const GroupRecord& group = *groups[i - users.size()];
    xml.Open("member")
        .Leaf("Path", group.path)
        .Leaf("GroupName", group.name)
        .Leaf("GroupId", group.id)
        .Leaf("Arn", group.arn)
        .Leaf("CreateDate", FormatIso8601(group.created))
        .Empty("GroupPolicyList")
        .Empty("AttachedManagedPolicies")
        .Close("member");
  }
  xml.Close("GroupDetailList");
  xml.Empty("RoleDetailList").Empty("Policies");
  WritePageTail(xml, page);
  return Reply::Xml(xml.Take());
}

}  // namespace keyrotor::sandbox::iam
