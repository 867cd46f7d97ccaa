// The report as text (a table for people), JSON, CSV (one row per key, for
// spreadsheets) or HTML (one self-contained file: inline CSS and SVG, no
// script, nothing fetched). Several accounts render into one output.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"

namespace keyrotor::report {

enum class ReportFormat { kText, kJson, kCsv, kHtml };
Result<ReportFormat> ParseReportFormat(std::string_view name);  // "text" | "json" | "csv" | "html"

// One report: JSON is one document; several: a JSON array of them. CSV has
// one header row; text and HTML one section per account.
std::string Render(const std::vector<Report>& reports, ReportFormat format);

std::string RenderText(const Report& report);
std::string RenderJson(const Report& report);
std::string RenderCsv(const Report& report, bool header = true);
std::string RenderHtml(const std::vector<Report>& reports);

// Active keys per age bucket for the HTML chart: 0-30, 30-60, 60-90, 90-180,
// 180+ days (a key of exactly 30 days is in 30-60).
inline constexpr std::array<std::string_view, 5> kAgeBucketLabels = {"0-30", "30-60", "60-90", "90-180", "180+"};
std::array<size_t, 5> ActiveKeyAgeHistogram(const Report& report);

// Escapes & < > " ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view text);
// One RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes doubled).
std::string CsvField(std::string_view text);

}  // namespace keyrotor::report
