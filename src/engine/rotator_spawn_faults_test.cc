// The engine when an exec: destination's program cannot be started: process
// creation fails the way fork does when the process limit is reached (EAGAIN)
// or memory is short (ENOMEM), injected through the subprocess seam
// (base/subprocess.h, Spawner). The hand-off fails, so the rotation is rolled
// back: the new key is deleted, the old one stays active, nothing is left
// open, and the program never sees a secret it was not given.
#include <errno.h>
#include <gtest/gtest.h>

#include "base/file_util.h"
#include "base/strings.h"
#include "base/subprocess.h"
#include "engine/rotator.h"
#include "support/sandbox_world.h"

namespace keyrotor::engine {
namespace {

using testing::SandboxWorld;

// Fails the spawns numbered [first, first + count) with `err`; the others start.
class FailingSpawner : public Spawner {
 public:
  FailingSpawner(int err, int first, int count) : err_(err), first_(first), count_(count) {}
  int Spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions, const posix_spawnattr_t* attr,
            char* const argv[], char* const envp[]) override {
    ++seen_;
    if (seen_ >= first_ && seen_ < first_ + count_) {
      ++injected_;
      return err_;
    }
    return Spawner::Spawn(pid, path, actions, attr, argv, envp);
  }
  int injected() const { return injected_; }
  int seen() const { return seen_; }

 private:
  int err_;
  int first_;
  int count_;
  int seen_ = 0;
  int injected_ = 0;
};

struct SpawnFault {
  const char* name;
  int err;
  int first;
  int count;
  bool restored;  // the rollback's own spawn works: the destination is restored
};

const SpawnFault kSpawnFaults[] = {
    // The hand-off's spawn fails; the rollback's starts and reverts.
    {"ProcessLimitAtTheHandOff", EAGAIN, 1, 1, true},
    {"OutOfMemoryAtTheHandOff", ENOMEM, 1, 1, true},
    // No process can be started at all: the rollback cannot restore the
    // destination either, and still deletes the new key.
    {"ProcessLimitThroughout", EAGAIN, 1, 1000, false},
};

class RotatorSpawnFaultTest : public ::testing::TestWithParam<SpawnFault> {};

TEST_P(RotatorSpawnFaultTest, AProgramThatCannotBeStartedRollsBackAndLosesNothing) {
  const SpawnFault& fault = GetParam();
  SandboxWorld world;
  auto old = world.UserWithKey("app", Days(100));
  const std::string log = world.dir + "/received";
  const std::string program = world.dir + "/reload.sh";
  ASSERT_TRUE(AtomicWriteFile(program, "#!/bin/sh\ncat >> '" + log + "'\n", {0700, false}).ok());

  FailingSpawner spawner(fault.err, fault.first, fault.count);
  EngineOptions options;
  options.orphan_settle = Duration(0);
  options.policy.mode = RotationMode::kImmediate;
  options.destinations = {"exec:" + program};
  options.destination_options.exec_env = {{"PATH", "/usr/bin:/bin"}};
  options.destination_options.spawner = &spawner;
  Rotator rotator(world.Clients(), world.journal.get(), options);
  UserOutcome o = rotator.RotateUser("app", {});

  EXPECT_GT(spawner.injected(), 0) << "the fault was never reached";
  EXPECT_EQ(o.result, UserOutcome::Result::kRolledBack) << o.message;
  EXPECT_NE(o.message.find(ErrnoText(fault.err)), std::string::npos) << o.message;
  // The new key is deleted; the old one is still there, active and working.
  auto keys = world.sandbox->ListKeys("app");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, old.access_key_id);
  EXPECT_TRUE(keys[0].active);
  EXPECT_FALSE(world.sandbox->GetKey(o.new_key_id));
  EXPECT_TRUE(world.KeyWorks(old.access_key_id, old.secret));
  EXPECT_FALSE(world.journal->OpenRotation(o.account, "app").value());
  nlohmann::json outcome = OutcomeToJson(o);
  if (fault.restored) {
    EXPECT_TRUE(outcome["needs_attention"].empty()) << outcome.dump();
    // The program was started once, for the rollback: it was told which key
    // was abandoned and was never handed its secret.
    Result<std::string> received = ReadFile(log);
    ASSERT_TRUE(received.ok()) << received.status().ToString();
    EXPECT_NE(received->find("\"event\":\"rollback\""), std::string::npos) << *received;
    EXPECT_EQ(received->find("\"event\":\"rotate\""), std::string::npos) << *received;
    EXPECT_EQ(received->find("secret_access_key"), std::string::npos) << *received;
  } else {
    EXPECT_EQ(outcome["needs_attention"], nlohmann::json::array({"exec:" + program})) << outcome.dump();
    EXPECT_FALSE(ReadFile(log).ok()) << "no program could have run";
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, RotatorSpawnFaultTest, ::testing::ValuesIn(kSpawnFaults),
                         [](const ::testing::TestParamInfo<SpawnFault>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace keyrotor::engine
