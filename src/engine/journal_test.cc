#include "engine/journal.h"

#include <gtest/gtest.h>

namespace keyrotor::engine {
namespace {

TEST(JournalTest, StateNamesRoundTripAndTerminalStatesAreDoneAndRolledBack) {
  const RotationState all[] = {RotationState::kPlanned, RotationState::kKeyCreated,     RotationState::kVerified,
                               RotationState::kStored,  RotationState::kOldDeactivated, RotationState::kRollingBack,
                               RotationState::kDone,    RotationState::kRolledBack};
  for (RotationState s : all) {
    auto parsed = ParseState(StateName(s));
    ASSERT_TRUE(parsed.ok()) << StateName(s);
    EXPECT_EQ(*parsed, s);
    EXPECT_EQ(IsTerminal(s), s == RotationState::kDone || s == RotationState::kRolledBack) << StateName(s);
  }
  EXPECT_EQ(StateName(RotationState::kKeyCreated), "key_created");
  EXPECT_EQ(StateName(RotationState::kRolledBack), "rolled_back");
  auto bad = ParseState("finished");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("finished"), std::string::npos);
}

TEST(JournalTest, AuditToJsonUsesTheDocumentedKeysAndOmitsEmptyOptionalOnes) {
  AuditRecord full;
  full.time = TimePoint() + std::chrono::seconds(1440938160);
  full.rotation_id = "r-1";
  full.account = "123456789012";
  full.user = "alice";
  full.action = "create_key";
  full.outcome = "ok";
  full.access_key_id = "AKIAEXAMPLE";
  full.request_id = "req-1";
  full.detail = "two keys";
  nlohmann::json j = AuditToJson(full);
  EXPECT_EQ(j, (nlohmann::json{{"time", "2015-08-30T12:36:00Z"},
                               {"rotation_id", "r-1"},
                               {"account", "123456789012"},
                               {"user", "alice"},
                               {"action", "create_key"},
                               {"outcome", "ok"},
                               {"access_key_id", "AKIAEXAMPLE"},
                               {"request_id", "req-1"},
                               {"detail", "two keys"}}));
  auto back = AuditFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->time, full.time);
  EXPECT_EQ(back->detail, "two keys");

  AuditRecord sparse;
  sparse.time = full.time;
  nlohmann::json s = AuditToJson(sparse);
  EXPECT_EQ(s, (nlohmann::json{{"time", "2015-08-30T12:36:00Z"}, {"user", ""}, {"action", ""}, {"outcome", ""}}));
}

TEST(JournalTest, RotationFromJsonRejectsUnknownStates) {
  RotationRecord r;
  r.id = "x";
  nlohmann::json j = RotationToJson(r);
  j["state"] = "exploded";
  EXPECT_FALSE(RotationFromJson(j).ok());
  EXPECT_FALSE(RotationFromJson(nlohmann::json::array()).ok());
}

// Owed events are typed in memory and stored by name, as records written
// before they were typed already are: those read back unchanged.
TEST(JournalTest, PendingEventsAreStoredByNameAndReadBackAsKinds) {
  nlohmann::json on_disk = {{"id", "r-1"},
                            {"mode", "staged"},
                            {"state", "stored"},
                            {"destinations", {{{"spec", "exec:/bin/true"}, {"step", "written"}}}},
                            {"pending_events", {"key_created", "rotation_failed"}}};
  auto r = RotationFromJson(on_disk);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pending_events,
            (std::vector<notify::EventKind>{notify::EventKind::kKeyCreated, notify::EventKind::kRotationFailed}));
  EXPECT_EQ(r->destinations[0].restore_attempts, 0);
  nlohmann::json back = RotationToJson(*r);
  EXPECT_EQ(back["pending_events"], on_disk["pending_events"]);
  EXPECT_EQ(back["destinations"], on_disk["destinations"]);  // no restore_attempts while it is zero

  on_disk["pending_events"] = {"key_created", "key_exploded"};
  auto bad = RotationFromJson(on_disk);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("key_exploded"), std::string::npos);
}

TEST(JournalTest, ADestinationNeedingAttentionAndItsRestoreAttemptsRoundTrip) {
  RotationRecord r;
  r.id = "r-2";
  r.destinations = {{"exec:/usr/local/bin/app-reload", DestinationProgress::Step::kNeedsAttention, 3}};
  nlohmann::json j = RotationToJson(r);
  EXPECT_EQ(j["destinations"][0]["step"], "needs_attention");
  EXPECT_EQ(j["destinations"][0]["restore_attempts"], 3);
  auto back = RotationFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->destinations[0].step, DestinationProgress::Step::kNeedsAttention);
  EXPECT_EQ(back->destinations[0].restore_attempts, 3);
}

}  // namespace
}  // namespace keyrotor::engine
