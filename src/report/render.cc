#include "report/render.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace keyrotor::report {
namespace {


std::string FindingIds(const KeyReport& key, std::string_view sep) {
  std::string out;
  for (Check c : key.findings) {
    if (!out.empty()) out += sep;
    out += CheckId(c);
  }
  return out;
}

std::string LastUsedText(const KeyReport& key) {
  if (!key.last_used) return "never";
  return fmt::format("{} ({}, {})", FormatIsoDate(*key.last_used), key.last_used_service, key.last_used_region);
}

std::string SummaryFindingsText(const Summary& s) {
  std::string out;
  for (Check c : kAllChecks) {
    out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", CheckId(c), s.findings[static_cast<size_t>(c)]);
  }
  return out;
}

std::string OldestText(const Summary& s) {
  if (s.oldest_active_age_days < 0) return "none";
  return fmt::format("{} {} ({} days)", s.oldest_active_user, s.oldest_active_key_id, s.oldest_active_age_days);
}

}  // namespace

Result<ReportFormat> ParseReportFormat(std::string_view name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "json") return ReportFormat::kJson;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "html") return ReportFormat::kHtml;
  return Status::InvalidArgument("unknown report format '" + std::string(name) +
                                 "' (expected text, json, csv or html)");
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::array<size_t, 5> ActiveKeyAgeHistogram(const Report& report) {
  std::array<size_t, 5> counts{};
  for (const UserReport& user : report.users) {
    for (const KeyReport& key : user.keys) {
      if (!key.active()) continue;
      int64_t d = key.age_days;
      size_t bucket = d < 30 ? 0 : d < 60 ? 1 : d < 90 ? 2 : d < 180 ? 3 : 4;
      ++counts[bucket];
    }
  }
  return counts;
}

std::string RenderText(const Report& report) {
  std::vector<std::array<std::string, 7>> rows;
  rows.push_back({"USER", "ACCESS KEY ID", "STATUS", "CREATED", "AGE", "LAST USED", "FINDINGS"});
  for (const UserReport& user : report.users) {
    for (const KeyReport& key : user.keys) {
      std::string findings = FindingIds(key, ",");
      rows.push_back({user.user, key.access_key_id, key.status, FormatIsoDate(key.created), fmt::format("{}d", key.age_days),
                      LastUsedText(key), findings.empty() ? "-" : findings});
    }
  }
  std::array<size_t, 7> width{};
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out = fmt::format("account {}, generated {}\n", report.account, FormatIso8601(report.generated_at));
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
    }
    out += line + "\n";
  }
  if (report.users.empty()) out += "(no users)\n";
  out += fmt::format("\nfindings ({}):\n", report.findings.size());
  for (const Finding& f : report.findings) {
    out += fmt::format("  {}  {}  {}  {}\n", CheckId(f.check), f.user, f.access_key_id, f.detail);
  }
  if (report.findings.empty()) out += "  none\n";
  const Summary& s = report.summary;
  out += fmt::format("\nsummary: {} users, {} keys ({} active); findings: {}; oldest active key: {}\n", s.users, s.keys,
                     s.active_keys, SummaryFindingsText(s), OldestText(s));
  return out;
}

namespace {

nlohmann::ordered_json ReportToJson(const Report& report) {
  using Json = nlohmann::ordered_json;
  Json users = Json::array();
  for (const UserReport& user : report.users) {
    Json keys = Json::array();
    for (const KeyReport& key : user.keys) {
      Json findings = Json::array();
      for (Check c : key.findings) findings.push_back(CheckId(c));
      keys.push_back({{"access_key_id", key.access_key_id},
                      {"status", key.status},
                      {"created", FormatIso8601(key.created)},
                      {"age_days", key.age_days},
                      {"last_used", key.last_used ? Json(FormatIso8601(*key.last_used)) : Json(nullptr)},
                      {"last_used_service", key.last_used ? Json(key.last_used_service) : Json(nullptr)},
                      {"last_used_region", key.last_used ? Json(key.last_used_region) : Json(nullptr)},
                      {"findings", findings}});
    }
    users.push_back({{"user", user.user}, {"access_keys", keys}});
  }
  Json findings = Json::array();
  for (const Finding& f : report.findings) {
    findings.push_back({{"check", CheckId(f.check)},
                        {"title", CheckTitle(f.check)},
                        {"user", f.user},
                        {"access_key_id", f.access_key_id},
                        {"detail", f.detail}});
  }
  const Summary& s = report.summary;
  Json per_check = Json::object();
  for (Check c : kAllChecks) per_check[std::string(CheckId(c))] = s.findings[static_cast<size_t>(c)];
  Json oldest = nullptr;
  if (s.oldest_active_age_days >= 0) {
    oldest = {{"user", s.oldest_active_user},
              {"access_key_id", s.oldest_active_key_id},
              {"age_days", s.oldest_active_age_days}};
  }
  return {{"account", report.account},
          {"generated_at", FormatIso8601(report.generated_at)},
          {"users", users},
          {"findings", findings},
          {"summary",
           {{"users", s.users},
            {"keys", s.keys},
            {"active_keys", s.active_keys},
            {"findings", s.total_findings()},
            {"findings_per_check", per_check},
            {"oldest_active_key", oldest}}}};
}

}  // namespace

std::string RenderJson(const Report& report) { return ReportToJson(report).dump(2) + "\n"; }

std::string RenderCsv(const Report& report, bool header) {
  std::string out;
  // RFC 4180: CRLF line ends.
  if (header) {
    out +=
        "account,user,access_key_id,status,created,age_days,last_used,last_used_service,last_used_region,findings\r\n";
  }
  for (const UserReport& user : report.users) {
    for (const KeyReport& key : user.keys) {
      std::vector<std::string> fields = {report.account,
                                         user.user,
                                         key.access_key_id,
                                         key.status,
                                         FormatIso8601(key.created),
                                         std::to_string(key.age_days),
                                         key.last_used ? FormatIso8601(*key.last_used) : "never",
                                         key.last_used_service,
                                         key.last_used_region,
                                         FindingIds(key, ";")};
      for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + CsvField(fields[i]);
      out += "\r\n";
    }
  }
  return out;
}

std::string Render(const std::vector<Report>& reports, ReportFormat format) {
  switch (format) {
    case ReportFormat::kText: {
      std::string out;
      for (size_t i = 0; i < reports.size(); ++i) out += (i ? "\n" : "") + RenderText(reports[i]);
      return out;
    }
    case ReportFormat::kJson: {
      if (reports.size() == 1) return RenderJson(reports[0]);
      nlohmann::ordered_json all = nlohmann::ordered_json::array();
      for (const Report& r : reports) all.push_back(ReportToJson(r));
      return all.dump(2) + "\n";
    }
    case ReportFormat::kCsv: {
      std::string out;
      for (size_t i = 0; i < reports.size(); ++i) out += RenderCsv(reports[i], i == 0);
      if (reports.empty()) out = RenderCsv(Report{}, true);
      return out;
    }
    case ReportFormat::kHtml:
      return RenderHtml(reports);
  }
  return "";
}

}  // namespace keyrotor::report
