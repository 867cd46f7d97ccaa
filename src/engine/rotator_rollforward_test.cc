// Write-only destinations (a CI system's secret, which its API never returns):
// the engine hands them the key last, and once one of them may hold the new
// key it rolls forward instead of back, so no CI secret is left holding a
// deleted key (docs/rotation.md).
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/rotator.h"
#include "support/sandbox_world.h"

namespace keyrotor::engine {
namespace {

using testing::SandboxWorld;
using Outcome = UserOutcome::Result;

// What a write-only service holds, by name, and its failures to come.
struct WriteOnlyStore {
  std::mutex mu;
  std::map<std::string, std::pair<std::string, Secret>> held;  // name -> key id, secret
  std::map<std::string, int> failures;                          // name -> next Puts to fail
  std::map<std::string, bool> lose_answer;                      // name -> the next Put lands, its answer is lost
  int restores = 0;
};

class WriteOnlyDestination : public destinations::Destination {
 public:
  WriteOnlyDestination(std::string spec, std::string name, WriteOnlyStore* store)
      : spec_(std::move(spec)), name_(std::move(name)), store_(store) {}
  std::string Describe() const override { return spec_; }
  Result<Secret> Snapshot(const destinations::KeyHandoff&) override { return Secret(); }
  Status Put(const destinations::KeyHandoff& key) override {
    std::lock_guard<std::mutex> lock(store_->mu);
    if (store_->failures[name_] > 0) {
      --store_->failures[name_];
      return Status::NetworkError("writeonly " + name_ + ": connection refused");
    }
    store_->held[name_] = {key.access_key_id, key.secret_access_key.Clone()};
    if (store_->lose_answer[name_]) {
      store_->lose_answer[name_] = false;
      return Status::UnknownOutcome("writeonly " + name_ + ": timed out after the PUT was sent");
    }
    return Status::Ok();
  }
  Status Restore(const destinations::KeyHandoff&, const Secret&) override {
    std::lock_guard<std::mutex> lock(store_->mu);
    ++store_->restores;
    return Status::FailedPrecondition("writeonly " + name_ + " cannot be read back, so it cannot be restored");
  }
  bool ReadsBack() const override { return false; }

 private:
  std::string spec_, name_;
  WriteOnlyStore* store_;
};

constexpr Days kRollDay{1};

class RollForwardTest : public ::testing::Test {
 protected:
  RollForwardTest() {
    options_.orphan_settle = Duration(0);
    options_.policy.mode = RotationMode::kImmediate;
    options_.destination_options.extra_kinds["writeonly"] =
        [this](std::string_view spec, std::string_view rest,
               const destinations::DestinationOptions&) -> Result<std::unique_ptr<destinations::Destination>> {
      return std::unique_ptr<destinations::Destination>(
          new WriteOnlyDestination(std::string(spec), std::string(rest), &store_));
    };
  }

  UserOutcome Rotate(const std::string& user) {
    Rotator rotator(world_.Clients(), world_.journal.get(), options_);
    return rotator.RotateUser(user);
  }
  std::string Held(const std::string& name) {
    std::lock_guard<std::mutex> lock(store_.mu);
    auto it = store_.held.find(name);
    return it == store_.held.end() ? "" : it->second.first;
  }
  bool Exists(const std::string& key_id) { return world_.sandbox->GetKey(key_id).has_value(); }

  SandboxWorld world_;
  EngineOptions options_;
  WriteOnlyStore store_;
};

TEST_F(RollForwardTest, AFailureBeforeAnyWriteOnlyDestinationStillRollsBack) {
  auto old = world_.UserWithKey("ann", 100 * kRollDay);
  // Listed first, handed over last: the failing readable destination comes first and aborts cleanly.
  options_.destinations = {"writeonly:ci", "exec:/bin/false"};
  UserOutcome out = Rotate("ann");
  EXPECT_EQ(out.result, Outcome::kRolledBack) << out.message;
  EXPECT_EQ(Held("ci"), "");  // never written
  EXPECT_EQ(store_.restores, 0);
  EXPECT_EQ(world_.sandbox->ListKeys("ann").size(), 1u);
  EXPECT_TRUE(world_.sandbox->GetKey(old.access_key_id)->active);
}

TEST_F(RollForwardTest, AFailureAfterAWriteOnlyDestinationRollsForwardUntilEveryDestinationHoldsTheKey) {
  auto old = world_.UserWithKey("bob", 100 * kRollDay);
  options_.destinations = {"writeonly:ci", "writeonly:cd"};
  store_.failures["cd"] = 2;
  UserOutcome first = Rotate("bob");
  ASSERT_EQ(first.result, Outcome::kFailed) << first.message;
  EXPECT_EQ(first.state, "verified");
  EXPECT_NE(first.message.find("rolling forward"), std::string::npos) << first.message;
  // The CI secret holds the new key, and the new key exists; the old key too.
  ASSERT_FALSE(first.new_key_id.empty());
  EXPECT_EQ(Held("ci"), first.new_key_id);
  EXPECT_TRUE(Exists(first.new_key_id));
  EXPECT_TRUE(world_.sandbox->GetKey(old.access_key_id)->active);
  EXPECT_EQ(store_.restores, 0);

  UserOutcome second = Rotate("bob");  // still failing: still kept
  EXPECT_EQ(second.state, "verified");
  EXPECT_TRUE(Exists(first.new_key_id));
  UserOutcome third = Rotate("bob");   // the service is back
  EXPECT_EQ(third.result, Outcome::kCompleted) << third.message;
  EXPECT_EQ(Held("ci"), first.new_key_id);
  EXPECT_EQ(Held("cd"), first.new_key_id);
  EXPECT_FALSE(Exists(old.access_key_id));
  EXPECT_EQ(world_.sandbox->ListKeys("bob").size(), 1u);
  EXPECT_EQ(store_.restores, 0);
}

TEST_F(RollForwardTest, AWriteWhoseAnswerWasLostIsNeverRolledBack) {
  auto old = world_.UserWithKey("cy", 100 * kRollDay);
  options_.destinations = {"writeonly:ci"};
  store_.lose_answer["ci"] = true;  // the PUT landed, the answer did not
  UserOutcome first = Rotate("cy");
  ASSERT_EQ(first.result, Outcome::kFailed) << first.message;
  EXPECT_EQ(Held("ci"), first.new_key_id);
  EXPECT_TRUE(Exists(first.new_key_id)) << "the key the CI secret holds must not be deleted";
  UserOutcome second = Rotate("cy");
  EXPECT_EQ(second.result, Outcome::kCompleted) << second.message;
  EXPECT_EQ(Held("ci"), second.new_key_id);
  EXPECT_TRUE(Exists(second.new_key_id));
  EXPECT_FALSE(Exists(old.access_key_id));
}

TEST_F(RollForwardTest, TheRecordSaysItRollsForwardAndReadsBack) {
  RotationRecord r;
  r.id = "r1";
  r.rolls_forward = true;
  Result<RotationRecord> back = RotationFromJson(RotationToJson(r));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->rolls_forward);
  r.rolls_forward = false;
  EXPECT_FALSE(RotationToJson(r).contains("rolls_forward"));
}

}  // namespace
}  // namespace keyrotor::engine
