// keyrotor marks itself non-dumpable, so a program it runs (an exec:
// destination here) cannot read keyrotor's environment or memory through
// /proc, though it runs as the same user. Root may read any process
// (CAP_SYS_PTRACE), and the tests run as root: keyrotor is run as `nobody`
// (setpriv) then, so the check is the one an ordinary user's hook faces.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "base/clock.h"
#include "sandbox/server.h"
#include "support/process.h"

namespace keyrotor {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(NonDumpableTest, AProgramKeyrotorRunsCannotReadItsEnvironmentOrMemory) {
  std::string dir = testing::MakeTempDir("keyrotor-nondumpable");
  std::vector<std::string> as_user;  // how keyrotor is started: as an unprivileged user
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr) << "running as root, and there is no user nobody to run keyrotor as";
    ASSERT_EQ(::chown(dir.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
    as_user = {"/usr/bin/setpriv", "--reuid=" + std::to_string(nobody->pw_uid),
               "--regid=" + std::to_string(nobody->pw_gid), "--clear-groups", "--"};
  }
  ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);

  // The hook reports what it could read of its parent (keyrotor), and of
  // itself as the control: /proc works, and the files are there to read.
  std::string probe = dir + "/probe.sh";
  std::ofstream(probe) << "#!/bin/sh\n"
                       << "cat > /dev/null\n"
                       << "out=\"" << dir << "/probe\"\n"
                       << "cat /proc/$PPID/comm > \"$out.parent\"\n"
                       << "if cat /proc/$PPID/environ > \"$out.environ\" 2>/dev/null; then echo environ=read; "
                       << "else echo environ=denied; fi >> \"$out.result\"\n"
                       << "if (exec 3< /proc/$PPID/mem) 2>/dev/null; then echo mem=opened; "
                       << "else echo mem=denied; fi >> \"$out.result\"\n"
                       << "if cat /proc/$PPID/maps > /dev/null 2>&1; then echo maps=read; "
                       << "else echo maps=denied; fi >> \"$out.result\"\n"
                       << "if cat /proc/$$/environ > /dev/null 2>&1; then echo self=read; "
                       << "else echo self=denied; fi >> \"$out.result\"\n";
  ASSERT_EQ(::chmod(probe.c_str(), 0755), 0);
  if (!as_user.empty()) {
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_EQ(::chown(probe.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  }

  auto started = sandbox::SandboxServer::Start(sandbox::SandboxOptions{});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<sandbox::SandboxServer> server = std::move(started).value();
  auto admin = server->sandbox().CreateAdmin("admin");
  ASSERT_TRUE(server->sandbox().CreateUserWithKey("app", Clock::Real()->Now() - std::chrono::hours(24 * 100)).ok());

  std::map<std::string, std::string> env = {{"AWS_ACCESS_KEY_ID", admin.access_key_id},
                                            {"AWS_SECRET_ACCESS_KEY", admin.secret.reveal()},
                                            {"AWS_REGION", "us-east-1"},
                                            {"HOME", dir},
                                            {"AWS_CONFIG_FILE", dir + "/no-config"},
                                            {"AWS_SHARED_CREDENTIALS_FILE", dir + "/no-credentials"},
                                            {"AWS_EC2_METADATA_DISABLED", "true"}};
  std::vector<std::string> argv = as_user;
  for (const std::string& a :
       {testing::KeyrotorBinary(), std::string("rotate"), std::string("--user"), std::string("app"),
        std::string("--mode"), std::string("immediate"), std::string("--state"), dir + "/journal.db",
        std::string("--to"), "exec:" + probe, std::string("--endpoint-url"), server->endpoint(),
        std::string("--orphan-settle-ms"), std::string("0"), std::string("--json")}) {
    argv.push_back(a);
  }
  testing::ProcessResult run = testing::RunProcess(argv, env);
  EXPECT_NE(run.out.find("\"result\":\"completed\""), std::string::npos) << run.out << run.err;

  EXPECT_EQ(Slurp(dir + "/probe.parent"), "keyrotor\n") << "the hook's parent is not keyrotor";
  std::string result = Slurp(dir + "/probe.result");
  EXPECT_NE(result.find("self=read"), std::string::npos) << result;  // the control
  EXPECT_NE(result.find("environ=denied"), std::string::npos) << result;
  EXPECT_NE(result.find("mem=denied"), std::string::npos) << result;
  EXPECT_NE(result.find("maps=denied"), std::string::npos) << result;
  EXPECT_EQ(Slurp(dir + "/probe.environ").find(admin.secret.reveal()), std::string::npos)
      << "the hook read keyrotor's credentials from /proc";
  server->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor
