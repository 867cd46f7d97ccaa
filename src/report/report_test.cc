#include "report/report.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "support/sandbox_world.h"

namespace keyrotor::report {
namespace {

using std::chrono::hours;
constexpr hours kDay{24};

// A small fleet whose keys exercise every check, laid out in time order
// (the fake clock only moves forward) so the report is taken at `now`:
//   alice  10d, used 1 day ago              -> nothing
//   bob    50d, never used                  -> 1.12 (counted from creation)
//   carol  100d, used 2 days ago            -> 1.14
//   dave   200d, never used                 -> 1.12 and 1.14
//   erin   10d and 20d, both used recently  -> 1.13 on both keys
//   frank  300d Inactive + 30d active used  -> nothing (inactive keys are not checked)
//   gina   44d, never used                  -> nothing (1.12 starts at 45 days)
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TimePoint start = world_.clock.Now();
    now_ = start + 300 * kDay;
    auto key = [&](const std::string& user, int age_days) {
      auto k = world_.sandbox->CreateUserWithKey(user, now_ - age_days * kDay);
      EXPECT_TRUE(k.ok()) << user;
      ids_[user].push_back(k->access_key_id);
      return std::move(k).value();
    };
    auto alice = key("alice", 10);
    key("bob", 50);
    auto carol = key("carol", 100);
    key("dave", 200);
    auto erin = key("erin", 10);
    key("frank", 300);
    key("gina", 44);
    auto iam = world_.Clients().Iam();
    ASSERT_TRUE(iam.ok());
    ASSERT_TRUE(iam->UpdateAccessKey("frank", ids_["frank"][0], false).ok());

    AdvanceTo(now_ - 30 * kDay);
    auto frank2 = iam->CreateAccessKey("frank");
    ASSERT_TRUE(frank2.ok());
    ids_["frank"].push_back(frank2->metadata.access_key_id);
    world_.clock.Advance(10 * kDay);
    auto erin2 = iam->CreateAccessKey("erin");
    ASSERT_TRUE(erin2.ok());
    ids_["erin"].insert(ids_["erin"].begin(), erin2->metadata.access_key_id);  // the older of erin's keys

    AdvanceTo(now_ - 2 * kDay);
    Use(carol.access_key_id, carol.secret);
    world_.clock.Advance(kDay);
    Use(alice.access_key_id, alice.secret);
    Use(erin.access_key_id, erin.secret);
    Use(erin2->metadata.access_key_id, erin2->secret_access_key);
    Use(frank2->metadata.access_key_id, frank2->secret_access_key);
    world_.clock.Advance(kDay);
    ASSERT_EQ(world_.clock.Now(), now_);
  }

  void AdvanceTo(TimePoint t) { world_.clock.Advance(std::chrono::duration_cast<Duration>(t - world_.clock.Now())); }
  void Use(const std::string& id, const Secret& secret) { ASSERT_TRUE(world_.KeyWorks(id, secret)) << id; }

  Result<Report> Build(int concurrency,
                       std::vector<std::string> users = {"alice", "bob", "carol", "dave", "erin", "frank", "gina"}) {
    auto iam = world_.Clients().Iam();
    if (!iam.ok()) return iam.status();
    ReportOptions options;
    options.users = std::move(users);
    options.concurrency = concurrency;
    factory_ = std::make_unique<aws::ClientFactory>(world_.Clients());
    options.clients = factory_.get();
    return BuildReport(*iam, "123456789012", &world_.clock, options);
  }

  // "check user key" for every finding, for exact comparison.
  static std::set<std::string> FindingSet(const Report& r) {
    std::set<std::string> out;
    for (const Finding& f : r.findings)
      out.insert(std::string(CheckId(f.check)) + " " + f.user + " " + f.access_key_id);
    return out;
  }
  std::string F(std::string_view check, const std::string& user, size_t key = 0) {
    return std::string(check) + " " + user + " " + ids_[user][key];
  }

  testing::SandboxWorld world_;
  TimePoint now_;
  std::map<std::string, std::vector<std::string>> ids_;
  std::unique_ptr<aws::ClientFactory> factory_;
};

TEST_F(ReportTest, EveryCheckFiresExactlyWhereItShould) {
  auto report = Build(4);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(FindingSet(*report),
            (std::set<std::string>{F("1.12", "bob"), F("1.12", "dave"), F("1.14", "carol"), F("1.14", "dave"),
                                   F("1.13", "erin", 0), F("1.13", "erin", 1)}));
  const Summary& s = report->summary;
  EXPECT_EQ(s.users, 7u);
  EXPECT_EQ(s.keys, 9u);
  EXPECT_EQ(s.active_keys, 8u);
  EXPECT_EQ(s.findings[static_cast<size_t>(Check::kUnusedCredentials)], 2u);
  EXPECT_EQ(s.findings[static_cast<size_t>(Check::kMultipleActiveKeys)], 2u);
  EXPECT_EQ(s.findings[static_cast<size_t>(Check::kKeyNotRotated)], 2u);
  EXPECT_EQ(s.total_findings(), 6u);
  EXPECT_EQ(s.oldest_active_user, "dave");
  EXPECT_EQ(s.oldest_active_key_id, ids_["dave"][0]);
  EXPECT_EQ(s.oldest_active_age_days, 200);
}

TEST_F(ReportTest, KeysCarryAgeStatusAndLastUse) {
  auto report = Build(1);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->users.size(), 7u);
  EXPECT_EQ(report->account, "123456789012");
  EXPECT_EQ(report->generated_at, now_);
  std::map<std::string, const UserReport*> by_name;
  for (const auto& u : report->users) by_name[u.user] = &u;
  ASSERT_EQ(by_name["alice"]->keys.size(), 1u);
  const KeyReport& alice = by_name["alice"]->keys[0];
  EXPECT_EQ(alice.age_days, 10);
  EXPECT_EQ(alice.status, "Active");
  ASSERT_TRUE(alice.last_used);
  EXPECT_EQ(*alice.last_used, now_ - kDay);
  EXPECT_EQ(alice.last_used_service, "sts");
  EXPECT_EQ(alice.last_used_region, "us-east-1");
  EXPECT_TRUE(alice.findings.empty());
  const KeyReport& bob = by_name["bob"]->keys[0];
  EXPECT_FALSE(bob.last_used);
  EXPECT_TRUE(bob.last_used_service.empty());
  ASSERT_EQ(bob.findings.size(), 1u);
  EXPECT_EQ(bob.findings[0], Check::kUnusedCredentials);
  const UserReport& frank = *by_name["frank"];
  ASSERT_EQ(frank.keys.size(), 2u);
  EXPECT_EQ(frank.keys[0].status, "Inactive");  // oldest first
  EXPECT_EQ(frank.keys[0].age_days, 300);
  EXPECT_TRUE(frank.keys[0].findings.empty());
  const KeyReport& dave = by_name["dave"]->keys[0];
  EXPECT_EQ(dave.findings, (std::vector<Check>{Check::kUnusedCredentials, Check::kKeyNotRotated}));
}

TEST_F(ReportTest, ConcurrencyDoesNotChangeTheReport) {
  auto one = Build(1);
  auto many = Build(8);
  ASSERT_TRUE(one.ok() && many.ok());
  EXPECT_EQ(FindingSet(*one), FindingSet(*many));
  ASSERT_EQ(one->users.size(), many->users.size());
  for (size_t i = 0; i < one->users.size(); ++i) {
    EXPECT_EQ(one->users[i].user, many->users[i].user);
    ASSERT_EQ(one->users[i].keys.size(), many->users[i].keys.size());
    for (size_t k = 0; k < one->users[i].keys.size(); ++k) {
      EXPECT_EQ(one->users[i].keys[k].access_key_id, many->users[i].keys[k].access_key_id);
    }
  }
}

TEST_F(ReportTest, EveryUserWhenNoneListed) {
  auto report = Build(3, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::vector<std::string> names;
  for (const auto& u : report->users) names.push_back(u.user);
  EXPECT_EQ(names, (std::vector<std::string>{"admin", "alice", "bob", "carol", "dave", "erin", "frank", "gina"}));
}

TEST_F(ReportTest, UnknownListedUserIsNotFound) {
  auto report = Build(2, {"alice", "nobody"});
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(report.status().IsNotFound()) << report.status().ToString();
  EXPECT_NE(report.status().message().find("nobody"), std::string::npos);
}

TEST_F(ReportTest, ThresholdsAreInclusiveWhereCisSaysSo) {
  // 1.12 is "45 days or greater"; 1.14 is "more than 90 days".
  Report r;
  r.generated_at = now_;
  KeyReport at45{"AKIA45", "Active", now_ - 45 * kDay, 0, std::nullopt, "", "", {}};
  KeyReport at90{"AKIA90", "Active", now_ - 90 * kDay, 0, now_, "sts", "us-east-1", {}};
  r.users = {UserReport{"u45", {at45}}, UserReport{"u90", {at90}}};
  Evaluate(r, ReportOptions{});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].check, Check::kUnusedCredentials);
  EXPECT_EQ(r.findings[0].user, "u45");
}

}  // namespace
}  // namespace keyrotor::report
