// Reading an account in bulk: the credential report's CSV, and the
// directory selection works from.
#include "fleet/bulk.h"

#include <gtest/gtest.h>

namespace keyrotor::fleet {
namespace {

constexpr char kHeader[] =
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

TEST(CredentialReportTest, ReadsEachUsersKeysAndLeavesTheRootOut) {
  std::string csv = std::string(kHeader) +
                    "\r\n<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,"
                    "2024-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,"
                    "N/A,N/A,false,N/A,false,N/A"
                    "\r\nnone,arn:aws:iam::123456789012:user/none,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,"
                    "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
                    "\r\n\"a,b\",\"arn:aws:iam::123456789012:user/a,b\",2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,"
                    "false,true,2024-02-01T10:00:00+00:00,2024-03-01T00:00:00+00:00,us-east-1,s3,false,"
                    "2024-04-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\r\n";
  Result<ReportedKeys> keys = ParseCredentialReport(csv);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_TRUE(keys->at("none").empty());
  const auto& ab = keys->at("a,b");
  ASSERT_EQ(ab.size(), 2u);
  EXPECT_TRUE(ab[0].active);
  EXPECT_EQ(ab[0].last_rotated, ParseIso8601("2024-02-01T10:00:00Z").value());
  EXPECT_FALSE(ab[1].active);
  EXPECT_EQ(ab[1].last_rotated, ParseIso8601("2024-04-01T00:00:00Z").value());
}

TEST(CredentialReportTest, ABrokenReportIsRefusedNamingTheLine) {
  std::string wrong_width = std::string(kHeader) + "\nbob,arn,2024-01-01T00:00:00+00:00\n";
  Result<ReportedKeys> r = ParseCredentialReport(wrong_width);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "credential report line 2: 3 fields, the header has 22");
  std::string bad_time = std::string(kHeader) +
                         "\nbob,arn,x,false,N/A,N/A,N/A,false,true,yesterday,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,"
                         "N/A,false,N/A\n";
  r = ParseCredentialReport(bad_time);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "credential report line 2: access_key_1_last_rotated 'yesterday' is not a time");
  r = ParseCredentialReport("user,arn\nbob,arn\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "credential report: no column 'access_key_1_active'");
  r = ParseCredentialReport(std::string(kHeader) + "\n\"unterminated,arn\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "credential report line 2: unterminated quote");
}

TEST(AccountDirectoryTest, GroupsAreKnownEvenWithoutMembers) {
  aws::AuthorizationDetails details;
  aws::IamUserDetail d;
  d.user.user_name = "Alice";
  d.user.path = "/team/";
  d.user.tags = {{"team", "payments"}};
  d.groups = {"Deployers"};
  details.users.push_back(d);
  details.group_names = {"Deployers", "Empty"};
  AccountDirectory dir = DirectoryFromDetails(details);
  EXPECT_EQ(dir.users.at("Alice"), "/team/");
  EXPECT_EQ(dir.group_members.at("deployers"), std::set<std::string>{"alice"});
  EXPECT_TRUE(dir.group_members.at("empty").empty());
  EXPECT_EQ(dir.tags.at("Alice")[0].value, "payments");
  EXPECT_EQ(dir.groups_of.at("Alice"), std::vector<std::string>{"Deployers"});
}

}  // namespace
}  // namespace keyrotor::fleet
