// The Keeper SaaS rotation plugin (contrib/keeper/saas/) run by Debian's
// python3 with a stand-in for Keeper's framework (tests/keeper_saas/kdnrm),
// against the sandbox on loopback, driving the real keyrotor binary. The
// Python side checks the key states with boto3; this side checks the run
// passed and that no secret reached its output.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "sandbox/server.h"
#include "support/process.h"

namespace keyrotor {
namespace {

TEST(KeeperSaasPluginTest, RotatesRollsBackAndRotatesThroughKeyrotor) {
  auto server = sandbox::SandboxServer::Start(sandbox::SandboxOptions{});
  ASSERT_TRUE(server.ok());
  sandbox::Sandbox& sb = (*server)->sandbox();
  auto admin = sb.CreateAdmin("keeper-gateway");
  auto user = sb.CreateUserWithKey("keeper-app", Clock::Real()->Now() - std::chrono::hours(24 * 100));
  auto other = sb.CreateUserWithKey("keeper-other");
  ASSERT_TRUE(user.ok() && other.ok());
  std::string dir = testing::MakeTempDir("keyrotor-keeper-saas");
  nlohmann::json config = {{"endpoint", (*server)->endpoint()},
                           {"keyrotor", testing::KeyrotorBinary()},
                           {"state", dir + "/journal.db"},
                           {"admin_access_key_id", admin.access_key_id},
                           {"admin_secret_access_key", admin.secret.reveal()},
                           {"user", "keeper-app"},
                           {"user_access_key_id", user->access_key_id},
                           {"user_secret_access_key", user->secret.reveal()},
                           {"other_user", "keeper-other"}};
  ASSERT_TRUE(AtomicWriteFile(dir + "/config.json", config.dump()).ok());  // 0600: it holds the admin's secret

  const std::string source = KEYROTOR_SOURCE_DIR;
  std::map<std::string, std::string> env = {
      {"KEYROTOR_SAAS_TEST_CONFIG", dir + "/config.json"},
      {"PYTHONPATH", source + "/tests/keeper_saas:" + source + "/contrib/keeper/saas"},
      {"PYTHONDONTWRITEBYTECODE", "1"},
      {"HOME", dir},
      {"AWS_EC2_METADATA_DISABLED", "true"},
      {"PATH", "/usr/bin:/bin"}};
  testing::ProcessResult r =
      testing::RunProcess({"/usr/bin/python3", source + "/tests/keeper_saas/test_keyrotor_plugin.py", "-v"}, env, 300);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("Ran 5 tests"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\nOK"), std::string::npos) << r.err;
  for (const std::string& secret : {admin.secret.reveal(), user->secret.reveal(), other->secret.reveal()}) {
    EXPECT_EQ((r.out + r.err).find(secret), std::string::npos) << "a secret reached the output";
  }
  (*server)->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor
