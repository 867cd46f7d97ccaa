// Responding to an exposed key: the Health event, both orders, the two-key
// limit, AWS's quarantine, duplicate reports and CloudTrail's summary,
// against the in-process sandbox with a fake clock.
#include "engine/exposure.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "engine/rotator.h"
#include "support/sandbox_world.h"

namespace keyrotor::engine {
namespace {

using testing::SandboxWorld;
using Outcome = UserOutcome::Result;

constexpr Days kExposureDay{1};

class ExposureTest : public ::testing::Test {
 protected:
  ExposureTest() {
    options_.orphan_settle = Duration(0);
    topic_ = std::move(world_.Clients().Sns()->CreateTopic("leaks")).value();
    options_.notify = {"sns:" + topic_};
    options_.destinations = {"secretsmanager:app/{user}"};
  }

  UserOutcome Respond(const std::string& user, const std::string& key, const std::string& trigger = "manual") {
    ExposureRequest request;
    request.access_key_id = key;
    request.trigger = trigger;
    StepOverrides o;
    o.exposure = &request;
    Rotator rotator(world_.Clients(), world_.journal.get(), options_);
    UserOutcome out = rotator.RotateUser(user, o);
    text_ += OutcomeToJson(out).dump() + "\n";
    return out;
  }

  std::vector<std::string> Actions(const std::string& user) {
    AuditFilter f;
    f.user = user;
    std::vector<std::string> out;
    std::vector<AuditRecord> records = std::move(world_.journal->ReadAudit(f)).value();
    for (const auto& a : records) {
      text_ += AuditToJson(a).dump() + "\n";
      if (a.outcome == "ok" && a.action != "notify") out.push_back(a.action);
    }
    return out;
  }

  std::pair<std::string, Secret> Held(const std::string& user) {
    std::optional<Secret> v = world_.sandbox->SecretValue("app/" + user);
    if (!v) return {};
    nlohmann::json j = nlohmann::json::parse(v->reveal());
    return {j.at("AccessKey").get<std::string>(), Secret(j.at("SecretKey").get<std::string>())};
  }

  // The key_exposed messages published.
  std::vector<nlohmann::json> ExposedNotices() {
    std::vector<nlohmann::json> out;
    for (const auto& m : world_.sandbox->PublishedMessages(topic_)) {
      text_ += m.message + "\n";
      size_t brace = m.message.find("\n\n{");
      if (brace == std::string::npos) continue;
      nlohmann::json j = nlohmann::json::parse(m.message.substr(brace + 2), nullptr, false);
      if (j.is_object() && j.value("event", "") == "key_exposed") out.push_back(j);
    }
    return out;
  }

  // No output, audit record, notification or journal byte holds `secret`.
  void ExpectNowhere(const Secret& secret) {
    ASSERT_FALSE(secret.empty());
    Actions("");
    ExposedNotices();
    EXPECT_EQ(text_.find(secret.reveal()), std::string::npos);
    for (const char* suffix : {"", "-wal"}) {
      Result<std::string> bytes = ReadFile(world_.dir + "/journal.db" + suffix);
      if (bytes.ok()) {
        EXPECT_EQ(bytes->find(secret.reveal()), std::string::npos) << suffix;
      }
    }
  }

  SandboxWorld world_;
  EngineOptions options_;
  std::string topic_;
  std::string text_;
};

TEST_F(ExposureTest, ParsesTheHealthEventTheSandboxSends) {
  auto key = world_.UserWithKey("paula", kExposureDay);
  std::string text = std::move(world_.sandbox->ExposeKey(key.access_key_id)).value();
  Result<ExposureEvent> event = ParseExposureEvent(text);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->event_type, "AWS_RISK_CREDENTIALS_EXPOSED");
  EXPECT_EQ(event->account, "123456789012");
  EXPECT_EQ(event->access_key_ids, std::vector<std::string>{key.access_key_id});
  EXPECT_NE(event->event_arn.find("arn:aws:health:"), std::string::npos);

  // An organization's delegated Health view: the affected account is in the detail.
  nlohmann::json org = nlohmann::json::parse(text);
  org["account"] = "111111111111";
  org["detail"]["affectedAccount"] = "222222222222";
  EXPECT_EQ(ParseExposureEvent(org.dump())->account, "222222222222");
  org["detail"].erase("affectedAccount");
  EXPECT_EQ(ParseExposureEvent(org.dump())->account, "111111111111");
  // The example command's event reads back too.
  EXPECT_TRUE(ParseExposureEvent(ExampleExposureEvent(key.access_key_id, "123456789012", world_.clock.Now()).dump()).ok());
}

TEST_F(ExposureTest, RefusesWhatIsNotAnExposureEventNamingTheField) {
  nlohmann::json good = ExampleExposureEvent("AKIAABCDEFGHIJKLMNOP", "123456789012", world_.clock.Now());
  auto broken = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = good;
    change(j);
    Result<ExposureEvent> e = ParseExposureEvent(j.dump());
    EXPECT_FALSE(e.ok());
    return e.ok() ? std::string() : e.status().message();
  };
  EXPECT_NE(ParseExposureEvent("{not json").status().message().find("not JSON"), std::string::npos);
  EXPECT_NE(broken([](auto& j) { j["source"] = "aws.events"; }).find("source"), std::string::npos);
  EXPECT_NE(broken([](auto& j) { j["detail"]["service"] = "EC2"; }).find("detail.service"), std::string::npos);
  EXPECT_NE(broken([](auto& j) { j["detail"]["eventTypeCode"] = "AWS_EC2_MAINTENANCE"; }).find("eventTypeCode"),
            std::string::npos);
  EXPECT_NE(broken([](auto& j) { j["detail"]["affectedEntities"] = nlohmann::json::array(); }).find("no access key"),
            std::string::npos);
  EXPECT_NE(broken([](auto& j) { j["detail"]["affectedEntities"][0]["entityValue"] = "ASIAABCDEFGHIJKLMNOP"; })
                .find("temporary"),
            std::string::npos);
  EXPECT_NE(broken([](auto& j) { j["detail"]["affectedEntities"][0]["entityValue"] = "not-a-key"; })
                .find("affectedEntities[0]"),
            std::string::npos);
  EXPECT_NE(broken([](auto& j) {
              j["account"] = "12";
              j["detail"].erase("affectedAccount");
            }).find("account"),
            std::string::npos);
  EXPECT_FALSE(ParseExposureEvent("[]").ok());
}

TEST_F(ExposureTest, RotateFirstHandsOverThenCutsTheExposedKeyOffAtOnce) {
  auto exposed = world_.UserWithKey("rita", 5 * kExposureDay);
  ASSERT_TRUE(world_.KeyWorks(exposed.access_key_id, exposed.secret));  // a call CloudTrail will report
  UserOutcome out = Respond("rita", exposed.access_key_id, "AWS_RISK_CREDENTIALS_EXPOSED");
  ASSERT_EQ(out.result, Outcome::kProgressed) << out.message;
  EXPECT_EQ(out.state, "old_deactivated");
  auto [held_id, held_secret] = Held("rita");
  EXPECT_EQ(held_id, out.new_key_id);
  EXPECT_TRUE(world_.KeyWorks(held_id, held_secret));
  EXPECT_FALSE(world_.sandbox->GetKey(exposed.access_key_id)->active);
  EXPECT_FALSE(world_.KeyWorks(exposed.access_key_id, exposed.secret));
  // No staged wait, no last-used guard: in one run, the hand-over before the cut.
  EXPECT_EQ(Actions("rita"), (std::vector<std::string>{"plan", "create_key", "verify", "store", "deactivate_exposed",
                                                       "activity"}));
  // Kept 24 h for an investigator, then deleted.
  ASSERT_TRUE(out.next_step_at);
  EXPECT_EQ(*out.next_step_at, world_.clock.Now() + std::chrono::hours(24));
  world_.clock.Advance(std::chrono::hours(24));
  EXPECT_EQ(Respond("rita", exposed.access_key_id).result, Outcome::kCompleted);  // a late duplicate finishes it
  EXPECT_FALSE(world_.sandbox->GetKey(exposed.access_key_id));
  // One key_exposed notice with the summary and what was done.
  std::vector<nlohmann::json> notices = ExposedNotices();
  ASSERT_EQ(notices.size(), 1u);
  const nlohmann::json& d = notices[0]["details"];
  EXPECT_EQ(d["exposed_access_key_id"], exposed.access_key_id);
  EXPECT_EQ(d["on_exposure"], "rotate-first");
  EXPECT_EQ(d["trigger"], "AWS_RISK_CREDENTIALS_EXPOSED");
  EXPECT_EQ(d["new_access_key_id"], out.new_key_id);
  EXPECT_GE(d["activity"]["events"].get<int>(), 1);
  EXPECT_EQ(d["activity"]["by_event"]["sts.amazonaws.com:GetCallerIdentity"].get<int>(), 1);
  EXPECT_EQ(d["activity"]["by_source_ip"]["127.0.0.1"].get<int>(), 1);
  EXPECT_NE(notices[0]["message"].get<std::string>().find("handed over"), std::string::npos);
  ExpectNowhere(held_secret);
  ExpectNowhere(exposed.secret);
}

TEST_F(ExposureTest, DeactivateFirstCutsTheKeyOffBeforeItsSuccessorExists) {
  options_.policy.on_exposure = ExposureOrder::kDeactivateFirst;
  options_.policy.exposed_delete_after = Duration(0);
  auto exposed = world_.UserWithKey("dora", 5 * kExposureDay);
  UserOutcome out = Respond("dora", exposed.access_key_id);
  ASSERT_EQ(out.result, Outcome::kCompleted) << out.message;
  EXPECT_EQ(Actions("dora"), (std::vector<std::string>{"plan", "deactivate_exposed", "create_key", "verify", "store",
                                                       "activity", "delete_old"}));
  EXPECT_FALSE(world_.sandbox->GetKey(exposed.access_key_id));  // exposed_delete_after = 0: at once
  auto [held_id, held_secret] = Held("dora");
  EXPECT_TRUE(world_.KeyWorks(held_id, held_secret));
  ASSERT_EQ(ExposedNotices().size(), 1u);
  ExpectNowhere(held_secret);
}

TEST_F(ExposureTest, AtTheTwoKeyLimitTheExposedKeyMakesRoom) {
  auto exposed = world_.UserWithKey("tess", 5 * kExposureDay);
  auto other = world_.UserWithKey("tess", 2 * kExposureDay);  // a second active key, not exposed
  UserOutcome out = Respond("tess", exposed.access_key_id);
  ASSERT_EQ(out.result, Outcome::kCompleted) << out.message;
  EXPECT_EQ(Actions("tess"), (std::vector<std::string>{"plan", "delete_exposed", "create_key", "verify", "store",
                                                       "activity"}));
  EXPECT_FALSE(world_.sandbox->GetKey(exposed.access_key_id));
  ASSERT_TRUE(world_.sandbox->GetKey(other.access_key_id));
  EXPECT_TRUE(world_.sandbox->GetKey(other.access_key_id)->active);  // never touched
  EXPECT_EQ(world_.sandbox->ListKeys("tess").size(), 2u);
  EXPECT_EQ(ExposedNotices().size(), 1u);
}

TEST_F(ExposureTest, WorksUnderAwsQuarantineAndLeavesItInPlace) {
  auto exposed = world_.UserWithKey("quinn", 5 * kExposureDay);
  ASSERT_TRUE(world_.sandbox->ExposeKey(exposed.access_key_id).ok());
  // The user's own key may not make itself a new one (what the published scripts try).
  Result<aws::NewAccessKey> self = world_.Clients(exposed.access_key_id, exposed.secret).Iam()->CreateAccessKey();
  ASSERT_FALSE(self.ok());
  EXPECT_TRUE(self.status().IsAws("AccessDenied"));
  EXPECT_NE(self.status().ToString().find("AWSCompromisedKeyQuarantineV3"), std::string::npos);

  UserOutcome out = Respond("quinn", exposed.access_key_id, "AWS_RISK_IAM_QUARANTINE");
  ASSERT_EQ(out.result, Outcome::kProgressed) << out.message;
  EXPECT_FALSE(world_.sandbox->GetKey(exposed.access_key_id)->active);
  auto [held_id, held_secret] = Held("quinn");
  EXPECT_TRUE(world_.KeyWorks(held_id, held_secret));
  EXPECT_EQ(world_.sandbox->AttachedUserPolicies("123456789012", "quinn"),
            std::vector<std::string>{"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"});
  std::vector<nlohmann::json> notices = ExposedNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0]["details"]["quarantine_policies"], nlohmann::json::array({"AWSCompromisedKeyQuarantineV3"}));
  EXPECT_NE(notices[0]["message"].get<std::string>().find("left in place"), std::string::npos);
  // The refused CreateAccessKey is in the key's activity, as refused.
  EXPECT_EQ(notices[0]["details"]["activity"]["errors"]["AccessDenied"].get<int>(), 1);
  ExpectNowhere(exposed.secret);
  ExpectNowhere(held_secret);
}

TEST_F(ExposureTest, RepeatedReportsJoinTheResponseInsteadOfStartingAnother) {
  auto exposed = world_.UserWithKey("dave", 5 * kExposureDay);
  UserOutcome first = Respond("dave", exposed.access_key_id, "AWS_RISK_CREDENTIALS_EXPOSED");
  ASSERT_EQ(first.result, Outcome::kProgressed) << first.message;
  UserOutcome second = Respond("dave", exposed.access_key_id, "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED");
  EXPECT_EQ(second.result, Outcome::kNotDue) << second.message;
  EXPECT_EQ(second.rotation_id, first.rotation_id);
  EXPECT_EQ(world_.sandbox->ListKeys("dave").size(), 2u);  // no third key, no second new key
  world_.clock.Advance(std::chrono::hours(25));
  EXPECT_EQ(Respond("dave", exposed.access_key_id).result, Outcome::kCompleted);
  UserOutcome late = Respond("dave", exposed.access_key_id);
  EXPECT_EQ(late.result, Outcome::kSkipped);
  EXPECT_NE(late.message.find("no longer exists"), std::string::npos);
  EXPECT_NE(late.message.find(first.rotation_id), std::string::npos);
  EXPECT_EQ(world_.sandbox->ListKeys("dave").size(), 1u);
  EXPECT_EQ(ExposedNotices().size(), 1u);
}

TEST_F(ExposureTest, AStagedRotationOfTheSameKeyBecomesTheResponse) {
  auto old = world_.UserWithKey("sam", 100 * kExposureDay);
  {
    Rotator rotator(world_.Clients(), world_.journal.get(), options_);
    UserOutcome staged = rotator.RotateUser("sam");
    ASSERT_EQ(staged.state, "stored") << staged.message;  // waits 10 days to deactivate
  }
  UserOutcome out = Respond("sam", old.access_key_id);
  EXPECT_EQ(out.state, "old_deactivated") << out.message;
  EXPECT_FALSE(world_.sandbox->GetKey(old.access_key_id)->active);
  EXPECT_EQ(ExposedNotices().size(), 1u);
  // The new key of a rotation in progress cannot be answered by retiring it.
  auto [held_id, held_secret] = Held("sam");
  UserOutcome refused = Respond("sam", held_id);
  EXPECT_EQ(refused.result, Outcome::kFailed);
  EXPECT_NE(refused.message.find("is the new key of"), std::string::npos);
}

TEST_F(ExposureTest, AKeyThatIsGoneOrAlreadyInactiveBesideAWorkingOneIsReported) {
  auto exposed = world_.UserWithKey("gina", 5 * kExposureDay);
  UserOutcome gone = Respond("gina", "AKIAZZZZZZZZZZZZZZZZ");
  EXPECT_EQ(gone.result, Outcome::kSkipped);
  EXPECT_NE(gone.message.find("no longer exists"), std::string::npos);
  auto second = world_.UserWithKey("gina", kExposureDay);
  ASSERT_TRUE(world_.Clients().Iam()->UpdateAccessKey("gina", exposed.access_key_id, false).ok());
  UserOutcome inactive = Respond("gina", exposed.access_key_id);
  EXPECT_EQ(inactive.result, Outcome::kSkipped);
  EXPECT_NE(inactive.message.find("already inactive"), std::string::npos);
  EXPECT_EQ(world_.sandbox->ListKeys("gina").size(), 2u);
  (void)second;
}

TEST_F(ExposureTest, WithoutADestinationTheKeyIsOnlyCutOff) {
  options_.destinations.clear();  // a user no selection covers, and no --to
  auto exposed = world_.UserWithKey("nora", 5 * kExposureDay);
  UserOutcome out = Respond("nora", exposed.access_key_id);
  EXPECT_EQ(out.state, "old_deactivated") << out.message;
  EXPECT_TRUE(out.new_key_id.empty());
  EXPECT_EQ(world_.sandbox->ListKeys("nora").size(), 1u) << "no key nobody would receive";
  EXPECT_FALSE(world_.sandbox->GetKey(exposed.access_key_id)->active);
  EXPECT_EQ(Actions("nora"), (std::vector<std::string>{"plan", "deactivate_exposed", "activity"}));
  std::vector<nlohmann::json> notices = ExposedNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0]["message"].get<std::string>().find("no new key was made"), std::string::npos);
  world_.clock.Advance(std::chrono::hours(24));
  EXPECT_EQ(Respond("nora", exposed.access_key_id).result, Outcome::kCompleted);
  EXPECT_TRUE(world_.sandbox->ListKeys("nora").empty());
}

TEST_F(ExposureTest, ADryRunChangesNothing) {
  options_.dry_run = true;
  auto exposed = world_.UserWithKey("dina", 5 * kExposureDay);
  UserOutcome out = Respond("dina", exposed.access_key_id);
  EXPECT_EQ(out.result, Outcome::kProgressed);
  ASSERT_FALSE(out.actions.empty());
  EXPECT_NE(out.actions.back().find("would create a new key"), std::string::npos);
  EXPECT_TRUE(world_.sandbox->GetKey(exposed.access_key_id)->active);
  EXPECT_EQ(world_.sandbox->ListKeys("dina").size(), 1u);
  EXPECT_TRUE(Actions("dina").empty());
}

TEST_F(ExposureTest, ActivityLookupPagesAndNamesRegionsItCouldNotRead) {
  auto key = world_.UserWithKey("lena", 5 * kExposureDay);
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(world_.KeyWorks(key.access_key_id, key.secret));
  KeyActivity a = LookupKeyActivity(world_.Clients(), key.access_key_id, world_.clock.Now() - std::chrono::hours(1),
                                    world_.clock.Now(), {"us-east-1", "eu-west-1"});
  EXPECT_EQ(a.events, 120u);  // three pages of 50 in us-east-1; none in eu-west-1
  EXPECT_EQ(a.by_region["us-east-1"], 120u);
  EXPECT_FALSE(a.truncated);
  EXPECT_TRUE(a.lookup_errors.empty());
  std::string line = ActivitySummaryLine(ActivityToJson(a));
  EXPECT_NE(line.find("120 calls"), std::string::npos) << line;
  EXPECT_NE(line.find("GetCallerIdentity (120)"), std::string::npos) << line;
  // A principal without cloudtrail:LookupEvents: the region is named, not hidden.
  KeyActivity denied = LookupKeyActivity(world_.Clients(key.access_key_id, key.secret), key.access_key_id,
                                         world_.clock.Now() - std::chrono::hours(1), world_.clock.Now(), {"us-east-1"});
  ASSERT_EQ(denied.lookup_errors.count("us-east-1"), 1u);
  EXPECT_NE(ActivitySummaryLine(ActivityToJson(denied)).find("not read"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::engine
