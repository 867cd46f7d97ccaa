#include "keeper/payload.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "keeper/keeper_rotation.h"

namespace keyrotor::keeper {
namespace {

const char kAdminSecret[] = "ADMINsecretVALUE/abc+123";
const char kNewPassword[] = "n3w-Passw0rd!";
const char kOldPassword[] = "0ld-Passw0rd?";

nlohmann::json Records() {
  return nlohmann::json::array({{{"uid", "rec-user"}, {"title", "app user"}, {"login", "app"}},
                                {{"uid", "rec-admin"},
                                 {"title", "AWS admin"},
                                 {"aws_access_key_id", {"AKIAADMIN"}},
                                 {"aws_secret_access_key", {kAdminSecret}},
                                 {"delete_all_keys_before_rotating", "Yes"},
                                 {"host", {{{"hostName", "x"}, {"port", "1"}}}}}});
}

std::string Encode(const nlohmann::json& payload) { return Base64Encode(payload.dump()); }

nlohmann::json Payload(const nlohmann::json& records = Records()) {
  return {{"providerRecordUid", "prov"},
          {"resourceRecordUid", "res"},
          {"userRecordUid", "rec-user"},
          {"newPassword", kNewPassword},
          {"oldPassword", kOldPassword},
          {"user", "app"},
          {"records", Base64Encode(records.dump())}};
}

void ExpectNoSecret(const Status& status) {
  for (const char* s : {kAdminSecret, kNewPassword, kOldPassword}) {
    EXPECT_EQ(status.ToString().find(s), std::string::npos) << status.ToString();
  }
}

TEST(KeeperPayloadTest, ParsesAValidPayloadWithArrayValuesAndTrailingNewline) {
  Result<KeeperPayload> p = ParseKeeperPayload(Encode(Payload()) + "\r\n");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->user, "app");
  EXPECT_EQ(p->provider_record_uid, "prov");
  EXPECT_EQ(p->resource_record_uid, "res");
  EXPECT_EQ(p->user_record_uid, "rec-user");
  EXPECT_EQ(p->new_password.reveal(), kNewPassword);
  EXPECT_EQ(p->old_password.reveal(), kOldPassword);
  ASSERT_EQ(p->records.size(), 2u);
  EXPECT_EQ(p->records[1].uid, "rec-admin");
  EXPECT_EQ(p->records[1].title, "AWS admin");
  ASSERT_NE(p->records[1].Field("AWS_Access_Key_Id"), nullptr);  // labels match in any case
  EXPECT_EQ(p->records[1].Field("aws_access_key_id")->reveal(), "AKIAADMIN");
  EXPECT_EQ(p->records[1].Field("aws_secret_access_key")->reveal(), kAdminSecret);
  EXPECT_TRUE(p->records[1].HasUnusableField("host"));
  EXPECT_EQ(p->records[0].Field("aws_access_key_id"), nullptr);
  EXPECT_TRUE(DeleteAllKeysRequested(*p));

  // The user's own record is skipped; the admin record supplies the credentials.
  auto creds = AdminCredentialsFromRecords(*p);
  ASSERT_TRUE(creds.ok());
  ASSERT_TRUE(creds->has_value());
  EXPECT_EQ((*creds)->record_uid, "rec-admin");
  EXPECT_EQ((*creds)->credentials.access_key_id, "AKIAADMIN");
  EXPECT_EQ((*creds)->credentials.secret_access_key.reveal(), kAdminSecret);
  EXPECT_TRUE((*creds)->credentials.session_token.empty());
}

TEST(KeeperPayloadTest, RecordsAndPasswordsAreOptional) {
  Result<KeeperPayload> p = ParseKeeperPayload(Encode({{"user", "app"}}));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->records.empty());
  EXPECT_TRUE(p->old_password.empty());
  auto creds = AdminCredentialsFromRecords(*p);
  ASSERT_TRUE(creds.ok());
  EXPECT_FALSE(creds->has_value());
  EXPECT_FALSE(DeleteAllKeysRequested(*p));
}

TEST(KeeperPayloadTest, SessionTokenAndTheFirstRecordWithBothFields) {
  nlohmann::json records = nlohmann::json::array(
      {{{"uid", "a"}, {"delete_all_keys_before_rotating", {"off"}}},
       {{"uid", "b"}, {"aws_access_key_id", "ASIAFIRST"}, {"aws_secret_access_key", "s1"}, {"aws_session_token", "t1"}},
       {{"uid", "c"}, {"aws_access_key_id", "AKIASECOND"}, {"aws_secret_access_key", "s2"}}});
  Result<KeeperPayload> p = ParseKeeperPayload(Encode(Payload(records)));
  ASSERT_TRUE(p.ok());
  auto creds = AdminCredentialsFromRecords(*p);
  ASSERT_TRUE(creds.ok() && creds->has_value());
  EXPECT_EQ((*creds)->record_uid, "b");
  EXPECT_EQ((*creds)->credentials.session_token.reveal(), "t1");
  EXPECT_FALSE(DeleteAllKeysRequested(*p));  // the first record with the field says "off"
}

TEST(KeeperPayloadTest, TruthyValues) {
  for (const char* v : {"true", "TRUE", "yes", "1", "on", " On "}) EXPECT_TRUE(IsTruthy(v)) << v;
  for (const char* v : {"false", "no", "0", "off", "", "y", "2"}) EXPECT_FALSE(IsTruthy(v)) << v;
}

TEST(KeeperPayloadTest, Base64) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeBase64("aGVs\nbG8=\n"), "hello");
  EXPECT_EQ(*DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(*DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("aGVsbG8=x").ok());
  EXPECT_FALSE(DecodeBase64("a").ok());
  EXPECT_FALSE(DecodeBase64("-_8").ok());  // the URL alphabet is not Keeper's
  EXPECT_FALSE(DecodeBase64("aGVsbG8==").ok());
}

// Every malformed payload is refused with a message that names what is wrong
// and never quotes a value.
TEST(KeeperPayloadTest, MalformedInputIsRefusedWithoutQuotingSecrets) {
  nlohmann::json no_user = Payload();
  no_user.erase("user");
  nlohmann::json user_number = Payload();
  user_number["user"] = 7;
  nlohmann::json records_not_base64 = Payload();
  records_not_base64["records"] = std::string("!!") + kAdminSecret;
  nlohmann::json records_not_json = Payload();
  records_not_json["records"] = Base64Encode(std::string("[{\"aws_secret_access_key\": \"") + kAdminSecret);
  nlohmann::json records_not_list = Payload();
  records_not_list["records"] = Base64Encode(nlohmann::json{{"aws_secret_access_key", kAdminSecret}}.dump());
  nlohmann::json password_number = Payload();
  password_number["newPassword"] = 5;
  struct Case {
    std::string input;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {std::string("not base64 ") + kNewPassword, "not base64"},
      {Base64Encode(std::string("{\"newPassword\": \"") + kNewPassword + "\""), "not valid JSON"},
      {Base64Encode("[1]"), "not a JSON object"},
      {Encode(no_user), "'user'"},
      {Encode(user_number), "'user'"},
      {Encode(records_not_base64), "'records' is not base64"},
      {Encode(records_not_json), "not valid JSON"},
      {Encode(records_not_list), "not a JSON list"},
      {Encode(Payload(nlohmann::json::array({"x"}))), "record #1"},
      {Encode(password_number), "'newPassword'"},
  };
  for (const Case& c : cases) {
    Result<KeeperPayload> p = ParseKeeperPayload(c.input);
    ASSERT_FALSE(p.ok()) << c.expected;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().ToString().find(c.expected), std::string::npos) << p.status().ToString();
    ExpectNoSecret(p.status());
  }
}

TEST(KeeperPayloadTest, HalfAttachedOrUnreadableCredentialsAreRefused) {
  for (const nlohmann::json& record :
       {nlohmann::json{{"uid", "half"}, {"aws_secret_access_key", kAdminSecret}},
        nlohmann::json{
            {"uid", "half"}, {"aws_access_key_id", "AKIA"}, {"aws_secret_access_key", {kAdminSecret, "x"}}}}) {
    Result<KeeperPayload> p = ParseKeeperPayload(Encode(Payload(nlohmann::json::array({record}))));
    ASSERT_TRUE(p.ok());
    auto creds = AdminCredentialsFromRecords(*p);
    ASSERT_FALSE(creds.ok());
    EXPECT_NE(creds.status().ToString().find("half"), std::string::npos) << creds.status().ToString();
    ExpectNoSecret(creds.status());
  }
}

}  // namespace
}  // namespace keyrotor::keeper
