#include "notify/exec_notifier.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/sandbox_clients.h"

namespace keyrotor::notify {
namespace {

class ExecNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keyrotor-exec-notify-XXXXXX";
    dir_ = mkdtemp(tmpl);
    options_.exec_env = {{"PATH", "/usr/bin:/bin"}, {"AWS_SESSION_TOKEN", "ours"}};
    event_.kind = EventKind::kOldKeyDeactivated;
    event_.time = TimePoint(std::chrono::seconds(1700000000));
    event_.user = "bob";
    event_.old_access_key_id = "AKIAOLDKEY0000000001";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& body) {
    std::string path = dir_ + "/hook.sh";
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
  std::unique_ptr<Notifier> Make(const std::string& spec) {
    Result<std::unique_ptr<Notifier>> n =
        MakeNotifier(spec, testing::SandboxClients("http://127.0.0.1:1", nullptr), options_);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? std::move(n).value() : nullptr;
  }

  std::string dir_;
  NotifierOptions options_;
  Event event_;
};

TEST_F(ExecNotifierTest, ProgramGetsTheEventJsonOnStdin) {
  std::string script = Script("cat > \"$1\"\nenv > " + dir_ + "/env\n");
  auto notifier = Make("exec:" + script + " '" + dir_ + "/event.json'");
  ASSERT_NE(notifier, nullptr);
  EXPECT_EQ(notifier->Describe(), "exec:" + script + " '" + dir_ + "/event.json'");
  Status s = notifier->Notify(event_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  nlohmann::json got = nlohmann::json::parse(Read("event.json"));
  EXPECT_EQ(got, EventToJson(event_));
  EXPECT_EQ(Read("env").find("AWS_SESSION_TOKEN"), std::string::npos);
}

TEST_F(ExecNotifierTest, NonZeroExitIsAnError) {
  auto notifier = Make("exec:" + Script("cat >/dev/null; echo 'chat is down' >&2; exit 3\n"));
  ASSERT_NE(notifier, nullptr);
  Status s = notifier->Notify(event_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exited with status 3: chat is down"), std::string::npos) << s.ToString();
}

TEST_F(ExecNotifierTest, MissingProgramIsRefusedAtParseAndNotFoundAtNotify) {
  Result<std::unique_ptr<Notifier>> absent =
      MakeNotifier("exec:" + dir_ + "/absent", testing::SandboxClients("http://127.0.0.1:1", nullptr), options_);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(absent.status().message().find(dir_ + "/absent"), std::string::npos) << absent.status().ToString();
  // Removed after the spec was checked: the delivery fails, NotFound.
  std::string script = Script("cat >/dev/null\n");
  auto notifier = Make("exec:" + script);
  ASSERT_NE(notifier, nullptr);
  std::filesystem::remove(script);
  EXPECT_TRUE(notifier->Notify(event_).IsNotFound());
}

}  // namespace
}  // namespace keyrotor::notify
