// IAM's account-wide reads in the sandbox: the credential report's life
// cycle and columns, and GetAccountAuthorizationDetails' users and groups.
#include <gtest/gtest.h>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::SandboxWorld;
using testing::XmlValue;
using testing::XmlValues;

std::string ReportCsv(const aws::HttpResponse& r) { return Base64Decode(XmlValue(r.body, "Content")).value_or(""); }

TEST(SandboxCredentialReportTest, GeneratedOnceThenReadUntilFourHoursOld) {
  SandboxWorld world([](SandboxOptions& o) { o.credential_report_ms = 3000; });
  auto admin = world.AdminClient();
  EXPECT_EQ(ErrorCode(admin.Iam("GetCredentialReport")), "ReportNotPresent");
  auto started = admin.Iam("GenerateCredentialReport");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(XmlValue(started.body, "State"), "STARTED");
  EXPECT_EQ(XmlValue(started.body, "Description"), "No report exists. Starting a new report generation task");
  EXPECT_EQ(XmlValue(admin.Iam("GenerateCredentialReport").body, "State"), "INPROGRESS");
  auto early = admin.Iam("GetCredentialReport");
  EXPECT_EQ(early.status, 404);
  EXPECT_EQ(ErrorCode(early), "ReportInProgress");
  world.clock.Advance(std::chrono::seconds(3));
  EXPECT_EQ(XmlValue(admin.Iam("GenerateCredentialReport").body, "State"), "COMPLETE");
  auto report = admin.Iam("GetCredentialReport");
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(XmlValue(report.body, "ReportFormat"), "text/csv");
  EXPECT_EQ(XmlValue(report.body, "GeneratedTime"), "2026-03-01T12:00:00Z");
  // Fresh for four hours: asked again, IAM returns the same report.
  world.clock.Advance(std::chrono::hours(3));
  EXPECT_EQ(XmlValue(admin.Iam("GenerateCredentialReport").body, "State"), "COMPLETE");
  world.clock.Advance(std::chrono::hours(1));
  EXPECT_EQ(ErrorCode(admin.Iam("GetCredentialReport")), "ReportExpired");
  auto again = admin.Iam("GenerateCredentialReport");
  EXPECT_EQ(XmlValue(again.body, "State"), "STARTED");
}

TEST(SandboxCredentialReportTest, ColumnsFollowAwsForUsersWithoutWithOneAndWithTwoKeys) {
  SandboxWorld world;
  auto created = world.clock.Now() - std::chrono::hours(24 * 100);
  ASSERT_TRUE(world.sandbox->CreateUserWithKey("old", created).ok());
  ASSERT_TRUE(world.sandbox->CreateUserWithKey("two", created).ok());
  ASSERT_TRUE(world.sandbox->CreateUserWithKey("two").ok());
  auto admin = world.AdminClient();
  ASSERT_EQ(admin.Iam("CreateUser", {{"UserName", "a,b"}}).status, 200);  // IAM names may hold commas
  admin.Iam("GenerateCredentialReport");
  std::string csv = ReportCsv(admin.Iam("GetCredentialReport"));
  std::vector<std::string> lines = Split(csv, '\n');
  ASSERT_EQ(lines.size(), 6u) << csv;  // header, root, then users by name: "a,b", admin, old, two
  EXPECT_EQ(Split(lines[0], ',').size(), 22u);
  EXPECT_TRUE(StartsWith(lines[0], "user,arn,user_creation_time,password_enabled,"));
  EXPECT_TRUE(StartsWith(lines[1], "<root_account>,arn:aws:iam::123456789012:root,"));
  EXPECT_TRUE(StartsWith(lines[2], "\"a,b\",\"arn:aws:iam::123456789012:user/a,b\","));
  EXPECT_NE(lines[2].find(",false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"), std::string::npos);
  EXPECT_NE(lines[4].find(",true,2025-11-21T12:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"), std::string::npos)
      << lines[4];
  EXPECT_NE(lines[5].find(",true,2025-11-21T12:00:00+00:00,N/A,N/A,N/A,true,2026-03-01T12:00:00+00:00,"),
            std::string::npos)
      << lines[5];
  EXPECT_EQ(csv.find("SecretAccessKey"), std::string::npos);
}

TEST(SandboxAuthorizationDetailsTest, UsersWithGroupsAndTagsThenGroupsInPagesOfMaxItems) {
  SandboxWorld world;
  auto admin = world.AdminClient();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(admin.Iam("CreateUser", {{"UserName", "u" + std::to_string(i)},
                                       {"Tags.member.1.Key", "team"},
                                       {"Tags.member.1.Value", "t" + std::to_string(i)}})
                  .status,
              200);
  }
  ASSERT_EQ(admin.Iam("CreateGroup", {{"GroupName", "Deployers"}}).status, 200);
  ASSERT_EQ(admin.Iam("AddUserToGroup", {{"GroupName", "Deployers"}, {"UserName", "u3"}}).status, 200);
  std::vector<std::string> users, groups, tags;
  std::string marker;
  int pages = 0;
  for (;;) {
    testing::Form form = {{"Filter.member.1", "User"}, {"Filter.member.2", "Group"}, {"MaxItems", "4"}};
    if (!marker.empty()) form.emplace_back("Marker", marker);
    auto r = admin.Iam("GetAccountAuthorizationDetails", form);
    ASSERT_EQ(r.status, 200) << r.body;
    ++pages;
    for (auto& u : XmlValues(r.body, "UserDetailList/member/UserName")) users.push_back(u);
    for (auto& g : XmlValues(r.body, "GroupDetailList/member/GroupName")) groups.push_back(g);
    for (auto& t : XmlValues(r.body, "UserDetailList/member/Tags/member/Value")) tags.push_back(t);
    if (XmlValues(r.body, "UserDetailList/member[UserName='u3']/GroupList/member").size() == 1) {
      EXPECT_EQ(XmlValue(r.body, "UserDetailList/member[UserName='u3']/GroupList/member"), "Deployers");
    }
    if (XmlValue(r.body, "IsTruncated") != "true") break;
    marker = XmlValue(r.body, "Marker");
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(users, (std::vector<std::string>{"admin", "u0", "u1", "u2", "u3", "u4"}));
  EXPECT_EQ(groups, std::vector<std::string>{"Deployers"});
  EXPECT_EQ(tags.size(), 5u);
  auto bad = admin.Iam("GetAccountAuthorizationDetails", {{"Filter.member.1", "Users"}});
  EXPECT_EQ(ErrorCode(bad), "ValidationError");
}

TEST(SandboxAuthorizationDetailsTest, BulkReadsNeedTheirPermissions) {
  SandboxWorld world;
  auto user = world.Client(world.sandbox->CreateUserWithKey("self").value());
  EXPECT_EQ(ErrorCode(user.Iam("GetAccountAuthorizationDetails")), "AccessDenied");
  EXPECT_EQ(ErrorCode(user.Iam("GenerateCredentialReport")), "AccessDenied");
  EXPECT_EQ(ErrorCode(user.Iam("GetCredentialReport")), "AccessDenied");
}

}  // namespace
}  // namespace keyrotor::sandbox
