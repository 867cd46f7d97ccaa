// A fleet pass over an AWS Organization: accounts discovered (an OU
// excluded, a suspended account skipped, an account without the role failing
// alone), and what the pass costs in IAM calls, counted by the sandbox per
// account and action.
#include <gtest/gtest.h>

#include <numeric>

#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "engine/exposure.h"
#include "fleet/discovery.h"
#include "fleet/respond.h"
#include "fleet/runner.h"
#include "sandbox/seed.h"
#include "support/sandbox_world.h"

namespace keyrotor {
namespace {

using fleet::FleetRunner;
using fleet::RunOptions;
using fleet::RunSummary;

constexpr auto kOrgDay = std::chrono::hours(24);

uint64_t OrgIamCalls(const std::map<std::string, uint64_t>& actions) {
  uint64_t n = 0;
  for (const auto& [action, count] : actions) {
    if (action.rfind("iam:", 0) == 0) n += count;
  }
  return n;
}

class OrganizationFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    layout_ = sandbox::SeedOrganization(*world_.sandbox, 9).value();  // Prod: 1,4,7  Dev: 2,5,8  Sandbox: 3,6,9
    suspended_ = world_.sandbox->CreateMemberAccount("closing", layout_.prod_ou, "OrganizationAccountAccessRole",
                                                     "SUSPENDED")
                     .value();
    no_role_ = world_.sandbox->CreateMemberAccount("no-role", layout_.dev_ou, "").value();
    for (const std::string& id : layout_.members) working_.push_back(id);
    std::erase(working_, layout_.members[2]);
    std::erase(working_, layout_.members[5]);
    std::erase(working_, layout_.members[8]);
  }

  // `users` users in `account`, the first `old` of them with a key past rotate_after.
  void Users(const std::string& account, int users, int old) {
    for (int i = 0; i < users; ++i) {
      auto age = i < old ? 100 * kOrgDay : 10 * kOrgDay;
      ASSERT_TRUE(world_.sandbox->CreateUserWithKeyIn(account, "app-" + std::to_string(i), world_.clock.Now() - age)
                      .ok());
    }
  }

  fleet::FleetConfig Config(const std::string& extra = "") {
    std::string text = "[organization]\nrole_name = \"OrganizationAccountAccessRole\"\nexclude_ous = [\"" +
                       layout_.sandbox_ou + "\"]\n" + extra + "\n[[selection]]\nall_users = true\n";
    Result<fleet::FleetConfig> config = fleet::ParseFleetConfig(text, world_.dir + "/keyrotor.toml", {});
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    return std::move(config).value();
  }

  testing::SandboxWorld world_;
  sandbox::OrganizationLayout layout_;
  std::string suspended_, no_role_;
  std::vector<std::string> working_;  // the ACTIVE members outside the Sandbox OU
};

// An AWS Health event from the organization's delegated view names a member
// account: the response assumes the role there, takes the destinations of
// the selection covering the user, and retires the exposed key; an account
// the config leaves out is refused with the reason.
TEST_F(OrganizationFleetTest, AnExposedKeyInAMemberAccountIsAnsweredWithItsSelection) {
  const std::string member = working_[0];
  auto key = world_.sandbox->CreateUserWithKeyIn(member, "deploy", world_.clock.Now() - 3 * kOrgDay).value();
  auto excluded_key =
      world_.sandbox->CreateUserWithKeyIn(layout_.members[2], "deploy", world_.clock.Now() - 3 * kOrgDay).value();
  std::string text = "[organization]\nrole_name = \"OrganizationAccountAccessRole\"\nexclude_ous = [\"" +
                     layout_.sandbox_ou + "\"]\n[[selection]]\nusers = [\"deploy\"]\nto = \"credentials-file:" +
                     world_.dir + "/{account}.ini#{user}\"\n";
  Result<fleet::FleetConfig> config = fleet::ParseFleetConfig(text, world_.dir + "/keyrotor.toml", {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  nlohmann::json event = nlohmann::json::parse(world_.sandbox->ExposeKey(key.access_key_id).value());
  event["account"] = "123456789012";  // received by the management account's delegated Health view
  Result<engine::ExposureEvent> parsed = engine::ParseExposureEvent(event.dump());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->account, member);

  engine::EngineOptions defaults;
  defaults.orphan_settle = Duration(0);
  fleet::Responder responder(&*config, world_.Clients(), world_.journal.get(), defaults, {});
  engine::ExposureRequest request;
  request.trigger = parsed->event_type;
  request.access_key_id = key.access_key_id;
  Result<fleet::ResponseResult> result = responder.Respond(key.access_key_id, parsed->account, request);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->account_id, member);
  ASSERT_TRUE(result->selection);
  EXPECT_EQ(*result->selection, 0u);
  EXPECT_EQ(result->outcome.state, "old_deactivated") << result->outcome.message;
  std::vector<sandbox::KeyInfo> keys = world_.sandbox->ListKeysIn(member, "deploy");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_FALSE(keys[0].active);
  Result<std::string> file = ReadFile(world_.dir + "/" + member + ".ini");
  ASSERT_TRUE(file.ok());
  EXPECT_NE(file->find(result->outcome.new_key_id), std::string::npos);

  Result<fleet::ResponseResult> refused = responder.Respond(excluded_key.access_key_id, layout_.members[2], request);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().ToString().find("not worked in"), std::string::npos) << refused.status().ToString();
  EXPECT_TRUE(world_.sandbox->ListKeysIn(layout_.members[2], "deploy")[0].active);
  Result<fleet::ResponseResult> unknown = responder.Respond(key.access_key_id, "999999999999", request);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().ToString().find("neither"), std::string::npos);
}

TEST_F(OrganizationFleetTest, DiscoversAccountsAndPaysIamCallsOnlyForWhatIsDue) {
  for (const std::string& id : working_) Users(id, 100, 1);  // 1% due
  fleet::FleetConfig config = Config();
  FleetRunner runner(config, world_.Clients(), world_.journal.get());
  world_.sandbox->ResetCallCounts();
  RunSummary first = runner.Run(RunOptions{});

  // The six working accounts were worked on; the role-less one failed alone and is named.
  std::map<std::string, const fleet::AccountResult*> by_name;
  for (const auto& a : first.accounts) by_name[a.name] = &a;
  for (const std::string& id : working_) {
    ASSERT_TRUE(by_name.count(id)) << id;
    EXPECT_TRUE(by_name[id]->status.ok()) << by_name[id]->status.ToString();
    EXPECT_EQ(by_name[id]->selected, 100u);
    EXPECT_TRUE(by_name[id]->warnings.empty());
  }
  ASSERT_TRUE(by_name.count(no_role_));
  EXPECT_NE(by_name[no_role_]->status.ToString().find("AccessDenied"), std::string::npos);
  EXPECT_EQ(first.failed_accounts(), 1u);
  EXPECT_FALSE(first.ok());
  ASSERT_TRUE(by_name.count(suspended_));
  EXPECT_EQ(by_name[suspended_]->skipped, "skipped: the account is SUSPENDED");
  EXPECT_NE(by_name[layout_.members[2]]->skipped.find("exclude_ous"), std::string::npos);
  EXPECT_NE(by_name["123456789012"]->skipped.find("management account"), std::string::npos);
  EXPECT_EQ(first.users, 600u);
  EXPECT_EQ(first.failed_users, 0u);
  EXPECT_EQ(first.results["progressed"], 6u);  // staged: the new key is created, verified and handed over
  EXPECT_EQ(first.results["not_due"], 594u);

  // Each account: a few bulk reads, then one ListAccessKeys and one CreateAccessKey per due user.
  auto counts = world_.sandbox->call_counts();
  for (const std::string& id : working_) {
    auto& c = counts[id];
    EXPECT_LE(OrgIamCalls(c), 20u + 2u * 1u) << id;
    EXPECT_EQ(c["iam:ListAccessKeys"], 1u) << id;
    EXPECT_EQ(c["iam:CreateAccessKey"], 1u) << id;
    EXPECT_EQ(c["iam:ListUserTags"], 0u) << id;
    EXPECT_EQ(c["iam:GetAccountAuthorizationDetails"], 1u) << id;
    EXPECT_EQ(c["iam:GetCredentialReport"], 1u) << id;
    EXPECT_EQ(c["sts:GetCallerIdentity"] > 0, true) << id;  // the new key verified with STS
    auto keys = world_.sandbox->ListKeysIn(id, "app-0");
    EXPECT_EQ(keys.size(), 2u) << id;
  }
  // Nothing in the excluded or suspended accounts was touched.
  EXPECT_EQ(OrgIamCalls(counts[layout_.members[2]]), 0u);
  EXPECT_EQ(OrgIamCalls(counts[suspended_]), 0u);

  // The next pass, nothing due: the report is still fresh, so one bulk read per account.
  world_.sandbox->ResetCallCounts();
  RunSummary second = runner.Run(RunOptions{});
  EXPECT_EQ(second.failed_users, 0u);
  counts = world_.sandbox->call_counts();
  for (const std::string& id : working_) EXPECT_LE(OrgIamCalls(counts[id]), 20u) << id;
  EXPECT_EQ(OrgIamCalls(counts[working_[0]]), 1u);
}

TEST_F(OrganizationFleetTest, ADeniedBulkReadFallsBackPerUserAndSaysWhichPermission) {
  const std::string no_details = working_[0], no_report = working_[1];
  Users(no_details, 20, 2);
  Users(no_report, 20, 2);
  ASSERT_TRUE(world_.sandbox->DenyAction(no_details, "iam:GetAccountAuthorizationDetails").ok());
  ASSERT_TRUE(world_.sandbox->DenyAction(no_report, "iam:GenerateCredentialReport").ok());
  fleet::FleetConfig config = Config("include_accounts = [\"" + no_details + "\", \"" + no_report + "\"]");
  FleetRunner runner(config, world_.Clients(), world_.journal.get());
  world_.sandbox->ResetCallCounts();
  RunSummary summary = runner.Run(RunOptions{});
  EXPECT_EQ(summary.users, 40u);
  EXPECT_EQ(summary.failed_users, 0u);
  EXPECT_EQ(summary.results["progressed"], 4u);
  for (const auto& a : summary.accounts) {
    if (a.name == no_details) {
      ASSERT_EQ(a.warnings.size(), 1u);
      EXPECT_EQ(a.warnings[0].rfind("iam:GetAccountAuthorizationDetails denied", 0), 0u) << a.warnings[0];
    } else if (a.name == no_report) {
      ASSERT_EQ(a.warnings.size(), 1u);
      EXPECT_EQ(a.warnings[0].rfind("iam:GenerateCredentialReport/iam:GetCredentialReport denied", 0), 0u)
          << a.warnings[0];
    }
  }
  auto counts = world_.sandbox->call_counts();
  EXPECT_EQ(counts[no_details]["iam:ListUsers"], 1u);
  EXPECT_GE(counts[no_details]["iam:ListAccessKeys"], 20u);  // every user's keys, one call each
  EXPECT_GE(counts[no_report]["iam:ListAccessKeys"], 20u);
  EXPECT_EQ(counts[no_report]["iam:ListUserTags"], 0u);      // tags still came in bulk
}

TEST_F(OrganizationFleetTest, AConfiguredAccountOverridesTheDiscoveredOneById) {
  Users(working_[0], 3, 3);
  fleet::FleetConfig config = Config("include_accounts = [\"" + working_[0] + "\"]\n\n[[accounts]]\nname = \"payments\"\n"
                                     "id = \"" + working_[0] + "\"\nrole_arn = \"arn:aws:iam::" + working_[0] +
                                     ":role/OrganizationAccountAccessRole\"\nrate_limit = 50");
  FleetRunner runner(config, world_.Clients(), world_.journal.get());
  RunSummary summary = runner.Run(RunOptions{});
  size_t worked = 0;
  for (const auto& a : summary.accounts) {
    if (a.id == working_[0] && a.skipped.empty()) {
      ++worked;
      EXPECT_EQ(a.name, "payments");
      EXPECT_EQ(a.selected, 3u);
    }
  }
  EXPECT_EQ(worked, 1u);  // once, under its configured name
  EXPECT_EQ(summary.results["progressed"], 3u);
}

TEST_F(OrganizationFleetTest, DiscoveryDecidesEveryAccountAndSaysWhy) {
  fleet::OrganizationSettings s;
  s.enabled = true;
  s.role_name = "OrganizationAccountAccessRole";
  s.include_ous = {layout_.workloads_ou};
  s.exclude_ous = {layout_.dev_ou};
  s.include_accounts = {layout_.members[2]};  // in the Sandbox OU, named on its own
  s.exclude_accounts = {layout_.members[0]};
  auto orgs = world_.Clients().Organizations().value();
  Result<std::vector<fleet::DiscoveredAccount>> found = fleet::DiscoverOrganization(orgs, s);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  std::map<std::string, fleet::DiscoveredAccount> by_id;
  for (auto& a : *found) by_id[a.id] = a;
  ASSERT_EQ(by_id.size(), 12u);
  EXPECT_FALSE(by_id[layout_.members[0]].included);
  EXPECT_EQ(by_id[layout_.members[0]].reason, "excluded: exclude_accounts names it");
  EXPECT_TRUE(by_id[layout_.members[3]].included);  // Prod
  EXPECT_EQ(by_id[layout_.members[3]].reason, "included: under " + layout_.workloads_ou + " (include_ous)");
  EXPECT_EQ(by_id[layout_.members[3]].path(), "Root/Workloads/Prod");
  EXPECT_FALSE(by_id[layout_.members[1]].included);  // Dev
  EXPECT_EQ(by_id[layout_.members[1]].reason, "excluded: under " + layout_.dev_ou + " (exclude_ous)");
  EXPECT_TRUE(by_id[layout_.members[2]].included);
  EXPECT_FALSE(by_id[layout_.members[5]].included);  // Sandbox, not named
  EXPECT_EQ(by_id[suspended_].reason, "skipped: the account is SUSPENDED");
  EXPECT_TRUE(by_id["123456789012"].management);
  EXPECT_FALSE(by_id["123456789012"].included);
  // The management account, when included, is worked in with the caller's own credentials.
  fleet::Account own = fleet::AccountForDiscovered(s, by_id["123456789012"], "123456789012");
  EXPECT_EQ(own.role_arn, "");
  fleet::Account member = fleet::AccountForDiscovered(s, by_id[layout_.members[3]], "123456789012");
  EXPECT_EQ(member.role_arn, "arn:aws:iam::" + layout_.members[3] + ":role/OrganizationAccountAccessRole");
}

}  // namespace
}  // namespace keyrotor
