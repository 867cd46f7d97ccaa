// The sandbox as an AWS Organization: Organizations' read calls, STS
// AssumeRole into member accounts, each account's own IAM, and the
// per-account request counts and IAM limit.
#include <gtest/gtest.h>

#include "sandbox/seed.h"
#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::ErrorMessage;
using testing::JsonBody;
using testing::SandboxWorld;
using testing::XmlValue;

struct OrgWorld : SandboxWorld {
  explicit OrgWorld(int members = 4, const std::function<void(SandboxOptions&)>& configure = {})
      : SandboxWorld(configure) {
    layout = SeedOrganization(*sandbox, members).value();
  }

  // A client signed with a session of `role` in `account`, assumed by the admin.
  testing::TestClient InAccount(const std::string& account, const std::string& role = "OrganizationAccountAccessRole") {
    auto r = AdminClient().Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::" + account + ":role/" + role},
                                              {"RoleSessionName", "keyrotor"}});
    EXPECT_EQ(r.status, 200) << r.body;
    testing::TestClient client(*sandbox, &clock);
    client.As(XmlValue(r.body, "AccessKeyId"), Secret(XmlValue(r.body, "SecretAccessKey")),
              Secret(XmlValue(r.body, "SessionToken")));
    return client;
  }

  OrganizationLayout layout;
};

TEST(SandboxOrganizationsTest, ListAccountsPagesThroughEveryAccountWithStateAndStatus) {
  OrgWorld world(25);
  auto admin = world.AdminClient();
  std::vector<std::string> ids;
  nlohmann::json body = {{"MaxResults", 10}};
  int pages = 0;
  for (;;) {
    auto r = admin.Organizations("ListAccounts", body);
    ASSERT_EQ(r.status, 200) << r.body;
    nlohmann::json page = JsonBody(r);
    ++pages;
    for (const auto& a : page["Accounts"]) {
      ids.push_back(a["Id"]);
      EXPECT_EQ(a["State"], "ACTIVE");
      EXPECT_EQ(a["Status"], "ACTIVE");
      EXPECT_TRUE(a["JoinedTimestamp"].is_number());
    }
    if (!page.contains("NextToken")) break;
    body["NextToken"] = page["NextToken"];
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids.size(), 26u);  // the management account and 25 members
  EXPECT_EQ(ids[0], "123456789012");
}

TEST(SandboxOrganizationsTest, TheTreeIsWalkedByParent) {
  OrgWorld world(6);
  auto admin = world.AdminClient();
  auto roots = JsonBody(admin.Organizations("ListRoots"));
  ASSERT_EQ(roots["Roots"].size(), 1u);
  EXPECT_EQ(roots["Roots"][0]["Id"], world.layout.root);
  auto ous = JsonBody(admin.Organizations("ListOrganizationalUnitsForParent", {{"ParentId", world.layout.root}}));
  ASSERT_EQ(ous["OrganizationalUnits"].size(), 2u);
  EXPECT_EQ(ous["OrganizationalUnits"][0]["Name"], "Workloads");
  auto prod = JsonBody(admin.Organizations("ListAccountsForParent", {{"ParentId", world.layout.prod_ou}}));
  ASSERT_EQ(prod["Accounts"].size(), 2u);  // members 1 and 4
  EXPECT_EQ(prod["Accounts"][0]["Id"], world.layout.members[0]);
  auto children = JsonBody(
      admin.Organizations("ListChildren", {{"ParentId", world.layout.workloads_ou}, {"ChildType", "ORGANIZATIONAL_UNIT"}}));
  EXPECT_EQ(children["Children"].size(), 2u);
  auto missing = admin.Organizations("ListAccountsForParent", {{"ParentId", "ou-zzzz-zzzzzzzz"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(ErrorCode(missing), "ParentNotFoundException");
  auto bad_token = admin.Organizations("ListAccounts", {{"NextToken", "bogus"}});
  EXPECT_EQ(ErrorCode(bad_token), "InvalidInputException");
  auto too_many = admin.Organizations("ListAccounts", {{"MaxResults", 21}});
  EXPECT_EQ(ErrorCode(too_many), "InvalidInputException");
}

TEST(SandboxOrganizationsTest, OnlyTheManagementAccountOrADelegatedAdministratorMayList) {
  OrgWorld world(2);
  auto member = world.InAccount(world.layout.members[0]);
  auto denied = member.Organizations("ListAccounts");
  EXPECT_EQ(denied.status, 400);
  EXPECT_EQ(ErrorCode(denied), "AccessDeniedException");
  EXPECT_NE(ErrorMessage(denied).find("You don't have permissions"), std::string::npos);
  EXPECT_EQ(member.Organizations("DescribeOrganization").status, 200);  // any member may describe it
  ASSERT_TRUE(world.sandbox->RegisterDelegatedAdministrator(world.layout.members[0]).ok());
  EXPECT_EQ(member.Organizations("ListAccounts").status, 200);
}

TEST(SandboxOrganizationsTest, AnAccountOutsideAnyOrganizationIsToldSo) {
  SandboxWorld world;
  auto r = world.AdminClient().Organizations("ListAccounts");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "AWSOrganizationsNotInUseException");
  EXPECT_EQ(JsonBody(r).value("Message", ""), "Your account is not a member of an organization.");
}

TEST(SandboxOrganizationsTest, AssumeRoleActsInTheMemberAccountWithItsOwnIam) {
  OrgWorld world(2);
  const std::string member_id = world.layout.members[1];
  ASSERT_TRUE(world.sandbox->CreateUserWithKeyIn(member_id, "app").ok());
  auto member = world.InAccount(member_id);
  auto who = member.Sts("GetCallerIdentity");
  EXPECT_EQ(XmlValue(who.body, "Account"), member_id);
  EXPECT_EQ(XmlValue(who.body, "Arn"), "arn:aws:sts::" + member_id + ":assumed-role/OrganizationAccountAccessRole/keyrotor");
  auto users = member.Iam("ListUsers");
  EXPECT_EQ(testing::XmlValues(users.body, "UserName"), std::vector<std::string>{"app"});
  // The home account's users are not the member's.
  EXPECT_EQ(testing::XmlValues(world.AdminClient().Iam("ListUsers").body, "UserName"),
            std::vector<std::string>{"admin"});
  EXPECT_EQ(world.sandbox->ListKeysIn(member_id, "app").size(), 1u);
}

TEST(SandboxOrganizationsTest, AMissingOrUntrustingRoleIsAccessDenied) {
  OrgWorld world(2);
  auto admin = world.AdminClient();
  const std::string role = "arn:aws:iam::" + world.layout.members[0] + ":role/NoSuchRole";
  auto missing = admin.Sts("AssumeRole", {{"RoleArn", role}, {"RoleSessionName", "keyrotor"}});
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(ErrorCode(missing), "AccessDenied");
  EXPECT_NE(ErrorMessage(missing).find("sts:AssumeRole on resource: " + role), std::string::npos);
  // A role trusting another account only.
  ASSERT_TRUE(world.sandbox->CreateRole(world.layout.members[0], "Narrow", "999999999999").ok());
  auto untrusted = admin.Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::" + world.layout.members[0] + ":role/Narrow"},
                                            {"RoleSessionName", "keyrotor"}});
  EXPECT_EQ(ErrorCode(untrusted), "AccessDenied");
  // An account the sandbox does not have at all.
  auto elsewhere = admin.Sts("AssumeRole", {{"RoleArn", "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole"},
                                            {"RoleSessionName", "keyrotor"}});
  EXPECT_EQ(ErrorCode(elsewhere), "AccessDenied");
}

TEST(SandboxOrganizationsTest, CallsAreCountedPerAccountAndAction) {
  OrgWorld world(1);
  auto member = world.InAccount(world.layout.members[0]);
  world.sandbox->ResetCallCounts();
  member.Iam("ListUsers");
  member.Iam("ListUsers");
  world.AdminClient().Iam("ListUsers");
  auto counts = world.sandbox->call_counts();
  EXPECT_EQ(counts[world.layout.members[0]]["iam:ListUsers"], 2u);
  EXPECT_EQ(counts["123456789012"]["iam:ListUsers"], 1u);
  // The same counts over the wire, for benchmarks driving `keyrotor sandbox`.
  aws::HttpRequest get;
  get.method = "GET";
  get.url = std::string("http://127.0.0.1:1") + kCallCountsPath;
  net::ResponseControl control;
  auto r = world.sandbox->Handle(get, control);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(JsonBody(r)[world.layout.members[0]]["iam:ListUsers"], 2);
  get.method = "DELETE";
  EXPECT_EQ(world.sandbox->Handle(get, control).status, 200);
  EXPECT_TRUE(world.sandbox->call_counts().empty());
}

TEST(SandboxOrganizationsTest, IamsPerAccountLimitThrottlesEachAccountOnItsOwn) {
  OrgWorld world(1, [](SandboxOptions& o) { o.iam_rps_per_account = 2; });
  auto member = world.InAccount(world.layout.members[0]);
  auto admin = world.AdminClient();
  EXPECT_EQ(member.Iam("ListUsers").status, 200);  // a second's worth of burst: two calls
  EXPECT_EQ(member.Iam("ListUsers").status, 200);
  auto throttled = member.Iam("ListUsers");
  EXPECT_EQ(throttled.status, 400);
  EXPECT_EQ(ErrorCode(throttled), "Throttling");
  // Another account's budget is its own; STS is not IAM.
  EXPECT_EQ(member.Sts("GetCallerIdentity").status, 200);
  world.clock.Advance(std::chrono::milliseconds(500));
  EXPECT_EQ(member.Iam("ListUsers").status, 200);
  EXPECT_EQ(world.sandbox->call_counts()[world.layout.members[0]]["iam:ListUsers"], 4u);
  EXPECT_EQ(world.sandbox->call_counts()[world.layout.members[0]]["throttled"], 1u);
}

TEST(SandboxOrganizationsTest, AnExplicitDenyTakesAnActionFromEveryone) {
  OrgWorld world(1);
  ASSERT_TRUE(world.sandbox->DenyAction(world.layout.members[0], "iam:GetCredentialReport").ok());
  auto member = world.InAccount(world.layout.members[0]);
  auto r = member.Iam("GetCredentialReport");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "AccessDenied");
  EXPECT_NE(ErrorMessage(r).find("explicit deny"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::sandbox
