// The HTML report: one file a person can open or mail, that works offline and
// under a strict Content-Security-Policy. Hence inline CSS, the chart as
// inline SVG, no script and no external resource (fonts, images, links).
#include <fmt/core.h>

#include <algorithm>

#include "report/render.h"

namespace keyrotor::report {
namespace {

constexpr std::string_view kStyle = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
th { background: #f6f8fa; }
td.num { text-align: right; }
tr.finding td { background: #ffebe9; }
tr.inactive td { color: #6e7781; }
.check { font-weight: bold; color: #cf222e; }
.ok { color: #1a7f37; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }
dl.summary dt { font-weight: bold; }
svg.chart { border: 1px solid #d0d7de; background: #fff; }
svg.chart text { font-size: 12px; font-family: inherit; }
)css";


// A histogram of active key ages; bars past the 90-day rotation threshold
// are red, and the threshold itself is a dashed line between 60-90 and 90-180.
std::string AgeChart(const Report& report, size_t index) {
  const std::array<size_t, 5> counts = ActiveKeyAgeHistogram(report);
  const size_t max = std::max<size_t>(1, *std::max_element(counts.begin(), counts.end()));
  constexpr int kWidth = 600, kHeight = 300, kLeft = 60, kTop = 40, kPlot = 200, kSlot = 104, kBar = 70;
  const int base = kTop + kPlot;
  std::string title = "Active access keys by age in days:";
  for (size_t i = 0; i < counts.size(); ++i) {
    title += fmt::format("{} {}: {}", i ? "," : "", kAgeBucketLabels[i], counts[i]);
  }
  std::string id = fmt::format("age-chart-{}", index);
  std::string svg = fmt::format(
      "<svg class=\"chart\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-labelledby=\"{2}-title\">\n"
      "<title id=\"{2}-title\">{3}</title>\n",
      kWidth, kHeight, id, HtmlEscape(title));
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#57606a\"/>\n", kLeft, base,
                     kLeft + 5 * kSlot);
  for (size_t i = 0; i < counts.size(); ++i) {
    int h = static_cast<int>(counts[i] * kPlot / max);
    int x = kLeft + static_cast<int>(i) * kSlot + (kSlot - kBar) / 2;
    const char* fill = i >= 3 ? "#cf222e" : "#2da44e";
    svg += fmt::format(
        "<rect class=\"bar\" data-bucket=\"{0}\" x=\"{1}\" y=\"{2}\" width=\"{3}\" height=\"{4}\" fill=\"{5}\"/>\n"
        "<text class=\"count\" x=\"{6}\" y=\"{7}\" text-anchor=\"middle\">{8}</text>\n"
        "<text x=\"{6}\" y=\"{9}\" text-anchor=\"middle\">{0} d</text>\n",
        kAgeBucketLabels[i], x, base - h, kBar, h, fill, x + kBar / 2, base - h - 6, counts[i], base + 18);
  }
  const int threshold_x = kLeft + 3 * kSlot;
  svg += fmt::format(
      "<line class=\"threshold\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#cf222e\" stroke-width=\"2\" "
      "stroke-dasharray=\"6 4\"/>\n"
      "<text x=\"{3}\" y=\"{4}\" fill=\"#cf222e\">90-day rotation threshold (CIS 1.14)</text>\n"
      "<text x=\"{5}\" y=\"{6}\" text-anchor=\"middle\">key age (days)</text>\n"
      "<text x=\"16\" y=\"{7}\" transform=\"rotate(-90 16 {7})\" text-anchor=\"middle\">active keys</text>\n"
      "</svg>\n",
      threshold_x, kTop - 10, base, threshold_x + 6, kTop - 16 + 12, kLeft + 5 * kSlot / 2, base + 40,
      kTop + kPlot / 2);
  return svg;
}

std::string Section(const Report& report, size_t index) {
  const Summary& s = report.summary;
  std::string out = fmt::format("<section>\n<h2>Account {}</h2>\n<dl class=\"summary\">\n", HtmlEscape(report.account));
  out += fmt::format("<dt>Generated</dt><dd>{}</dd>\n", HtmlEscape(FormatIso8601(report.generated_at)));
  out += fmt::format("<dt>Users</dt><dd>{}</dd>\n<dt>Access keys</dt><dd>{} ({} active)</dd>\n", s.users, s.keys,
                     s.active_keys);
  for (Check c : kAllChecks) {
    out += fmt::format("<dt>CIS {}</dt><dd>{} finding(s): {}</dd>\n", CheckId(c), s.findings[static_cast<size_t>(c)],
                       HtmlEscape(CheckTitle(c)));
  }
  out += "<dt>Oldest active key</dt><dd>";
  out += s.oldest_active_age_days < 0 ? std::string("none")
                                      : fmt::format("{} {} ({} days)", HtmlEscape(s.oldest_active_user),
                                                    HtmlEscape(s.oldest_active_key_id), s.oldest_active_age_days);
  out += "</dd>\n</dl>\n<h3>Active key age</h3>\n" + AgeChart(report, index);

  out += fmt::format("<h3>Findings ({})</h3>\n", report.findings.size());
  if (report.findings.empty()) {
    out += "<p class=\"ok\">No findings.</p>\n";
  } else {
    out += "<table class=\"findings\">\n<tr><th>Check</th><th>User</th><th>Access key id</th><th>Detail</th></tr>\n";
    for (const Finding& f : report.findings) {
      out += fmt::format("<tr><td class=\"check\" title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         HtmlEscape(CheckTitle(f.check)), CheckId(f.check), HtmlEscape(f.user),
                         HtmlEscape(f.access_key_id), HtmlEscape(f.detail));
    }
    out += "</table>\n";
  }

  out +=
      "<h3>Access keys</h3>\n<table class=\"keys\">\n<tr><th>User</th><th>Access key id</th><th>Status</th>"
      "<th>Created</th><th>Age (days)</th><th>Last used</th><th>Service</th><th>Region</th><th>Findings</th></tr>\n";
  for (const UserReport& user : report.users) {
    for (const KeyReport& key : user.keys) {
      std::string findings;
      for (Check c : key.findings)
        findings += fmt::format("{}<span class=\"check\">{}</span>", findings.empty() ? "" : " ", CheckId(c));
      const char* cls = !key.findings.empty() ? "finding" : key.active() ? "key" : "inactive";
      out += fmt::format(
          "<tr class=\"{}\"><td class=\"user\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
          cls, HtmlEscape(user.user), HtmlEscape(key.access_key_id), HtmlEscape(key.status), FormatIsoDate(key.created),
          key.age_days, key.last_used ? FormatIsoDate(*key.last_used) : "never", HtmlEscape(key.last_used_service),
          HtmlEscape(key.last_used_region), findings.empty() ? "-" : findings);
    }
    if (user.keys.empty()) {
      out += fmt::format("<tr class=\"nokeys\"><td class=\"user\">{}</td><td colspan=\"8\">no access keys</td></tr>\n",
                         HtmlEscape(user.user));
    }
  }
  out += "</table>\n</section>\n";
  return out;
}

}  // namespace

std::string RenderHtml(const std::vector<Report>& reports) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>keyrotor access key report</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<h1>Access key report</h1>\n";
  for (size_t i = 0; i < reports.size(); ++i) out += Section(reports[i], i);
  out +=
      "<p>CIS AWS Foundations Benchmark checks: 1.12 (unused 45 days or more), 1.13 (more than one active key), "
      "1.14 (active key older than 90 days). Generated by keyrotor.</p>\n</body>\n</html>\n";
  return out;
}

}  // namespace keyrotor::report
