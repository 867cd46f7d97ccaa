#include "credentials/process_provider.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace keyrotor::credentials {
namespace {

constexpr char kProcessSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPROCESSKEY";
constexpr char kProcessToken[] = "FwoGZXIvYXdzEPROCESSTOKEN";

class ProcessProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keyrotor-process-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_["PATH"] = "/usr/bin:/bin";
    env_["HOME"] = dir_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0700);
    return path;
  }
  Result<aws::Credentials> Run(const std::string& command_line,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    ProcessCredentialsProvider provider(
        {.profile = "dev", .command_line = command_line, .env = env_, .timeout = timeout});
    return provider.GetCredentials();
  }
  // The message names the provider and profile and leaks nothing it read.
  void ExpectCleanError(const Status& s) {
    EXPECT_NE(s.message().find("credential_process (profile dev)"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(kProcessSecret), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(kProcessToken), std::string::npos) << s.message();
  }

  std::string dir_;
  EnvMap env_;
};

TEST(SplitCommandLineTest, FollowsShellQuoting) {
  auto words = SplitCommandLine(R"(  /opt/get creds --name 'my profile' "a \"b\" \$c \x" back\ slash ''  )");
  ASSERT_TRUE(words.ok());
  EXPECT_EQ(*words, (std::vector<std::string>{"/opt/get", "creds", "--name", "my profile", R"(a "b" $c \x)",
                                              "back slash", ""}));
  EXPECT_EQ(SplitCommandLine("a'b'\"c\"d")->at(0), "abcd");
  EXPECT_TRUE(SplitCommandLine("")->empty());
  EXPECT_FALSE(SplitCommandLine("echo 'open").ok());
  EXPECT_FALSE(SplitCommandLine("echo \"open").ok());
  EXPECT_FALSE(SplitCommandLine("echo trailing\\").ok());
  // No shell: metacharacters are plain words.
  EXPECT_EQ(*SplitCommandLine("a ; b | c > d"), (std::vector<std::string>{"a", ";", "b", "|", "c", ">", "d"}));
}

TEST_F(ProcessProviderTest, ReadsCredentialsAndArgumentsReachTheProcessUnsplit) {
  std::string script =
      Script("ok.sh", std::string("[ \"$1\" = 'two words' ] || exit 9\n") +
                          "[ \"$KEYROTOR_TEST\" = yes ] || exit 8\n"
                          "read x && exit 7\n"  // stdin is /dev/null
                          "printf '%s' '{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC\", "
                          "\"SecretAccessKey\": \"" +
                          kProcessSecret + "\", \"SessionToken\": \"" + kProcessToken +
                          "\", \"Expiration\": \"2030-01-02T03:04:05Z\", \"AccountId\": \"123456789012\"}'\n");
  env_["KEYROTOR_TEST"] = "yes";
  auto creds = Run(script + " 'two words'");
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIAPROC");
  EXPECT_EQ(creds->secret_access_key.reveal(), kProcessSecret);
  EXPECT_EQ(creds->session_token.reveal(), kProcessToken);
  ASSERT_TRUE(creds->expiration.has_value());
  EXPECT_EQ(FormatIso8601(*creds->expiration), "2030-01-02T03:04:05Z");
  EXPECT_NE(creds->provider.find("profile dev"), std::string::npos);
}

TEST_F(ProcessProviderTest, TheChildSeesOnlyTheGivenEnvironment) {
  setenv("KEYROTOR_PARENT_ONLY", "leak", 1);
  std::string script = Script("env.sh",
                              "[ -z \"$KEYROTOR_PARENT_ONLY\" ] || exit 5\n"
                              "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIA\", \"SecretAccessKey\": \"s\"}'\n");
  auto creds = Run(script);
  unsetenv("KEYROTOR_PARENT_ONLY");
  EXPECT_TRUE(creds.ok()) << creds.status().ToString();
}

TEST_F(ProcessProviderTest, FindsTheCommandOnTheGivenPath) {
  Script("kr-helper", "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIALONG\", \"SecretAccessKey\": \"s\"}'\n");
  env_["PATH"] = dir_ + ":/usr/bin:/bin";
  auto creds = Run("kr-helper");
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->access_key_id, "AKIALONG");
  EXPECT_FALSE(creds->expiration.has_value());
  EXPECT_FALSE(creds->IsTemporary());

  env_["PATH"] = "/nonexistent";
  auto missing = Run("kr-helper");
  ASSERT_FALSE(missing.ok());
  ExpectCleanError(missing.status());
}

TEST_F(ProcessProviderTest, RejectsAVersionOtherThanTheNumberOne) {
  for (const char* version : {"2", "\"1\"", "1.5", "null"}) {
    std::string script =
        Script("v.sh", std::string("echo '{\"Version\": ") + version +
                           ", \"AccessKeyId\": \"AKIA\", \"SecretAccessKey\": \"" + kProcessSecret + "\"}'\n");
    auto creds = Run(script);
    ASSERT_FALSE(creds.ok()) << version;
    EXPECT_NE(creds.status().message().find("Version"), std::string::npos) << creds.status().message();
    ExpectCleanError(creds.status());
  }
  std::string no_version =
      Script("nv.sh", std::string("echo '{\"AccessKeyId\": \"AKIA\", \"SecretAccessKey\": \"") + kProcessSecret + "\"}'\n");
  ASSERT_FALSE(Run(no_version).ok());
}

TEST_F(ProcessProviderTest, MissingSecretAccessKeyOrBadJsonFailsWithoutQuotingStdout) {
  std::string missing =
      Script("m.sh",
             std::string("echo '{\"Version\": 1, \"AccessKeyId\": \"AKIA\", \"SessionToken\": \"") + kProcessToken + "\"}'\n");
  auto creds = Run(missing);
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("SecretAccessKey"), std::string::npos);
  ExpectCleanError(creds.status());

  std::string garbled =
      Script("g.sh", std::string("echo '{\"Version\": 1, \"SecretAccessKey\": \"") + kProcessSecret + "\", oops'\n");
  creds = Run(garbled);
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());

  std::string bad_time =
      Script("t.sh", std::string("echo '{\"Version\": 1, \"AccessKeyId\": \"AKIA\", \"SecretAccessKey\": \"") +
                         kProcessSecret + "\", \"Expiration\": \"tomorrow\"}'\n");
  creds = Run(bad_time);
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
}

TEST_F(ProcessProviderTest, NonZeroExitReportsStderrButNotStdout) {
  std::string script = Script("fail.sh", std::string("echo '{\"Version\": 1, \"SecretAccessKey\": \"") + kProcessSecret +
                                             "\"}'\necho 'token expired, run sso login' >&2\nexit 3\n");
  auto creds = Run(script);
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("exited with status 3"), std::string::npos) << creds.status().message();
  EXPECT_NE(creds.status().message().find("token expired, run sso login"), std::string::npos);
  ExpectCleanError(creds.status());

  std::string noisy = Script("noisy.sh", "head -c 100000 /dev/zero | tr '\\0' x >&2\nexit 1\n");
  creds = Run(noisy);
  ASSERT_FALSE(creds.ok());
  EXPECT_LT(creds.status().message().size(), 2000u);
  EXPECT_NE(creds.status().message().find("truncated"), std::string::npos);
}

TEST_F(ProcessProviderTest, HangingCommandIsKilledAtTheTimeout) {
  std::string script = Script("hang.sh", "exec sleep 30\n");
  auto start = std::chrono::steady_clock::now();
  auto creds = Run(script, std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("did not finish"), std::string::npos) << creds.status().message();
  ExpectCleanError(creds.status());
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(ProcessProviderTest, CommandThatClosesItsOutputAndLingersIsKilledToo) {
  std::string script = Script("linger.sh", "exec >&- 2>&-\nexec sleep 30\n");
  auto start = std::chrono::steady_clock::now();
  auto creds = Run(script, std::chrono::milliseconds(300));
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("did not finish"), std::string::npos) << creds.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ProcessProviderTest, EmptyOrUnterminatedCommandLineIsAnError) {
  ASSERT_FALSE(Run("").ok());
  auto creds = Run("helper 'open");
  ASSERT_FALSE(creds.ok());
  ExpectCleanError(creds.status());
}

}  // namespace
}  // namespace keyrotor::credentials
