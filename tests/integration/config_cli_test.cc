// `keyrotor config check` as a person runs it: the real binary, no AWS.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file_util.h"
#include "support/process.h"

namespace keyrotor {
namespace {

using testing::ProcessResult;

class ConfigCheckCliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("keyrotor-config-cli"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ProcessResult Check(const std::string& path) {
    // No credentials anywhere: checking a file must not need them.
    return testing::RunProcess(
        {testing::KeyrotorBinary(), "config", "check", "--config", path, "--now", "2026-11-25T02:37:12Z"},
        {{"HOME", dir_}});
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(AtomicWriteFile(path, text).ok());
    return path;
  }

  std::string dir_;
};

TEST_F(ConfigCheckCliTest, ShippedExampleIsSummarised) {
  ProcessResult r = Check(std::string(KEYROTOR_SOURCE_DIR) + "/examples/keyrotor.toml");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("keyrotor.toml: OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("state:       " + dir_ + "/.local/state/keyrotor/journal.db"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("schedule:    0 3 * * * (UTC)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  next run:  2026-11-25T03:00:00Z\n  next run:  2026-11-26T03:00:00Z\n"
                       "  next run:  2026-11-27T03:00:00Z\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("accounts (2):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  prod: id 123456789012, assumes arn:aws:iam::123456789012:role/keyrotor"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("selections (3;"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mode immediate"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("keyrotor-prod"), std::string::npos) << "the external id is not printed";
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(ConfigCheckCliTest, EveryProblemIsReportedWithFileAndLine) {
  std::string path = Write("bad.toml",
                           "concurrency = 0\n"              // 1
                           "schedule = \"every 10s\"\n"     // 2
                           "[policy]\n"                     // 3
                           "mode = \"sometimes\"\n"         // 4
                           "notify = [\"webhook:nope\"]\n"  // 5
                           "[[selection]]\n"                // 6
                           "user_regx = \"^svc-\"\n");      // 7
  ProcessResult r = Check(path);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(path + ":1: concurrency: must be between 1 and 256, got 0\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path + ":2: schedule: \"every\": the interval must be at least 1m\n"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":4: policy.mode: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path + ":7: selection[0].user_regx: unknown setting (did you mean user_regex?)\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":6: selection[0]: selects no user"), std::string::npos) << r.err;
  // Specs are checked even where the policy around them is wrong.
  EXPECT_NE(r.err.find(path + ":5: policy.notify: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("keyrotor: error: 6 problems in " + path), std::string::npos) << r.err;
}

TEST_F(ConfigCheckCliTest, SyntaxErrorAndMissingFile) {
  ProcessResult r = Check(Write("syntax.toml", "[[selection]]\nusers = [\"a\"\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("syntax.toml:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TOML syntax error"), std::string::npos) << r.err;

  r = Check(dir_ + "/missing.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.toml"), std::string::npos) << r.err;
}

TEST_F(ConfigCheckCliTest, BadDestinationSpecIsCaught) {
  std::string path = Write("spec.toml", "[[selection]]\nall_users = true\nto = [\"secretsmanager:ok\", \"bogus\"]\n");
  ProcessResult r = Check(path);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(path + ":3: selection[0].to: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keyrotor
