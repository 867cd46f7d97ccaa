#include "destinations/exec_destination.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace keyrotor::destinations {
namespace {

constexpr char kExecSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

class ExecDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keyrotor-exec-dest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    options_.exec_env = {{"PATH", "/usr/bin:/bin"}, {"HOME", dir_}};
    options_.exec_timeout = Duration(10000);
    key_.rotation_id = "rot-1";
    key_.account = "123456789012";
    key_.user = "bob";
    key_.access_key_id = "AKIANEWKEY0000000001";
    key_.secret_access_key = Secret(kExecSecret);
    key_.created = TimePoint(std::chrono::seconds(1700000000));
    key_.previous_access_key_id = "AKIAOLDKEY0000000001";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0700);
    return path;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::unique_ptr<Destination> Make(const std::string& script, std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {script};
    argv.insert(argv.end(), args.begin(), args.end());
    return MakeExecDestination("exec:" + script, argv, options_);
  }

  std::string dir_;
  DestinationOptions options_;
  KeyHandoff key_;
};

TEST_F(ExecDestinationTest, PutSendsTheKeyOnStdinOnly) {
  // The script records what it got and where a snooping `ps` would look.
  std::string script = Script("record.sh", "cat > " + dir_ +
                                               "/stdin.json\n"
                                               "tr '\\0' '\\n' < /proc/$$/cmdline > " +
                                               dir_ +
                                               "/cmdline\n"
                                               "tr '\\0' '\\n' < /proc/$$/environ > " +
                                               dir_ + "/environ\n");
  options_.exec_env["AWS_SECRET_ACCESS_KEY"] = "our-own-secret";
  auto dest = Make(script, {"--store", "app"});
  EXPECT_EQ(dest->Describe(), "exec:" + script);
  Result<Secret> snapshot = dest->Snapshot(key_);
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(snapshot->empty());
  Status put = dest->Put(key_);
  ASSERT_TRUE(put.ok()) << put.ToString();

  nlohmann::json doc = nlohmann::json::parse(Read("stdin.json"));
  EXPECT_EQ(doc, (nlohmann::json{{"event", "rotate"},
                                 {"rotation_id", "rot-1"},
                                 {"account", "123456789012"},
                                 {"user", "bob"},
                                 {"access_key_id", "AKIANEWKEY0000000001"},
                                 {"secret_access_key", kExecSecret},
                                 {"created", "2023-11-14T22:13:20Z"},
                                 {"previous_access_key_id", "AKIAOLDKEY0000000001"}}));
  std::string cmdline = Read("cmdline");
  std::string env_dump = Read("environ");
  EXPECT_NE(cmdline.find("--store\napp"), std::string::npos) << cmdline;
  EXPECT_NE(env_dump.find("HOME=" + dir_), std::string::npos) << env_dump;
  EXPECT_EQ(cmdline.find(kExecSecret), std::string::npos);
  EXPECT_EQ(env_dump.find(kExecSecret), std::string::npos);
  EXPECT_EQ(env_dump.find("our-own-secret"), std::string::npos);
  EXPECT_EQ(env_dump.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST_F(ExecDestinationTest, RestoreSendsARollbackWithoutTheSecret) {
  std::string script = Script("record.sh", "cat > " + dir_ + "/stdin.json\n");
  auto dest = Make(script);
  Status restored = dest->Restore(key_, Secret());
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  std::string raw = Read("stdin.json");
  EXPECT_EQ(raw.find(kExecSecret), std::string::npos);
  nlohmann::json doc = nlohmann::json::parse(raw);
  EXPECT_EQ(doc["event"], "rollback");
  EXPECT_EQ(doc["abandoned_access_key_id"], "AKIANEWKEY0000000001");
  EXPECT_EQ(doc["previous_access_key_id"], "AKIAOLDKEY0000000001");
  EXPECT_EQ(doc["rotation_id"], "rot-1");
  EXPECT_FALSE(doc.contains("secret_access_key"));
}

TEST_F(ExecDestinationTest, NonZeroExitIsAnErrorWithItsStderr) {
  std::string script = Script("fail.sh", "cat > /dev/null\necho 'vault is sealed' >&2\nexit 7\n");
  Status put = Make(script)->Put(key_);
  EXPECT_EQ(put.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(put.message().find("exited with status 7"), std::string::npos) << put.ToString();
  EXPECT_NE(put.message().find("vault is sealed"), std::string::npos) << put.ToString();
  EXPECT_NE(put.message().find("exec:" + script), std::string::npos) << put.ToString();
}

TEST_F(ExecDestinationTest, SecretEchoedToStderrIsRedacted) {
  std::string script = Script("leak.sh",
                              "key=$(sed -n 's/.*\"secret_access_key\":\"\\([^\"]*\\)\".*/\\1/p')\n"
                              "echo \"rejected key $key\" >&2\necho \"$key\"\nexit 1\n");
  Status put = Make(script)->Put(key_);
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.message().find("rejected key ****"), std::string::npos) << put.ToString();
  EXPECT_EQ(put.ToString().find(kExecSecret), std::string::npos) << put.ToString();
}

TEST_F(ExecDestinationTest, TimeoutAndSignalAreErrors) {
  options_.exec_timeout = Duration(300);
  Status slow = Make(Script("slow.sh", "sleep 100\n"))->Put(key_);
  EXPECT_TRUE(slow.IsUnknownOutcome()) << slow.ToString();
  EXPECT_NE(slow.message().find("did not finish within 300 ms"), std::string::npos) << slow.ToString();

  options_.exec_timeout = Duration(10000);
  Status killed = Make(Script("crash.sh", "cat >/dev/null; kill -SEGV $$\n"))->Put(key_);
  EXPECT_NE(killed.message().find("killed by signal 11"), std::string::npos) << killed.ToString();
}

TEST_F(ExecDestinationTest, MissingProgramIsNotFound) {
  Status put = Make(dir_ + "/absent.sh")->Put(key_);
  EXPECT_TRUE(put.IsNotFound()) << put.ToString();
}

}  // namespace
}  // namespace keyrotor::destinations
