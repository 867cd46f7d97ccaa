#include "report/render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace keyrotor::report {
namespace {

using std::chrono::hours;
constexpr hours kOneDay{24};
const TimePoint kNow = std::chrono::sys_days(std::chrono::year(2026) / 3 / 1);

// A crafted name no IAM user can have, to prove every format escapes it.
const std::string kNasty = "<b>x&y\"z</b>,\n";

KeyReport Key(std::string id, int age_days, std::optional<int> used_days_ago, bool active = true) {
  KeyReport k;
  k.access_key_id = std::move(id);
  k.status = active ? "Active" : "Inactive";
  k.created = kNow - age_days * kOneDay;
  if (used_days_ago) {
    k.last_used = kNow - *used_days_ago * kOneDay;
    k.last_used_service = "sts";
    k.last_used_region = "eu-west-1";
  }
  return k;
}

// Ages 10/50/100/200, one key used recently, two never used, one user with two active keys.
Report Sample() {
  Report r;
  r.account = "123456789012";
  r.generated_at = kNow;
  r.users = {
      UserReport{"alice", {Key("AKIAALICE", 10, 1)}},
      UserReport{"bob+ci=x,y.z@corp-1_a", {Key("AKIABOB", 50, std::nullopt)}},
      UserReport{"carol", {Key("AKIACAROL", 100, 3)}},
      UserReport{"dave", {Key("AKIADAVE", 200, std::nullopt), Key("AKIADAVEOLD", 250, std::nullopt, false)}},
      UserReport{"erin", {Key("AKIAERIN1", 20, 1), Key("AKIAERIN2", 5, 1)}},
      UserReport{kNasty, {Key("AKIANASTY", 31, 1)}},
  };
  Evaluate(r, ReportOptions{});
  return r;
}

// RFC 4180 back to rows, to check the quoting round-trips.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  if (rows.back().empty() && field.empty()) rows.pop_back();
  return rows;
}

TEST(ReportRenderTest, ParsesFormatNames) {
  EXPECT_EQ(*ParseReportFormat("html"), ReportFormat::kHtml);
  EXPECT_EQ(*ParseReportFormat("csv"), ReportFormat::kCsv);
  EXPECT_FALSE(ParseReportFormat("xml").ok());
}

TEST(ReportRenderTest, SampleHasTheExpectedFindings) {
  Report r = Sample();
  std::vector<std::string> got;
  for (const Finding& f : r.findings) got.push_back(std::string(CheckId(f.check)) + " " + f.access_key_id);
  EXPECT_EQ(got, (std::vector<std::string>{"1.12 AKIABOB", "1.14 AKIACAROL", "1.12 AKIADAVE", "1.14 AKIADAVE",
                                           "1.13 AKIAERIN1", "1.13 AKIAERIN2"}));
}

TEST(ReportRenderTest, TextIsAnAlignedTableWithFindingsAndSummary) {
  std::string text = RenderText(Sample());
  std::istringstream lines(text);
  std::string header, first;
  std::getline(lines, header);  // account line
  std::getline(lines, header);
  std::getline(lines, first);
  EXPECT_EQ(header.find("ACCESS KEY ID"), first.find("AKIAALICE")) << text;
  EXPECT_EQ(header.find("LAST USED"), first.find("2026-02-28 (sts, eu-west-1)")) << text;
  EXPECT_NE(text.find("never"), std::string::npos);
  EXPECT_NE(text.find("1.14  dave  AKIADAVE  active key is 200 days old"), std::string::npos) << text;
  EXPECT_NE(text.find("findings (6)"), std::string::npos);
  EXPECT_NE(text.find("oldest active key: dave AKIADAVE (200 days)"), std::string::npos) << text;
}

TEST(ReportRenderTest, JsonIsOneDocument) {
  auto j = nlohmann::json::parse(RenderJson(Sample()));
  EXPECT_EQ(j["account"], "123456789012");
  EXPECT_EQ(j["generated_at"], "2026-03-01T00:00:00Z");
  ASSERT_EQ(j["users"].size(), 6u);
  EXPECT_EQ(j["users"][1]["user"], "bob+ci=x,y.z@corp-1_a");
  const auto& bob_key = j["users"][1]["access_keys"][0];
  EXPECT_EQ(bob_key["access_key_id"], "AKIABOB");
  EXPECT_EQ(bob_key["age_days"], 50);
  EXPECT_TRUE(bob_key["last_used"].is_null());
  EXPECT_EQ(bob_key["findings"], nlohmann::json::array({"1.12"}));
  EXPECT_EQ(j["users"][0]["access_keys"][0]["last_used_service"], "sts");
  EXPECT_EQ(j["users"][5]["user"], kNasty);  // JSON escaping round-trips
  ASSERT_EQ(j["findings"].size(), 6u);
  EXPECT_EQ(j["findings"][0]["check"], "1.12");
  EXPECT_EQ(j["findings"][0]["user"], "bob+ci=x,y.z@corp-1_a");
  EXPECT_EQ(j["summary"]["findings_per_check"]["1.13"], 2);
  EXPECT_EQ(j["summary"]["findings"], 6);
  EXPECT_EQ(j["summary"]["keys"], 8);
  EXPECT_EQ(j["summary"]["oldest_active_key"]["access_key_id"], "AKIADAVE");
}

TEST(ReportRenderTest, SeveralAccountsAreAJsonArray) {
  Report other = Sample();
  other.account = "210987654321";
  auto j = nlohmann::json::parse(Render({Sample(), other}, ReportFormat::kJson));
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[1]["account"], "210987654321");
}

TEST(ReportRenderTest, CsvParsesBackOneRowPerKey) {
  auto rows = ParseCsv(RenderCsv(Sample()));
  ASSERT_EQ(rows.size(), 9u);  // header + 8 keys
  EXPECT_EQ(rows[0], (std::vector<std::string>{"account", "user", "access_key_id", "status", "created", "age_days",
                                               "last_used", "last_used_service", "last_used_region", "findings"}));
  for (const auto& row : rows) EXPECT_EQ(row.size(), 10u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"123456789012", "alice", "AKIAALICE", "Active", "2026-02-19T00:00:00Z",
                                               "10", "2026-02-28T00:00:00Z", "sts", "eu-west-1", ""}));
  EXPECT_EQ(rows[2][1], "bob+ci=x,y.z@corp-1_a");  // the comma is quoted
  EXPECT_EQ(rows[2][6], "never");
  EXPECT_EQ(rows[4][9], "1.12;1.14");
  EXPECT_EQ(rows[8][1], kNasty);  // quote, comma and newline survive
  // Several accounts: one header.
  auto both = ParseCsv(Render({Sample(), Sample()}, ReportFormat::kCsv));
  EXPECT_EQ(both.size(), 17u);
}

TEST(ReportRenderTest, CsvFieldQuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
}

TEST(ReportRenderTest, HistogramBucketsActiveKeys) {
  // Active: 10, 50, 100, 200, 20, 5, 31 days; the Inactive 250-day key is not counted.
  EXPECT_EQ(ActiveKeyAgeHistogram(Sample()), (std::array<size_t, 5>{3, 2, 0, 1, 1}));
}

TEST(ReportRenderTest, HtmlIsSelfContainedWithChartAndEscaping) {
  std::string html = RenderHtml({Sample()});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  // The chart: one svg with an accessible title, a bar per bucket labelled with its count, the threshold.
  ASSERT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<title id=\"age-chart-0-title\">Active access keys by age in days: 0-30: 3, 30-60: 2, "
                      "60-90: 0, 90-180: 1, 180+: 1</title>"),
            std::string::npos)
      << html;
  std::regex bar(R"re(<rect class="bar" data-bucket="([^"]+)"[^>]*/>\n<text class="count"[^>]*>(\d+)</text>)re");
  std::vector<std::string> bars;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it) {
    bars.push_back((*it)[1].str() + "=" + (*it)[2].str());
  }
  EXPECT_EQ(bars, (std::vector<std::string>{"0-30=3", "30-60=2", "60-90=0", "90-180=1", "180+=1"}));
  EXPECT_NE(html.find("class=\"threshold\""), std::string::npos);
  EXPECT_NE(html.find("90-day rotation threshold"), std::string::npos);
  // Findings highlighted; the crafted name escaped everywhere.
  EXPECT_NE(html.find("<tr class=\"finding\"><td class=\"user\">dave</td>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"key\"><td class=\"user\">alice</td>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"inactive\"><td class=\"user\">dave</td><td>AKIADAVEOLD"), std::string::npos);
  EXPECT_EQ(html.find(kNasty), std::string::npos);
  EXPECT_EQ(html.find("<b>x"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;x&amp;y&quot;z&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("bob+ci=x,y.z@corp-1_a"), std::string::npos);
}

TEST(ReportRenderTest, HtmlEscapeCoversMarkupCharacters) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace keyrotor::report
