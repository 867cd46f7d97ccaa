// The HTML report as a browser sees it: headless Chromium renders the file to
// a screenshot and dumps its DOM. Chromium is a test dependency
// (scripts/install-deps installs Debian's `chromium`); without it this test
// fails rather than skips, so a CI image that lost it cannot pass silently.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/file_util.h"
#include "base/strings.h"
#include "report/render.h"
#include "report/report.h"
#include "support/process.h"
#include "support/sandbox_world.h"

namespace keyrotor {
namespace {

using std::chrono::hours;
constexpr hours kDay{24};
constexpr int kTimeoutSeconds = 90;

std::string FindChromium() {
  const char* path = std::getenv("PATH");
  for (const std::string& dir : Split(path ? path : "/usr/bin", ':')) {
    std::string candidate = dir + "/chromium";
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

class ReportHtmlTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("keyrotor-report-html"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Users with keys in several age buckets; one name uses every character
  // IAM allows besides letters and digits.
  std::string WriteReport() {
    for (auto [user, age] : std::vector<std::pair<std::string, int>>{
             {"alice", 10}, {"bob", 50}, {"carol", 100}, {"dave", 200}, {"ops+ci=x,y.z@corp-1_a", 75}}) {
      EXPECT_TRUE(world_.sandbox->CreateUserWithKey(user, world_.clock.Now() - age * kDay).ok());
      users_.push_back(user);
    }
    auto iam = world_.Clients().Iam();
    EXPECT_TRUE(iam.ok());
    report::ReportOptions options;
    options.users = users_;
    auto r = report::BuildReport(*iam, "123456789012", &world_.clock, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::string path = dir_ + "/report.html";
    EXPECT_TRUE(AtomicWriteFile(path, report::RenderHtml({*r}), {0644, false}).ok());
    return path;
  }

  testing::ProcessResult Chromium(const std::string& chromium, std::vector<std::string> args) {
    std::vector<std::string> argv = {chromium,        "--headless=new", "--no-sandbox",
                                     "--disable-gpu", "--no-first-run", "--user-data-dir=" + dir_ + "/profile"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv, {{"HOME", dir_}}, kTimeoutSeconds);
  }

  testing::SandboxWorld world_;
  std::string dir_;
  std::vector<std::string> users_;
};

TEST_F(ReportHtmlTest, ChromiumRendersTheReport) {
  const std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty()) << "chromium is not installed: run scripts/install-deps (it installs Debian's "
                                    "`chromium` package, which this test needs)";
  const std::string url = "file://" + WriteReport();

  const std::string png = dir_ + "/report.png";
  testing::ProcessResult shot = Chromium(chromium, {"--screenshot=" + png, "--window-size=1200,900", url});
  ASSERT_EQ(shot.exit_code, 0) << "chromium timed out or failed: " << shot.err;
  auto image = ReadFile(png);
  ASSERT_TRUE(image.ok()) << image.status().ToString() << "\n" << shot.err;
  ASSERT_GT(image->size(), 24u);
  EXPECT_EQ(image->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(image->substr(12, 4), "IHDR");
  EXPECT_EQ(BigEndian32(*image, 16), 1200u);
  EXPECT_EQ(BigEndian32(*image, 20), 900u);
  // A blank page of one colour compresses to well under this; text, tables and the chart do not.
  EXPECT_GT(image->size(), 10u * 1024) << "the screenshot looks blank";

  testing::ProcessResult dom = Chromium(chromium, {"--dump-dom", url});
  ASSERT_EQ(dom.exit_code, 0) << "chromium timed out or failed: " << dom.err;
  EXPECT_NE(dom.out.find("<svg class=\"chart\""), std::string::npos) << dom.out;
  EXPECT_NE(dom.out.find("class=\"threshold\""), std::string::npos);
  EXPECT_EQ(dom.out.find("<script"), std::string::npos);
  for (const std::string& user : users_) {
    EXPECT_NE(dom.out.find("<td class=\"user\">" + user + "</td>"), std::string::npos) << user;
  }
  EXPECT_NE(dom.out.find("<tr class=\"finding\"><td class=\"user\">dave</td>"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor
