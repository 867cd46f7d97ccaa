// The engine's state machine against the in-process sandbox with a fake
// clock: every policy and mode, days passing instantly.
#include "engine/rotator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "sandbox/test_client.h"
#include "support/sandbox_world.h"

namespace keyrotor::engine {
namespace {

using testing::SandboxWorld;
using Outcome = UserOutcome::Result;

constexpr Days kDay{1};

class RotatorTest : public ::testing::Test {
 protected:
  RotatorTest() { options_.orphan_settle = Duration(0); }

  UserOutcome Rotate(const std::string& user, const StepOverrides& o = {}) {
    Rotator rotator(world_.Clients(), world_.journal.get(), options_);
    UserOutcome out = rotator.RotateUser(user, o);
    for (const auto& a : out.actions) EXPECT_EQ(a.find("****"), std::string::npos);
    outcomes_text_ += out.message + "\n";
    for (const auto& a : out.actions) outcomes_text_ += a + "\n";
    return out;
  }

  std::vector<sandbox::KeyInfo> Keys(const std::string& user) { return world_.sandbox->ListKeys(user); }

  // The key the Secrets Manager secret holds at `stage`: {"AccessKey", "SecretKey"}.
  std::pair<std::string, Secret> SecretKeyAt(const std::string& name, const std::string& stage = "AWSCURRENT") {
    std::optional<Secret> v = world_.sandbox->SecretValue(name, stage);
    if (!v) return {};
    nlohmann::json j = nlohmann::json::parse(v->reveal());
    return {j.at("AccessKey").get<std::string>(), Secret(j.at("SecretKey").get<std::string>())};
  }

  std::vector<AuditRecord> Audit(const std::string& user) {
    AuditFilter f;
    f.user = user;
    return std::move(world_.journal->ReadAudit(f)).value();
  }
  std::vector<std::string> Actions(const std::string& user) {
    std::vector<std::string> out;
    for (const auto& a : Audit(user)) {
      if (a.outcome == "ok") out.push_back(a.action);
    }
    return out;
  }

  std::string CreateTopic() {
    return std::move(world_.Clients().Sns()->CreateTopic("key-rotations")).value();
  }

  // Neither the audit trail, the outcomes nor the journal's files hold `secret`.
  void ExpectNowhere(const Secret& secret) {
    ASSERT_FALSE(secret.empty());
    for (const auto& a : Audit("")) EXPECT_EQ(AuditToJson(a).dump().find(secret.reveal()), std::string::npos);
    EXPECT_EQ(outcomes_text_.find(secret.reveal()), std::string::npos);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      Result<std::string> bytes = ReadFile(world_.dir + "/journal.db" + suffix);
      if (bytes.ok()) {
        EXPECT_EQ(bytes->find(secret.reveal()), std::string::npos) << suffix;
      }
    }
  }

  SandboxWorld world_;
  EngineOptions options_;
  std::string outcomes_text_;
};

TEST_F(RotatorTest, StagedLifecycleOneStepPerRunWhenDue) {
  auto old = world_.UserWithKey("alice", 100 * kDay);
  std::string topic = CreateTopic();
  options_.destinations = {"secretsmanager:app/{user}"};
  options_.notify = {"sns:" + topic};

  UserOutcome first = Rotate("alice");
  ASSERT_EQ(first.result, Outcome::kProgressed) << first.message;  // created and stored; deactivation not due yet
  EXPECT_EQ(first.state, "stored");
  ASSERT_FALSE(first.new_key_id.empty());
  ASSERT_TRUE(first.next_step_at);
  EXPECT_EQ(*first.next_step_at, world_.clock.Now() + 10 * kDay);
  auto keys = Keys("alice");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys[0].active && keys[1].active);
  auto [held_id, held_secret] = SecretKeyAt("app/alice");
  EXPECT_EQ(held_id, first.new_key_id);
  EXPECT_TRUE(world_.KeyWorks(held_id, held_secret));

  // A day later nothing is due.
  world_.clock.Advance(kDay);
  EXPECT_EQ(Rotate("alice").result, Outcome::kNotDue);
  EXPECT_EQ(Keys("alice").size(), 2u);

  world_.clock.Advance(9 * kDay);
  UserOutcome second = Rotate("alice");
  EXPECT_EQ(second.result, Outcome::kProgressed) << second.message;
  EXPECT_EQ(second.state, "old_deactivated");
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id)->active);

  world_.clock.Advance(10 * kDay);
  UserOutcome third = Rotate("alice");
  EXPECT_EQ(third.result, Outcome::kCompleted) << third.message;
  keys = Keys("alice");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, first.new_key_id);

  EXPECT_EQ(Actions("alice"), (std::vector<std::string>{"plan", "create_key", "verify", "store", "notify",
                                                        "deactivate_old", "notify", "delete_old", "notify"}));
  auto messages = world_.sandbox->PublishedMessages(topic);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_NE(messages[0].message.find(first.new_key_id), std::string::npos);
  EXPECT_NE(messages[1].message.find("old_key_deactivated"), std::string::npos);
  EXPECT_NE(messages[2].message.find("old_key_deleted"), std::string::npos);
  for (const auto& m : messages) EXPECT_EQ(m.message.find(held_secret.reveal()), std::string::npos);

  // The next rotation starts when the new key is due, not before.
  world_.clock.Advance(60 * kDay);
  EXPECT_EQ(Rotate("alice").result, Outcome::kNotDue);
  ExpectNowhere(held_secret);
  ExpectNowhere(old.secret);
}


// A run killed between DeleteAccessKey and saving the step leaves the old key
// gone with the journal still at old_deactivated: the next run completes the
// rotation and still records the deletion and tells the owners.
TEST_F(RotatorTest, AnOldKeyAlreadyDeletedIsStillAuditedAndNotified) {
  auto old = world_.UserWithKey("erin", 100 * kDay);
  std::string topic = CreateTopic();
  options_.destinations = {"secretsmanager:app/{user}"};
  options_.notify = {"sns:" + topic};
  ASSERT_EQ(Rotate("erin").result, Outcome::kProgressed);
  world_.clock.Advance(10 * kDay);
  ASSERT_EQ(Rotate("erin").result, Outcome::kProgressed);
  ASSERT_TRUE(world_.Clients().Iam()->DeleteAccessKey("erin", old.access_key_id).ok());
  world_.clock.Advance(10 * kDay);
  UserOutcome last = Rotate("erin");
  EXPECT_EQ(last.result, Outcome::kCompleted) << last.message;
  std::vector<std::string> actions = Actions("erin");
  ASSERT_GE(actions.size(), 2u);
  EXPECT_EQ(actions[actions.size() - 2], "delete_old");
  auto messages = world_.sandbox->PublishedMessages(topic);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_NE(messages[2].message.find("old_key_deleted"), std::string::npos);
}
TEST_F(RotatorTest, NotDueUntilRotateAfterUnlessForced) {
  world_.UserWithKey("bob", 10 * kDay);
  UserOutcome o = Rotate("bob");
  EXPECT_EQ(o.result, Outcome::kNotDue);
  EXPECT_EQ(*o.next_step_at, world_.clock.Now() + 80 * kDay);
  EXPECT_EQ(Keys("bob").size(), 1u);
  EXPECT_TRUE(Audit("bob").empty());  // nothing happened, nothing journaled

  StepOverrides force;
  force.force_rotate = true;
  o = Rotate("bob", force);
  EXPECT_EQ(o.state, "stored") << o.message;
  EXPECT_EQ(Keys("bob").size(), 2u);
}

TEST_F(RotatorTest, ImmediateModeFinishesInOneRun) {
  auto old = world_.UserWithKey("carol", 91 * kDay);
  options_.policy.mode = RotationMode::kImmediate;
  options_.destinations = {"secretsmanager:carol"};
  UserOutcome o = Rotate("carol");
  EXPECT_EQ(o.result, Outcome::kCompleted) << o.message;
  auto keys = Keys("carol");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_NE(keys[0].access_key_id, old.access_key_id);
  auto [id, secret] = SecretKeyAt("carol");
  EXPECT_EQ(id, keys[0].access_key_id);
  EXPECT_TRUE(world_.KeyWorks(id, secret));
  // The secret's previous version holds the old key (AWSPREVIOUS), as the classic flow expects.
  EXPECT_EQ(SecretKeyAt("carol", "AWSPREVIOUS").first, "");  // the secret did not exist before
}

TEST_F(RotatorTest, DeleteFirstModeMakesRoomByDeletingTheOldKeyFirst) {
  auto old = world_.UserWithKey("dave", 95 * kDay);
  // An unknown inactive key is left alone: delete-first needs no room.
  auto other = world_.sandbox->CreateUserWithKey("dave");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(world_.Clients().Iam()->UpdateAccessKey("dave", other->access_key_id, false).ok());
  options_.policy.mode = RotationMode::kDeleteFirst;
  UserOutcome o = Rotate("dave");
  EXPECT_EQ(o.result, Outcome::kCompleted) << o.message;
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id));
  EXPECT_TRUE(world_.sandbox->GetKey(other->access_key_id));
  EXPECT_EQ(Actions("dave")[1], "delete_old");
}

TEST_F(RotatorTest, TwoActiveKeysAreRefusedAndNothingChanges) {
  auto a = world_.UserWithKey("erin", 100 * kDay);
  auto b = world_.sandbox->CreateUserWithKey("erin");
  ASSERT_TRUE(b.ok());
  UserOutcome o = Rotate("erin");
  EXPECT_EQ(o.result, Outcome::kFailed);
  EXPECT_NE(o.message.find(a.access_key_id), std::string::npos);
  EXPECT_NE(o.message.find(b->access_key_id), std::string::npos);
  EXPECT_EQ(Keys("erin").size(), 2u);
  EXPECT_TRUE(Keys("erin")[0].active && Keys("erin")[1].active);
}

TEST_F(RotatorTest, UnknownInactiveKeyAtTheLimitIsDeletedOnlyWhenAllowed) {
  auto a = world_.UserWithKey("frank", 100 * kDay);
  auto b = world_.sandbox->CreateUserWithKey("frank");
  ASSERT_TRUE(world_.Clients().Iam()->UpdateAccessKey("frank", b->access_key_id, false).ok());
  UserOutcome refused = Rotate("frank");
  EXPECT_EQ(refused.result, Outcome::kFailed);
  EXPECT_NE(refused.message.find(b->access_key_id), std::string::npos);
  EXPECT_EQ(Keys("frank").size(), 2u);

  EXPECT_EQ(refused.deleted_inactive_key_id, "");
  EXPECT_EQ(refused.created_key_id, "");

  options_.policy.delete_unknown_inactive = true;
  UserOutcome o = Rotate("frank");
  EXPECT_EQ(o.state, "stored") << o.message;
  EXPECT_FALSE(world_.sandbox->GetKey(b->access_key_id));
  EXPECT_TRUE(world_.sandbox->GetKey(a.access_key_id)->active);
  // What the run did to keys, as fields (not parsed back from `actions`).
  EXPECT_EQ(o.deleted_inactive_key_id, b->access_key_id);
  EXPECT_EQ(o.created_key_id, o.new_key_id);
  EXPECT_FALSE(o.created_key_id.empty());
  // A later run that only moves the rotation on creates nothing.
  UserOutcome later = Rotate("frank");
  EXPECT_EQ(later.created_key_id, "");
  EXPECT_EQ(later.deleted_inactive_key_id, "");
}

TEST_F(RotatorTest, KnownRetiredInactiveKeyMakesRoom) {
  world_.UserWithKey("gina", 100 * kDay);
  auto b = world_.sandbox->CreateUserWithKey("gina");
  ASSERT_TRUE(world_.Clients().Iam()->UpdateAccessKey("gina", b->access_key_id, false).ok());
  StepOverrides o;
  o.known_retired_key_id = b->access_key_id;
  UserOutcome out = Rotate("gina", o);
  EXPECT_EQ(out.state, "stored") << out.message;
  EXPECT_FALSE(world_.sandbox->GetKey(b->access_key_id));
}

TEST_F(RotatorTest, ExemptByTagOrGroup) {
  world_.UserWithKey("hank", 200 * kDay);
  auto iam = world_.Clients().Iam();
  ASSERT_TRUE(iam.ok());
  ASSERT_TRUE(iam->CreateUser("ivy", "/", {{"keyrotor:exempt", "true"}}).ok());
  ASSERT_TRUE(world_.sandbox->CreateUserWithKey("ivy", world_.clock.Now() - 200 * kDay).ok());
  EXPECT_EQ(Rotate("ivy").result, Outcome::kSkipped);
  EXPECT_EQ(Keys("ivy").size(), 1u);

  options_.policy.exempt_groups = {"break-glass"};
  world_.UserWithKey("uma", 200 * kDay);
  sandbox::testing::TestClient admin(*world_.sandbox, &world_.clock);
  admin.As(world_.admin);
  ASSERT_EQ(admin.Iam("CreateGroup", {{"GroupName", "break-glass"}}).status, 200);
  ASSERT_EQ(admin.Iam("AddUserToGroup", {{"GroupName", "break-glass"}, {"UserName", "uma"}}).status, 200);
  UserOutcome exempt = Rotate("uma");
  EXPECT_EQ(exempt.result, Outcome::kSkipped);
  EXPECT_NE(exempt.message.find("break-glass"), std::string::npos);
  EXPECT_EQ(Keys("uma").size(), 1u);
  // hank is not in the group: rotated.
  EXPECT_EQ(Rotate("hank").state, "stored");
}

TEST_F(RotatorTest, LastUsedGuardDefersDeactivationUntilQuietThenForcesAtTheLimit) {
  auto old = world_.UserWithKey("jack", 100 * kDay);
  std::string topic = CreateTopic();
  options_.notify = {"sns:" + topic};
  UserOutcome first = Rotate("jack");
  ASSERT_EQ(first.state, "stored");

  // An application still signs with the old key after the hand-over.
  world_.clock.Advance(10 * kDay);
  ASSERT_TRUE(world_.KeyWorks(old.access_key_id, old.secret));
  UserOutcome deferred = Rotate("jack");
  EXPECT_EQ(deferred.result, Outcome::kDeferred) << deferred.message;
  EXPECT_TRUE(world_.sandbox->GetKey(old.access_key_id)->active);
  EXPECT_NE(deferred.message.find("sts"), std::string::npos);
  ASSERT_TRUE(deferred.next_step_at);

  // Quiet for the quiet period: deactivated.
  world_.clock.Advance(std::chrono::hours(25));
  UserOutcome quiet = Rotate("jack");
  EXPECT_EQ(quiet.state, "old_deactivated") << quiet.message;
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id)->active);

  std::vector<std::string> events;
  for (const auto& m : world_.sandbox->PublishedMessages(topic)) {
    for (const char* e : {"key_created", "step_deferred", "old_key_deactivated"}) {
      if (m.message.find(e) != std::string::npos) events.push_back(e);
    }
  }
  EXPECT_EQ(events, (std::vector<std::string>{"key_created", "step_deferred", "old_key_deactivated"}));

  // A key used every day is deactivated anyway once the new key is force_after old.
  auto busy = world_.UserWithKey("kim", 100 * kDay);
  ASSERT_EQ(Rotate("kim").state, "stored");
  for (int day = 1; day < 30; ++day) {
    world_.clock.Advance(kDay);
    ASSERT_TRUE(world_.KeyWorks(busy.access_key_id, busy.secret));
    if (day >= 10) {
      EXPECT_EQ(Rotate("kim").result, Outcome::kDeferred) << "day " << day;
    }
  }
  world_.clock.Advance(kDay);
  ASSERT_TRUE(world_.KeyWorks(busy.access_key_id, busy.secret));
  UserOutcome forced = Rotate("kim");
  EXPECT_EQ(forced.state, "old_deactivated") << forced.message;
  auto audit = Audit("kim");
  ASSERT_FALSE(audit.empty());
  bool saw_forced = false;
  for (const auto& a : audit) saw_forced |= a.action == "deactivate_old" && a.detail.find("still in use") != std::string::npos;
  EXPECT_TRUE(saw_forced);
}

TEST_F(RotatorTest, MaxAgeStartsRotationEarlyEnoughAndBoundsTheGuard) {
  options_.policy.max_age = 95 * kDay;  // with deactivate_after 10d: rotate at 85 days
  auto old = world_.UserWithKey("lena", 84 * kDay);
  EXPECT_EQ(Rotate("lena").result, Outcome::kNotDue);
  world_.clock.Advance(kDay);
  ASSERT_EQ(Rotate("lena").state, "stored");
  // In use every day: still deactivated when the old key reaches max_age.
  for (int day = 1; day <= 9; ++day) {
    world_.clock.Advance(kDay);
    ASSERT_TRUE(world_.KeyWorks(old.access_key_id, old.secret));
    Rotate("lena");
  }
  EXPECT_TRUE(world_.sandbox->GetKey(old.access_key_id)->active);  // 94 days old
  world_.clock.Advance(kDay);
  ASSERT_TRUE(world_.KeyWorks(old.access_key_id, old.secret));
  EXPECT_EQ(Rotate("lena").state, "old_deactivated");  // 95 days: no active key older than max_age
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id)->active);
}

TEST_F(RotatorTest, KeyThatNeverVerifiesIsDeletedAndNeverHandedOut) {
  // IAM does not propagate the new key within the verification window.
  sandbox::SandboxOptions slow;
  slow.consistency_ms = 3600 * 1000;
  SandboxWorld w(slow);
  auto old = w.UserWithKey("mike", 100 * kDay);
  nlohmann::json before = {{"AccessKey", old.access_key_id}, {"SecretKey", old.secret.reveal()}};
  ASSERT_TRUE(w.Clients().SecretsManager()->CreateSecret("mike", Secret(before.dump()), RandomUuid()).ok());
  std::string topic = std::move(w.Clients().Sns()->CreateTopic("t")).value();
  options_.policy.verify_timeout = std::chrono::seconds(5);
  options_.destinations = {"secretsmanager:mike"};
  options_.notify = {"sns:" + topic};
  Rotator rotator(w.Clients(), w.journal.get(), options_);
  UserOutcome o = rotator.RotateUser("mike");
  EXPECT_EQ(o.result, Outcome::kRolledBack) << o.message;
  EXPECT_NE(o.message.find("verifying the new key"), std::string::npos);
  auto keys = w.sandbox->ListKeys("mike");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, old.access_key_id);
  EXPECT_TRUE(keys[0].active);
  // Verification comes before the hand-over: the secret still holds the old key.
  nlohmann::json held = nlohmann::json::parse(w.sandbox->SecretValue("mike")->reveal());
  EXPECT_EQ(held["AccessKey"], old.access_key_id);
  auto messages = w.sandbox->PublishedMessages(topic);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].message.find("rotation_failed"), std::string::npos);
}

TEST_F(RotatorTest, FailedDestinationRestoresTheEarlierOnesAndDeletesTheNewKey) {
  auto old = world_.UserWithKey("nina", 100 * kDay);
  nlohmann::json before = {{"AccessKey", old.access_key_id}, {"SecretKey", old.secret.reveal()}};
  ASSERT_TRUE(world_.Clients().SecretsManager()->CreateSecret("nina", Secret(before.dump()), RandomUuid()).ok());
  std::string cred_file = world_.dir + "/credentials";
  ASSERT_TRUE(AtomicWriteFile(cred_file, "[nina]\naws_access_key_id = " + old.access_key_id +
                                             "\naws_secret_access_key = " + old.secret.reveal() + "\n")
                  .ok());
  // The third destination refuses the key (its program exits 1).
  options_.destinations = {"secretsmanager:nina", "credentials-file:" + cred_file + "#nina", "exec:/bin/false"};
  UserOutcome o = Rotate("nina");
  EXPECT_EQ(o.result, Outcome::kRolledBack) << o.message;
  auto keys = Keys("nina");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, old.access_key_id);
  EXPECT_EQ(SecretKeyAt("nina").first, old.access_key_id);
  EXPECT_EQ(SecretKeyAt("nina").second.reveal(), old.secret.reveal());
  auto file = credentials::IniFile::Load(cred_file);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->Get("nina", "aws_access_key_id").value_or(""), old.access_key_id);
  EXPECT_EQ(file->Get("nina", "aws_secret_access_key").value_or(""), old.secret.reveal());
  // The rolled-back rotation left nothing open; a later run starts afresh.
  EXPECT_FALSE(world_.journal->OpenRotation(o.account, "nina").value());
  ExpectNowhere(old.secret);
}

// Writes an executable shell script into the test's directory.
std::string WriteScript(const std::string& path, const std::string& body) {
  EXPECT_TRUE(AtomicWriteFile(path, "#!/bin/sh\n" + body, {0700, false}).ok());
  return path;
}

// The second destination of the rollback tests: refuses every new key (exit
// 1) and reverts cleanly (exit 0), so the rotation is abandoned after the
// first destination took the key.
constexpr char kRefusingProgram[] = "case \"$(cat)\" in *'\"event\":\"rollback\"'*) exit 0;; esac\nexit 1\n";

// The first destination takes the key, then its program disappears: the
// rollback cannot restore it. The new key is deleted all the same (nothing
// holds it any more that we could reach), the sealed secrets are wiped, and
// the destination is reported as needing attention everywhere a person looks.
TEST_F(RotatorTest, ARollbackThatCannotRestoreADestinationStillDeletesTheNewKey) {
  auto old = world_.UserWithKey("xena", 100 * kDay);
  std::string topic = CreateTopic();
  std::string vanishing = WriteScript(world_.dir + "/vanishing.sh", "cat > /dev/null\nrm -f \"$0\"\n");
  std::string refusing = WriteScript(world_.dir + "/refusing.sh", kRefusingProgram);
  options_.destinations = {"exec:" + vanishing, "exec:" + refusing};
  options_.notify = {"sns:" + topic};
  options_.destination_options.exec_env = {{"PATH", "/usr/bin:/bin"}};

  UserOutcome o = Rotate("xena");
  EXPECT_EQ(o.result, Outcome::kRolledBack) << o.message;
  EXPECT_EQ(o.state, "rolled_back");
  EXPECT_NE(o.message.find("needs attention"), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("exec:" + vanishing), std::string::npos) << o.message;
  EXPECT_EQ(OutcomeToJson(o)["needs_attention"], nlohmann::json::array({"exec:" + vanishing}));
  // Only the old key is left, active.
  auto keys = Keys("xena");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, old.access_key_id);
  EXPECT_TRUE(keys[0].active);
  EXPECT_FALSE(world_.sandbox->GetKey(o.new_key_id));
  // Finished: nothing open, no sealed secret left, the journal names the destination.
  EXPECT_FALSE(world_.journal->OpenRotation(o.account, "xena").value());
  auto rotations = world_.journal->Rotations(o.account, "xena").value();
  ASSERT_EQ(rotations.size(), 1u);
  nlohmann::json record = RotationToJson(rotations[0]);
  EXPECT_EQ(record["destinations"][0]["step"], "needs_attention") << record.dump();
  EXPECT_EQ(record["destinations"][1]["step"], "restored") << record.dump();
  for (const char* slot : {"new_secret", "undo/0", "undo/1"}) {
    EXPECT_FALSE(world_.journal->GetSealed(rotations[0].id, slot).value()) << slot;
  }
  bool audited = false;
  for (const auto& a : Audit("xena")) {
    audited |= a.action == "restore" && a.outcome == "failed" && a.detail.find("needs attention") != std::string::npos &&
               a.detail.find("exec:" + vanishing) != std::string::npos;
  }
  EXPECT_TRUE(audited);
  std::vector<std::string> actions = Actions("xena");
  EXPECT_NE(std::find(actions.begin(), actions.end(), "delete_new"), actions.end());
  // The owners hear of it once, with the destination named.
  auto messages = world_.sandbox->PublishedMessages(topic);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].message.find("rotation_failed"), std::string::npos);
  EXPECT_NE(messages[0].message.find("needs attention"), std::string::npos) << messages[0].message;
  EXPECT_NE(messages[0].message.find(vanishing), std::string::npos);

  // The next run starts afresh instead of retrying the rollback.
  StepOverrides force;
  force.force_rotate = true;
  std::string again = WriteScript(vanishing, "cat > /dev/null\n");
  options_.destinations = {"exec:" + again};
  EXPECT_EQ(Rotate("xena", force).state, "stored");
}

// A restore that fails in a way that may pass (a program that times out, a
// network error) is retried by the next runs, the new key kept meanwhile; after
// the third attempt the destination is given up and the new key deleted.
TEST_F(RotatorTest, ATransientRestoreFailureIsRetriedThenGivenUp) {
  std::string slow = world_.dir + "/slow-{user}.sh";
  for (const char* user : {"yuri", "zoe"}) {
    world_.UserWithKey(user, 100 * kDay);
    // Takes the key; hangs on the rollback until "$0.ok" exists.
    WriteScript(world_.dir + "/slow-" + user + ".sh",
                "case \"$(cat)\" in *'\"event\":\"rollback\"'*) [ -f \"$0.ok\" ] && exit 0; sleep 30;; esac\n");
  }
  std::string refusing = WriteScript(world_.dir + "/refusing.sh", kRefusingProgram);
  options_.destinations = {"exec:" + slow, "exec:" + refusing};
  options_.destination_options.exec_env = {{"PATH", "/usr/bin:/bin"}};
  options_.destination_options.exec_timeout = std::chrono::milliseconds(300);

  for (const char* user : {"yuri", "zoe"}) {
    UserOutcome first = Rotate(user);
    EXPECT_EQ(first.result, Outcome::kFailed) << first.message;
    EXPECT_EQ(first.state, "rolling_back");
    EXPECT_NE(first.message.find("will retry"), std::string::npos) << first.message;
    EXPECT_EQ(Keys(user).size(), 2u);  // kept while the restore may still succeed
  }
  // yuri's program recovers: restored, new key deleted, nothing needs attention.
  ASSERT_TRUE(AtomicWriteFile(world_.dir + "/slow-yuri.sh.ok", "").ok());
  UserOutcome yuri = Rotate("yuri");
  EXPECT_EQ(yuri.result, Outcome::kRolledBack) << yuri.message;
  EXPECT_EQ(Keys("yuri").size(), 1u);
  EXPECT_EQ(yuri.message.find("needs attention"), std::string::npos) << yuri.message;
  EXPECT_TRUE(OutcomeToJson(yuri)["needs_attention"].empty());

  // zoe's never does: the third attempt gives up on it.
  UserOutcome second = Rotate("zoe");
  EXPECT_EQ(second.result, Outcome::kFailed) << second.message;
  EXPECT_EQ(Keys("zoe").size(), 2u);
  UserOutcome third = Rotate("zoe");
  EXPECT_EQ(third.result, Outcome::kRolledBack) << third.message;
  EXPECT_NE(third.message.find("needs attention"), std::string::npos) << third.message;
  EXPECT_EQ(Keys("zoe").size(), 1u);
  EXPECT_FALSE(world_.journal->OpenRotation(third.account, "zoe").value());
}

// Two finished rotations of one user, each with its own notifier, both still
// owing their events: each event goes to its own rotation's notifier only.
TEST_F(RotatorTest, OwedEventsGoToTheNotifiersOfTheirOwnRotation) {
  world_.UserWithKey("tess", 100 * kDay);
  options_.policy.mode = RotationMode::kImmediate;
  std::string account = *Rotator(world_.Clients(), world_.journal.get(), options_).Account();
  // Topics that do not exist yet: every publish fails until they are created.
  std::string topic_a = "arn:aws:sns:us-east-1:" + account + ":owed-a";
  std::string topic_b = "arn:aws:sns:us-east-1:" + account + ":owed-b";
  options_.notify = {"sns:" + topic_a};
  UserOutcome first = Rotate("tess");
  ASSERT_EQ(first.result, Outcome::kCompleted) << first.message;
  StepOverrides force;
  force.force_rotate = true;
  options_.notify = {"sns:" + topic_b};
  UserOutcome second = Rotate("tess", force);
  ASSERT_EQ(second.result, Outcome::kCompleted) << second.message;
  ASSERT_NE(first.rotation_id, second.rotation_id);

  ASSERT_EQ(world_.Clients().Sns()->CreateTopic("owed-a").value(), topic_a);
  ASSERT_EQ(world_.Clients().Sns()->CreateTopic("owed-b").value(), topic_b);
  options_.notify = {};
  Rotate("tess");  // nothing due; the owed events go out

  auto received = [&](const std::string& topic) {
    std::vector<std::pair<std::string, std::string>> out;  // (rotation_id, event)
    for (const auto& m : world_.sandbox->PublishedMessages(topic)) {
      nlohmann::json j = nlohmann::json::parse(m.message.substr(m.message.find("\n\n{") + 2));
      out.emplace_back(j["rotation_id"].get<std::string>(), j["event"].get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  using Events = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(received(topic_a), (Events{{first.rotation_id, "key_created"}, {first.rotation_id, "old_key_deleted"}}));
  EXPECT_EQ(received(topic_b), (Events{{second.rotation_id, "key_created"}, {second.rotation_id, "old_key_deleted"}}));
  std::vector<RotationRecord> rotations = world_.journal->Rotations(first.account, "tess").value();
  for (const RotationRecord& r : rotations) {
    EXPECT_TRUE(r.pending_events.empty()) << r.id;
  }
}

// Someone deleted the new key after the hand-over: the old key, the only one
// left, is never retired; the owners hear about it once.
TEST_F(RotatorTest, NewKeyGoneKeepsTheOldKeyAndNotifiesOnce) {
  auto old = world_.UserWithKey("rita", 100 * kDay);
  std::string topic = CreateTopic();
  options_.notify = {"sns:" + topic};
  UserOutcome first = Rotate("rita");
  ASSERT_EQ(first.state, "stored");
  ASSERT_TRUE(world_.Clients().Iam()->DeleteAccessKey("rita", first.new_key_id).ok());
  world_.clock.Advance(10 * kDay);
  for (int run = 0; run < 3; ++run) {
    UserOutcome o = Rotate("rita");
    EXPECT_EQ(o.result, Outcome::kFailed);
    EXPECT_NE(o.message.find(first.new_key_id), std::string::npos);
    world_.clock.Advance(kDay);
  }
  EXPECT_TRUE(world_.sandbox->GetKey(old.access_key_id)->active);
  int failures = 0;
  for (const auto& m : world_.sandbox->PublishedMessages(topic)) {
    failures += m.message.find("rotation_failed") != std::string::npos;
  }
  EXPECT_EQ(failures, 1);
}

// A notifier that is down is retried on later runs until it takes the event.
TEST_F(RotatorTest, UndeliveredNotificationsAreOwedAndRetried) {
  world_.UserWithKey("sara", 100 * kDay);
  std::string hook = world_.dir + "/flaky-hook.sh";
  // Fails the first time it is called, then records what it receives.
  ASSERT_TRUE(AtomicWriteFile(hook,
                              "#!/bin/sh\nif [ -f \"$0.up\" ]; then cat >> \"$0.log\"; echo >> \"$0.log\"; exit 0; fi\n"
                              "touch \"$0.up\"; exit 1\n",
                              {0700, false})
                  .ok());
  options_.notify = {"exec:" + hook};
  options_.notifier_options.exec_env = {{"PATH", "/usr/bin:/bin"}};
  UserOutcome first = Rotate("sara");
  ASSERT_EQ(first.state, "stored");
  EXPECT_FALSE(ReadFile(hook + ".log").ok());  // not delivered
  auto open = world_.journal->OpenRotation(first.account, "sara");
  ASSERT_TRUE(open.ok() && open->has_value());
  EXPECT_EQ((*open)->pending_events, std::vector<notify::EventKind>{notify::EventKind::kKeyCreated});

  world_.clock.Advance(kDay);
  Rotate("sara");  // nothing due, but the owed event goes out
  auto log = ReadFile(hook + ".log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("\"key_created\""), std::string::npos);
  EXPECT_TRUE(world_.journal->OpenRotation(first.account, "sara").value()->pending_events.empty());
  world_.clock.Advance(kDay);
  Rotate("sara");
  std::string again = ReadFile(hook + ".log").value();
  EXPECT_EQ(again.find("key_created"), again.rfind("key_created"));  // once, not again
}

TEST_F(RotatorTest, DryRunChangesNothing) {
  world_.UserWithKey("olga", 100 * kDay);
  options_.dry_run = true;
  options_.destinations = {"secretsmanager:olga"};
  UserOutcome o = Rotate("olga");
  EXPECT_EQ(o.result, Outcome::kProgressed);
  ASSERT_FALSE(o.actions.empty());
  EXPECT_NE(o.actions.back().find("would create"), std::string::npos);
  EXPECT_EQ(Keys("olga").size(), 1u);
  EXPECT_TRUE(Audit("olga").empty());
  EXPECT_FALSE(world_.sandbox->SecretValue("olga"));
}

TEST_F(RotatorTest, InvalidUserNameChangesNothing) {
  UserOutcome o = Rotate("bad name/../x");
  EXPECT_EQ(o.result, Outcome::kFailed);
  EXPECT_NE(o.message.find("invalid IAM user name"), std::string::npos);
}

TEST_F(RotatorTest, AnotherHolderOfTheUserLockMeansLocked) {
  world_.UserWithKey("pete", 100 * kDay);
  Rotator probe(world_.Clients(), world_.journal.get(), options_);
  auto lock = world_.journal->TryLockUser(*probe.Account(), "pete");
  ASSERT_TRUE(lock.ok() && *lock);
  EXPECT_EQ(Rotate("pete").result, Outcome::kLocked);
  EXPECT_EQ(Keys("pete").size(), 1u);
}

TEST_F(RotatorTest, AdoptsAClassicRotationAndRetiresThroughTheGuards) {
  auto old = world_.UserWithKey("quinn", 100 * kDay);
  auto fresh = world_.sandbox->CreateUserWithKey("quinn");
  ASSERT_TRUE(fresh.ok());
  StepOverrides o;
  o.adopt_old_key_id = old.access_key_id;
  o.adopt_new_key_id = fresh->access_key_id;
  o.deactivate_now = true;
  UserOutcome out = Rotate("quinn", o);
  EXPECT_EQ(out.state, "old_deactivated") << out.message;
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id)->active);
  StepOverrides del;
  del.delete_now = true;
  EXPECT_EQ(Rotate("quinn", del).result, Outcome::kCompleted);
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id));
  EXPECT_TRUE(world_.sandbox->GetKey(fresh->access_key_id)->active);
}

// "." and ".." are valid IAM user names. A {user} path must not leave its
// directory: the rotation is refused before anything changes.
TEST_F(RotatorTest, DotUserNamesCannotMoveADestinationPathOutOfItsDirectory) {
  for (const char* user : {".", ".."}) {
    auto old = world_.UserWithKey(user, 100 * kDay);
    options_.policy.mode = RotationMode::kImmediate;
    options_.destinations = {"credentials-file:" + world_.dir + "/apps/{user}/credentials#default"};
    UserOutcome o = Rotate(user);
    EXPECT_EQ(o.result, Outcome::kFailed) << user;
    EXPECT_NE(o.message.find("leave the spec's directory"), std::string::npos) << o.message;
    auto keys = Keys(user);
    ASSERT_EQ(keys.size(), 1u) << user;
    EXPECT_EQ(keys[0].access_key_id, old.access_key_id);
    EXPECT_FALSE(std::filesystem::exists(world_.dir + "/credentials"));
    EXPECT_FALSE(std::filesystem::exists(world_.dir + "/apps/credentials"));
    EXPECT_TRUE(world_.journal->Rotations("123456789012", user)->empty());
  }
}

}  // namespace
}  // namespace keyrotor::engine
