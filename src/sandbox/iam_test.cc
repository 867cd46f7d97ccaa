// IAM through Sandbox::Handle, signed as real clients sign: shapes, limits
// and error wording from shared/reference/aws-wire.md §2.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "sandbox/test_client.h"

namespace keyrotor::sandbox {
namespace {

using testing::ErrorCode;
using testing::ErrorMessage;
using testing::SandboxWorld;
using testing::XmlHas;
using testing::XmlValue;
using testing::XmlValues;

class IamTest : public ::testing::Test {
 protected:
  SandboxWorld world_;
  testing::TestClient admin_ = world_.AdminClient();

  void CreateUser(const std::string& name, const testing::Form& extra = {}) {
    testing::Form params = {{"UserName", name}};
    params.insert(params.end(), extra.begin(), extra.end());
    auto r = admin_.Iam("CreateUser", params);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // A user with one key and a client signed with it.
  testing::TestClient UserClient(const std::string& name) {
    auto key = world_.sandbox->CreateUserWithKey(name, world_.clock.Now());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return world_.Client(*key);
  }
};

TEST_F(IamTest, CreateUserReturnsTheUserInTheIamNamespace) {
  auto r = admin_.Iam("CreateUser", {{"UserName", "alice"},
                                     {"Path", "/engineering/"},
                                     {"Tags.member.1.Key", "team"},
                                     {"Tags.member.1.Value", "infra"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(*aws::FindHeader(r.headers, "content-type"), "text/xml");
  EXPECT_NE(r.body.find("<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"), std::string::npos);
  EXPECT_EQ(XmlValue(r.body, "UserName"), "alice");
  EXPECT_EQ(XmlValue(r.body, "Path"), "/engineering/");
  EXPECT_EQ(XmlValue(r.body, "Arn"), "arn:aws:iam::123456789012:user/engineering/alice");
  EXPECT_TRUE(std::regex_match(XmlValue(r.body, "UserId"), std::regex("AIDA[A-Z2-7]{17}")));
  EXPECT_EQ(XmlValue(r.body, "CreateDate"), "2026-03-01T12:00:00Z");
  EXPECT_EQ(XmlValue(r.body, "Key"), "team");
  EXPECT_TRUE(std::regex_match(XmlValue(r.body, "RequestId"),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_EQ(XmlValue(r.body, "RequestId"), *aws::FindHeader(r.headers, "x-amzn-RequestId"));
}

TEST_F(IamTest, UserNamesAreUniqueCaseInsensitively) {
  CreateUser("Alice");
  auto r = admin_.Iam("CreateUser", {{"UserName", "alice"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), "EntityAlreadyExists");
  EXPECT_EQ(ErrorMessage(r), "User with name alice already exists.");
  EXPECT_EQ(XmlValue(r.body, "Type"), "Sender");
  // Lookups are case-insensitive too, and answer with the name as created.
  EXPECT_EQ(XmlValue(admin_.Iam("GetUser", {{"UserName", "ALICE"}}).body, "UserName"), "Alice");
}

TEST_F(IamTest, CreateUserValidatesTheName) {
  auto bad = admin_.Iam("CreateUser", {{"UserName", "bad name!"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorCode(bad), "ValidationError");
  EXPECT_EQ(ErrorMessage(bad),
            "1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [\\w+=,.@-]+");
  auto too_long = admin_.Iam("CreateUser", {{"UserName", std::string(65, 'a')}});
  EXPECT_EQ(ErrorCode(too_long), "ValidationError");
  EXPECT_NE(ErrorMessage(too_long).find("less than or equal to 64"), std::string::npos);
  EXPECT_EQ(admin_.Iam("CreateUser", {{"UserName", std::string(64, 'a')}}).status, 200);
  EXPECT_EQ(ErrorCode(admin_.Iam("CreateUser")), "ValidationError");
  EXPECT_EQ(ErrorCode(admin_.Iam("CreateUser", {{"UserName", "ok"}, {"Path", "no-slashes"}})), "ValidationError");
  // Existing-user parameters allow 128 characters: a long name is simply not found.
  EXPECT_EQ(ErrorCode(admin_.Iam("GetUser", {{"UserName", std::string(100, 'b')}})), "NoSuchEntity");
  EXPECT_EQ(ErrorCode(admin_.Iam("GetUser", {{"UserName", std::string(129, 'b')}})), "ValidationError");
}

TEST_F(IamTest, GetUserDefaultsToTheCallerAndReportsMissingUsers) {
  auto self = admin_.Iam("GetUser");
  ASSERT_EQ(self.status, 200);
  EXPECT_EQ(XmlValue(self.body, "UserName"), "admin");
  auto missing = admin_.Iam("GetUser", {{"UserName", "bob"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "NoSuchEntity");
  EXPECT_EQ(ErrorMessage(missing), "The user with name bob cannot be found.");
}

TEST_F(IamTest, ListUsersPaginatesTwoHundredFiftyUsers) {
  for (int i = 0; i < 250; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "user-%03d", i);
    ASSERT_TRUE(world_.sandbox->CreateUserWithKey(name).ok());
  }
  std::set<std::string> seen;
  std::vector<size_t> page_sizes;
  std::string marker;
  for (int guard = 0; guard < 10; ++guard) {
    testing::Form params = {{"MaxItems", "100"}};
    if (!marker.empty()) params.emplace_back("Marker", marker);
    auto r = admin_.Iam("ListUsers", params);
    ASSERT_EQ(r.status, 200) << r.body;
    auto names = XmlValues(r.body, "UserName");
    page_sizes.push_back(names.size());
    seen.insert(names.begin(), names.end());
    if (XmlValue(r.body, "IsTruncated") == "false") {
      EXPECT_FALSE(XmlHas(r.body, "Marker"));
      break;
    }
    EXPECT_EQ(XmlValue(r.body, "IsTruncated"), "true");
    marker = XmlValue(r.body, "Marker");
    ASSERT_FALSE(marker.empty());
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{100, 100, 51}));  // 250 users + the admin
  EXPECT_EQ(seen.size(), 251u);
  // ListUsers omits tags; the default page is 100.
  auto first = admin_.Iam("ListUsers");
  EXPECT_EQ(XmlValues(first.body, "UserName").size(), 100u);
  EXPECT_EQ(ErrorCode(admin_.Iam("ListUsers", {{"MaxItems", "0"}})), "ValidationError");
  EXPECT_EQ(ErrorCode(admin_.Iam("ListUsers", {{"MaxItems", "1001"}})), "ValidationError");
  EXPECT_EQ(ErrorCode(admin_.Iam("ListUsers", {{"Marker", "not a marker"}})), "ValidationError");
}

TEST_F(IamTest, ListUsersFiltersByPathPrefix) {
  CreateUser("a1", {{"Path", "/ops/"}});
  CreateUser("a2", {{"Path", "/ops/east/"}});
  CreateUser("b1", {{"Path", "/dev/"}});
  auto r = admin_.Iam("ListUsers", {{"PathPrefix", "/ops/"}});
  EXPECT_EQ(XmlValues(r.body, "UserName"), (std::vector<std::string>{"a1", "a2"}));
}

TEST_F(IamTest, DeleteUserRequiresItsKeysGone) {
  auto key = world_.sandbox->CreateUserWithKey("carol");
  ASSERT_TRUE(key.ok());
  auto conflict = admin_.Iam("DeleteUser", {{"UserName", "carol"}});
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(ErrorCode(conflict), "DeleteConflict");
  ASSERT_EQ(admin_.Iam("DeleteAccessKey", {{"UserName", "carol"}, {"AccessKeyId", key->access_key_id}}).status, 200);
  auto deleted = admin_.Iam("DeleteUser", {{"UserName", "carol"}});
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_FALSE(XmlHas(deleted.body, "DeleteUserResult"));
  EXPECT_EQ(ErrorCode(admin_.Iam("GetUser", {{"UserName", "carol"}})), "NoSuchEntity");
  EXPECT_EQ(ErrorCode(admin_.Iam("DeleteUser", {{"UserName", "carol"}})), "NoSuchEntity");
}

TEST_F(IamTest, CreateAccessKeyShapesAndTheTwoKeyLimit) {
  CreateUser("dave");
  auto first = admin_.Iam("CreateAccessKey", {{"UserName", "dave"}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(std::regex_match(XmlValue(first.body, "AccessKeyId"), std::regex("AKIA[A-Z2-7]{16}")));
  EXPECT_TRUE(std::regex_match(XmlValue(first.body, "SecretAccessKey"), std::regex("[A-Za-z0-9+/]{40}")));
  EXPECT_EQ(XmlValue(first.body, "Status"), "Active");
  EXPECT_EQ(XmlValue(first.body, "UserName"), "dave");
  EXPECT_EQ(XmlValue(first.body, "CreateDate"), "2026-03-01T12:00:00Z");
  ASSERT_EQ(admin_.Iam("CreateAccessKey", {{"UserName", "dave"}}).status, 200);
  auto third = admin_.Iam("CreateAccessKey", {{"UserName", "dave"}});
  EXPECT_EQ(third.status, 409);
  EXPECT_EQ(ErrorCode(third), "LimitExceeded");
  EXPECT_EQ(ErrorMessage(third), "Cannot exceed quota for AccessKeysPerUser: 2");
  EXPECT_EQ(world_.sandbox->KeyCount("dave"), 2u);
  // An inactive key still counts against the quota.
  auto keys = world_.sandbox->ListKeys("dave");
  ASSERT_EQ(admin_
                .Iam("UpdateAccessKey",
                     {{"UserName", "dave"}, {"AccessKeyId", keys[0].access_key_id}, {"Status", "Inactive"}})
                .status,
            200);
  EXPECT_EQ(ErrorCode(admin_.Iam("CreateAccessKey", {{"UserName", "dave"}})), "LimitExceeded");
  EXPECT_EQ(ErrorCode(admin_.Iam("CreateAccessKey", {{"UserName", "nobody"}})), "NoSuchEntity");
}

TEST_F(IamTest, ListAccessKeysInCreationOrderWithPagination) {
  CreateUser("erin");
  std::string k1 = XmlValue(admin_.Iam("CreateAccessKey", {{"UserName", "erin"}}).body, "AccessKeyId");
  world_.clock.Advance(std::chrono::seconds(5));
  std::string k2 = XmlValue(admin_.Iam("CreateAccessKey", {{"UserName", "erin"}}).body, "AccessKeyId");
  auto all = admin_.Iam("ListAccessKeys", {{"UserName", "erin"}});
  EXPECT_EQ(XmlValues(all.body, "AccessKeyId"), (std::vector<std::string>{k1, k2}));
  EXPECT_EQ(XmlValue(all.body, "IsTruncated"), "false");
  EXPECT_FALSE(XmlHas(all.body, "SecretAccessKey"));
  auto page1 = admin_.Iam("ListAccessKeys", {{"UserName", "erin"}, {"MaxItems", "1"}});
  EXPECT_EQ(XmlValues(page1.body, "AccessKeyId"), (std::vector<std::string>{k1}));
  EXPECT_EQ(XmlValue(page1.body, "IsTruncated"), "true");
  auto page2 = admin_.Iam("ListAccessKeys",
                          {{"UserName", "erin"}, {"MaxItems", "1"}, {"Marker", XmlValue(page1.body, "Marker")}});
  EXPECT_EQ(XmlValues(page2.body, "AccessKeyId"), (std::vector<std::string>{k2}));
  EXPECT_EQ(XmlValue(page2.body, "IsTruncated"), "false");
}

TEST_F(IamTest, UpdateAccessKeyValidatesStatusAndKey) {
  CreateUser("frank");
  std::string id = XmlValue(admin_.Iam("CreateAccessKey", {{"UserName", "frank"}}).body, "AccessKeyId");
  auto updated = admin_.Iam("UpdateAccessKey", {{"UserName", "frank"}, {"AccessKeyId", id}, {"Status", "Inactive"}});
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_NE(updated.body.find("<UpdateAccessKeyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                              "<ResponseMetadata>"),
            std::string::npos);
  EXPECT_EQ(XmlValue(admin_.Iam("ListAccessKeys", {{"UserName", "frank"}}).body, "Status"), "Inactive");
  EXPECT_FALSE(world_.sandbox->GetKey(id)->active);

  auto bad = admin_.Iam("UpdateAccessKey", {{"UserName", "frank"}, {"AccessKeyId", id}, {"Status", "Paused"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorCode(bad), "ValidationError");
  EXPECT_EQ(ErrorCode(admin_.Iam("UpdateAccessKey", {{"UserName", "frank"}, {"AccessKeyId", id}})), "ValidationError");
  auto unknown = admin_.Iam("UpdateAccessKey",
                            {{"UserName", "frank"}, {"AccessKeyId", "AKIAAAAAAAAAAAAAAAAA"}, {"Status", "Active"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorMessage(unknown), "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found");
  // A key is found only under its own user.
  CreateUser("grace");
  EXPECT_EQ(
      ErrorCode(admin_.Iam("UpdateAccessKey", {{"UserName", "grace"}, {"AccessKeyId", id}, {"Status", "Active"}})),
      "NoSuchEntity");
}

TEST_F(IamTest, DeleteAccessKeyRemovesIt) {
  CreateUser("heidi");
  std::string id = XmlValue(admin_.Iam("CreateAccessKey", {{"UserName", "heidi"}}).body, "AccessKeyId");
  ASSERT_EQ(admin_.Iam("DeleteAccessKey", {{"UserName", "heidi"}, {"AccessKeyId", id}}).status, 200);
  EXPECT_EQ(world_.sandbox->KeyCount("heidi"), 0u);
  EXPECT_FALSE(world_.sandbox->GetKey(id).has_value());
  EXPECT_EQ(ErrorCode(admin_.Iam("DeleteAccessKey", {{"UserName", "heidi"}, {"AccessKeyId", id}})), "NoSuchEntity");
  EXPECT_EQ(ErrorCode(admin_.Iam("GetAccessKeyLastUsed", {{"AccessKeyId", id}})), "NoSuchEntity");
}

TEST_F(IamTest, GetAccessKeyLastUsedBeforeAndAfterUse) {
  auto key = world_.sandbox->CreateUserWithKey("ivan");
  ASSERT_TRUE(key.ok());
  auto never = admin_.Iam("GetAccessKeyLastUsed", {{"AccessKeyId", key->access_key_id}});
  ASSERT_EQ(never.status, 200) << never.body;
  EXPECT_EQ(XmlValue(never.body, "UserName"), "ivan");
  EXPECT_EQ(XmlValue(never.body, "ServiceName"), "N/A");
  EXPECT_EQ(XmlValue(never.body, "Region"), "N/A");
  EXPECT_FALSE(XmlHas(never.body, "LastUsedDate"));

  world_.clock.Advance(std::chrono::minutes(3));
  auto ivan = world_.Client(*key);
  ivan.region = "eu-west-1";
  ASSERT_EQ(ivan.Sts("GetCallerIdentity").status, 200);
  auto used = admin_.Iam("GetAccessKeyLastUsed", {{"AccessKeyId", key->access_key_id}});
  EXPECT_EQ(XmlValue(used.body, "LastUsedDate"), "2026-03-01T12:03:00Z");
  EXPECT_EQ(XmlValue(used.body, "ServiceName"), "sts");
  EXPECT_EQ(XmlValue(used.body, "Region"), "eu-west-1");
  EXPECT_EQ(world_.sandbox->GetKey(key->access_key_id)->last_used->service, "sts");
}

TEST_F(IamTest, TagUserListUserTagsUntagUser) {
  CreateUser("judy", {{"Tags.member.1.Key", "team"}, {"Tags.member.1.Value", "infra"}});
  ASSERT_EQ(admin_
                .Iam("TagUser", {{"UserName", "judy"},
                                 {"Tags.member.1.Key", "owner"},
                                 {"Tags.member.1.Value", "sec"},
                                 {"Tags.member.2.Key", "TEAM"},
                                 {"Tags.member.2.Value", "platform"}})
                .status,
            200);
  auto tags = admin_.Iam("ListUserTags", {{"UserName", "judy"}});
  EXPECT_EQ(XmlValues(tags.body, "Key"), (std::vector<std::string>{"team", "owner"}));
  EXPECT_EQ(XmlValues(tags.body, "Value"), (std::vector<std::string>{"platform", "sec"}));
  EXPECT_EQ(XmlValue(tags.body, "IsTruncated"), "false");
  ASSERT_EQ(admin_.Iam("UntagUser", {{"UserName", "judy"}, {"TagKeys.member.1", "team"}}).status, 200);
  EXPECT_EQ(XmlValues(admin_.Iam("ListUserTags", {{"UserName", "judy"}}).body, "Key"),
            (std::vector<std::string>{"owner"}));
  // GetUser carries the tags.
  EXPECT_EQ(XmlValue(admin_.Iam("GetUser", {{"UserName", "judy"}}).body, "Key"), "owner");
  EXPECT_EQ(ErrorCode(admin_.Iam(
                "TagUser", {{"UserName", "judy"}, {"Tags.member.1.Key", "bad<key>"}, {"Tags.member.1.Value", "x"}})),
            "ValidationError");
  EXPECT_EQ(ErrorCode(admin_.Iam("ListUserTags", {{"UserName", "nobody"}})), "NoSuchEntity");
}

TEST_F(IamTest, GroupsMembershipAndPagination) {
  auto created = admin_.Iam("CreateGroup", {{"GroupName", "rotators"}});
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(XmlValue(created.body, "Arn"), "arn:aws:iam::123456789012:group/rotators");
  EXPECT_TRUE(std::regex_match(XmlValue(created.body, "GroupId"), std::regex("AGPA[A-Z2-7]{17}")));
  EXPECT_EQ(ErrorCode(admin_.Iam("CreateGroup", {{"GroupName", "Rotators"}})), "EntityAlreadyExists");
  for (const char* name : {"u1", "u2", "u3", "u4", "u5"}) {
    CreateUser(name);
    ASSERT_EQ(admin_.Iam("AddUserToGroup", {{"GroupName", "rotators"}, {"UserName", name}}).status, 200);
  }
  auto groups = admin_.Iam("ListGroupsForUser", {{"UserName", "u3"}});
  EXPECT_EQ(XmlValues(groups.body, "GroupName"), (std::vector<std::string>{"rotators"}));

  std::vector<std::string> members;
  std::string marker;
  int pages = 0;
  do {
    testing::Form params = {{"GroupName", "rotators"}, {"MaxItems", "2"}};
    if (!marker.empty()) params.emplace_back("Marker", marker);
    auto r = admin_.Iam("GetGroup", params);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(XmlValue(r.body, "GroupName"), "rotators");
    for (const auto& n : XmlValues(r.body, "UserName")) members.push_back(n);
    marker = XmlValue(r.body, "IsTruncated") == "true" ? XmlValue(r.body, "Marker") : "";
    ++pages;
  } while (!marker.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(members, (std::vector<std::string>{"u1", "u2", "u3", "u4", "u5"}));

  EXPECT_EQ(ErrorMessage(admin_.Iam("GetGroup", {{"GroupName", "nope"}})), "The group with name nope cannot be found.");
  EXPECT_EQ(ErrorCode(admin_.Iam("DeleteGroup", {{"GroupName", "rotators"}})), "DeleteConflict");
  EXPECT_EQ(ErrorCode(admin_.Iam("DeleteUser", {{"UserName", "u1"}})), "DeleteConflict");
  ASSERT_EQ(admin_.Iam("RemoveUserFromGroup", {{"GroupName", "rotators"}, {"UserName", "u1"}}).status, 200);
  EXPECT_EQ(admin_.Iam("DeleteUser", {{"UserName", "u1"}}).status, 200);
}

TEST_F(IamTest, SelfServiceUsersManageOnlyTheirOwnKeys) {
  auto bob = UserClient("bob");
  CreateUser("alice");
  // Own keys: allowed, with or without UserName.
  EXPECT_EQ(XmlValue(bob.Iam("GetUser").body, "UserName"), "bob");
  auto created = bob.Iam("CreateAccessKey");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string new_id = XmlValue(created.body, "AccessKeyId");
  EXPECT_EQ(XmlValues(bob.Iam("ListAccessKeys", {{"UserName", "bob"}}).body, "AccessKeyId").size(), 2u);
  EXPECT_EQ(bob.Iam("UpdateAccessKey", {{"AccessKeyId", new_id}, {"Status", "Inactive"}}).status, 200);
  EXPECT_EQ(bob.Iam("GetAccessKeyLastUsed", {{"AccessKeyId", new_id}}).status, 200);
  EXPECT_EQ(bob.Iam("DeleteAccessKey", {{"AccessKeyId", new_id}}).status, 200);

  // Anything else, or anyone else's keys: AccessDenied in AWS's words.
  auto list_users = bob.Iam("ListUsers");
  EXPECT_EQ(list_users.status, 403);
  EXPECT_EQ(ErrorCode(list_users), "AccessDenied");
  EXPECT_EQ(ErrorMessage(list_users),
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers on resource: "
            "arn:aws:iam::123456789012:user/ because no identity-based policy allows the iam:ListUsers action");
  auto others = bob.Iam("CreateAccessKey", {{"UserName", "alice"}});
  EXPECT_EQ(ErrorCode(others), "AccessDenied");
  EXPECT_NE(ErrorMessage(others).find("iam:CreateAccessKey on resource: arn:aws:iam::123456789012:user/alice"),
            std::string::npos);
  EXPECT_EQ(world_.sandbox->KeyCount("alice"), 0u);
  EXPECT_EQ(ErrorCode(bob.Iam("GetAccessKeyLastUsed", {{"AccessKeyId", world_.admin.access_key_id}})), "AccessDenied");
  EXPECT_EQ(ErrorCode(bob.Iam("CreateUser", {{"UserName", "mallory"}})), "AccessDenied");
  EXPECT_EQ(
      ErrorCode(bob.Iam(
          "TagUser", {{"UserName", "bob"}, {"Tags.member.1.Key", kPermissionsTag}, {"Tags.member.1.Value", "admin"}})),
      "AccessDenied");
}

TEST_F(IamTest, UsersWithoutRightsAreDeniedEvenOnThemselves) {
  auto key = world_.sandbox->CreateUserWithKey("locked");
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(world_.sandbox->SetUserPermissions("locked", UserPermissions::kNone).ok());
  auto locked = world_.Client(*key);
  EXPECT_EQ(ErrorCode(locked.Iam("CreateAccessKey")), "AccessDenied");
  EXPECT_EQ(ErrorCode(locked.Iam("ListAccessKeys")), "AccessDenied");
  EXPECT_EQ(locked.Sts("GetCallerIdentity").status, 200);  // needs no permission in AWS either

  // The same over the wire, with the permissions tag.
  CreateUser("tagged", {{"Tags.member.1.Key", kPermissionsTag}, {"Tags.member.1.Value", "none"}});
  auto created = admin_.Iam("CreateAccessKey", {{"UserName", "tagged"}});
  testing::TestClient tagged = world_.AdminClient();
  tagged.As(XmlValue(created.body, "AccessKeyId"), Secret(XmlValue(created.body, "SecretAccessKey")));
  EXPECT_EQ(tagged.Sts("GetCallerIdentity").status, 200);
  EXPECT_EQ(ErrorCode(tagged.Iam("ListAccessKeys")), "AccessDenied");
  // Untagging restores the default self-service rights.
  ASSERT_EQ(admin_.Iam("UntagUser", {{"UserName", "tagged"}, {"TagKeys.member.1", kPermissionsTag}}).status, 200);
  EXPECT_EQ(tagged.Iam("ListAccessKeys").status, 200);
}

TEST_F(IamTest, SimulatePrincipalPolicy) {
  auto bob = world_.sandbox->CreateUserWithKey("bob");
  ASSERT_TRUE(bob.ok());
  const std::string bob_arn = "arn:aws:iam::123456789012:user/bob";
  auto r = admin_.Iam("SimulatePrincipalPolicy", {{"PolicySourceArn", bob_arn},
                                                  {"ActionNames.member.1", "iam:CreateAccessKey"},
                                                  {"ActionNames.member.2", "iam:ListUsers"},
                                                  {"ActionNames.member.3", "iam:DeleteAccessKey"},
                                                  {"ResourceArns.member.1", bob_arn}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(XmlValues(r.body, "EvaluationResults/member/EvalActionName"),
            (std::vector<std::string>{"iam:CreateAccessKey", "iam:ListUsers", "iam:DeleteAccessKey"}));
  EXPECT_EQ(XmlValues(r.body, "EvaluationResults/member/EvalDecision"),
            (std::vector<std::string>{"allowed", "implicitDeny", "allowed"}));
  EXPECT_EQ(XmlValue(r.body, "EvalResourceName"), bob_arn);
  EXPECT_EQ(XmlValue(r.body, "IsTruncated"), "false");

  // Own-key actions on someone else's user are not allowed.
  auto other =
      admin_.Iam("SimulatePrincipalPolicy", {{"PolicySourceArn", bob_arn},
                                             {"ActionNames.member.1", "iam:CreateAccessKey"},
                                             {"ResourceArns.member.1", "arn:aws:iam::123456789012:user/alice"}});
  EXPECT_EQ(XmlValue(other.body, "EvalDecision"), "implicitDeny");

  auto admin = admin_.Iam("SimulatePrincipalPolicy", {{"PolicySourceArn", "arn:aws:iam::123456789012:user/admin"},
                                                      {"ActionNames.member.1", "iam:ListUsers"},
                                                      {"ActionNames.member.2", "secretsmanager:PutSecretValue"}});
  EXPECT_EQ(XmlValues(admin.body, "EvalDecision"), (std::vector<std::string>{"allowed", "allowed"}));
  EXPECT_EQ(XmlValue(admin.body, "EvalResourceName"), "*");

  EXPECT_EQ(
      ErrorCode(admin_.Iam("SimulatePrincipalPolicy", {{"PolicySourceArn", "arn:aws:iam::123456789012:user/ghost"},
                                                       {"ActionNames.member.1", "iam:ListUsers"}})),
      "NoSuchEntity");
  // Only admins may simulate.
  auto bob_client = world_.Client(*bob);
  EXPECT_EQ(ErrorCode(bob_client.Iam("SimulatePrincipalPolicy",
                                     {{"PolicySourceArn", bob_arn}, {"ActionNames.member.1", "iam:ListUsers"}})),
            "AccessDenied");
}

TEST_F(IamTest, UnknownActionIsInvalidAction) {
  auto r = admin_.Iam("FlyToTheMoon");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "InvalidAction");
  EXPECT_EQ(ErrorMessage(r), "Could not find operation FlyToTheMoon for version 2010-05-08");
}

TEST_F(IamTest, ParametersInTheUrlQueryStringWork) {
  aws::HttpRequest request;
  request.method = "GET";
  request.url = std::string(testing::kEndpoint) + "?Action=GetUser&Version=2010-05-08&UserName=admin";
  auto r = admin_.Send(std::move(request), "iam");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(XmlValue(r.body, "UserName"), "admin");
}

TEST_F(IamTest, SecretAccessKeysAppearOnlyInCreateAccessKey) {
  CreateUser("kim");
  auto created = admin_.Iam("CreateAccessKey", {{"UserName", "kim"}});
  std::string secret = XmlValue(created.body, "SecretAccessKey");
  ASSERT_EQ(secret.size(), 40u);
  for (const auto& r :
       {admin_.Iam("ListAccessKeys", {{"UserName", "kim"}}), admin_.Iam("GetUser", {{"UserName", "kim"}}),
        admin_.Iam("GetAccessKeyLastUsed", {{"AccessKeyId", XmlValue(created.body, "AccessKeyId")}})}) {
    EXPECT_EQ(r.body.find(secret), std::string::npos);
  }
}

}  // namespace
}  // namespace keyrotor::sandbox
