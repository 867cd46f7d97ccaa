#include "destinations/destination_util.h"

#include <gtest/gtest.h>

namespace keyrotor::destinations {
namespace {

TEST(ExpandSpecTest, ReplacesEveryPlaceholder) {
  EXPECT_EQ(*ExpandSpec("secretsmanager:Account_{account}_User_{user}/{user}", "alice", "123456789012"),
            "secretsmanager:Account_123456789012_User_alice/alice");
  EXPECT_EQ(*ExpandSpec("credentials-file:/srv/{user}/credentials#{user}", "bob", "1"),
            "credentials-file:/srv/bob/credentials#bob");
  EXPECT_EQ(*ExpandSpec("exec:/opt/hooks/store.sh --user {user}", "carol", "1"), "exec:/opt/hooks/store.sh --user carol");
  EXPECT_EQ(*ExpandSpec("sns:arn:aws:sns:us-east-1:{account}:keys", "x", "123456789012"),
            "sns:arn:aws:sns:us-east-1:123456789012:keys");
  // A user named like a placeholder is not expanded again.
  EXPECT_EQ(*ExpandSpec("vault:/v#{user}", "{account}", "1"), "vault:/v#{account}");
}

// "." and ".." are valid IAM user names: they must not move a path.
TEST(ExpandSpecTest, DotUsersCannotLeaveThePathsDirectory) {
  for (const char* user : {".", ".."}) {
    for (const char* spec : {"credentials-file:/srv/keys/{user}/credentials#default", "credentials-file:{user}#p",
                             "vault:/srv/vaults/{user}", "vault:/srv/{user}/vault#{user}", "exec:/opt/hooks/{user}/run",
                             "exec:/opt/hooks/store.sh {user}", "exec:/opt/hooks/store.sh --dir '/keys/{user}'",
                             "keeper-writer:/opt/w.sh {user}"}) {
      Result<std::string> expanded = ExpandSpec(spec, user, "123456789012");
      ASSERT_FALSE(expanded.ok()) << spec << " with user " << user << " gave " << *expanded;
      EXPECT_EQ(expanded.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(expanded.status().message().find(spec), std::string::npos) << expanded.status().message();
      EXPECT_NE(expanded.status().message().find("leave the spec's directory"), std::string::npos);
    }
    // Where the name is not a whole path component, or not a path at all, it is harmless.
    EXPECT_TRUE(ExpandSpec("credentials-file:/srv/keys/{user}.ini#default", user, "1").ok());
    EXPECT_TRUE(ExpandSpec("credentials-file:/srv/keys/credentials#{user}", user, "1").ok());
    EXPECT_TRUE(ExpandSpec("vault:/srv/vault#{user}", user, "1").ok());
    EXPECT_TRUE(ExpandSpec("exec:/opt/hooks/store.sh --user={user}", user, "1").ok());
    EXPECT_TRUE(ExpandSpec("secretsmanager:apps/{user}", user, "1").ok());
    EXPECT_TRUE(ExpandSpec("ssm:/keys/{user}", user, "1").ok());
  }
  // Dots that were in the spec itself are the operator's choice.
  EXPECT_EQ(*ExpandSpec("credentials-file:../shared/{user}/credentials#p", "alice", "1"),
            "credentials-file:../shared/alice/credentials#p");
  EXPECT_TRUE(ExpandSpec("credentials-file:/srv/keys/{user}/credentials#default", "...", "1").ok());
}

TEST(ExpandSpecTest, ExpandSpecsStopsAtTheFirstRefusal) {
  auto ok = ExpandSpecs({"vault:/v/{user}", "ssm:/k/{user}"}, "alice", "1");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<std::string>{"vault:/v/alice", "ssm:/k/alice"}));
  EXPECT_FALSE(ExpandSpecs({"ssm:/k/{user}", "vault:/v/{user}"}, "..", "1").ok());
}

}  // namespace
}  // namespace keyrotor::destinations
