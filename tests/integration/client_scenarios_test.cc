// keyrotor's own AWS clients run, against the sandbox over a socket, the
// scenarios the interop tests run with real AWS clients: users and pagination,
// the key lifecycle and its limit, STS, Secrets Manager stages, SSM, SNS, and
// signature failures.
#include <gtest/gtest.h>

#include "aws/clients.h"
#include "aws/curl_transport.h"
#include "sandbox/server.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

class ClientScenariosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("scenario-admin");
  }
  void TearDown() override { server_->Stop(); }

  aws::ClientFactory As(const std::string& id, const Secret& secret) {
    return testing::SandboxClients(server_->endpoint(), &transport_, id, secret);
  }
  aws::ClientFactory Admin() { return As(admin_.access_key_id, admin_.secret); }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
};

TEST_F(ClientScenariosTest, UsersPaginateBeyondOneHundred) {
  auto iam = Admin().Iam();
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(iam->CreateUser("user" + std::to_string(i), "/fleet/").ok());
  }
  auto fleet = iam->ListUsers("/fleet/");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  EXPECT_EQ(fleet->size(), 120u);
  auto all = iam->ListUsers();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 121u);  // + the admin
  auto missing = iam->GetUser("nobody");
  EXPECT_TRUE(missing.status().IsAws("NoSuchEntity"));
  EXPECT_EQ(missing.status().aws()->http_status, 404);
}

TEST_F(ClientScenariosTest, TagsAndGroups) {
  auto iam = Admin().Iam();
  ASSERT_TRUE(iam->CreateUser("tagged", "/", {{"team", "infra"}, {"keyrotor:exempt", "true"}}).ok());
  auto tags = iam->ListUserTags("tagged");
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  ASSERT_EQ(tags->size(), 2u);
  EXPECT_EQ((*tags)[0].key, "team");
  EXPECT_EQ((*tags)[0].value, "infra");
  // Groups are made with calls keyrotor itself never sends; use the raw query client.
  ASSERT_TRUE(iam->Call("CreateGroup", {{"GroupName", "rotated"}}).ok());
  for (int i = 0; i < 105; ++i) {
    std::string user = "member" + std::to_string(i);
    ASSERT_TRUE(iam->CreateUser(user).ok());
    ASSERT_TRUE(iam->Call("AddUserToGroup", {{"GroupName", "rotated"}, {"UserName", user}}).ok());
  }
  auto members = iam->GetGroup("rotated");
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  EXPECT_EQ(members->size(), 105u);  // more than one page
  auto groups = iam->ListGroupsForUser("member7");
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].group_name, "rotated");
  EXPECT_TRUE(iam->ListGroupsForUser("tagged")->empty());
  EXPECT_TRUE(iam->GetGroup("nope").status().IsAws("NoSuchEntity"));
}

TEST_F(ClientScenariosTest, KeyLifecycleAndTheTwoKeyLimit) {
  auto iam = Admin().Iam();
  ASSERT_TRUE(iam->CreateUser("svc").ok());
  auto k1 = iam->CreateAccessKey("svc");
  auto k2 = iam->CreateAccessKey("svc");
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_EQ(k1->metadata.access_key_id.substr(0, 4), "AKIA");
  EXPECT_EQ(k1->metadata.access_key_id.size(), 20u);
  EXPECT_EQ(k1->secret_access_key.size(), 40u);
  auto k3 = iam->CreateAccessKey("svc");
  EXPECT_TRUE(k3.status().IsAws("LimitExceeded")) << k3.status().ToString();

  // The new key works and answers as its user; it is recorded as used.
  auto as_svc = As(k1->metadata.access_key_id, k1->secret_access_key);
  auto who = as_svc.Sts()->GetCallerIdentity();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(aws::UserNameFromArn(who->arn), "svc");
  auto used = iam->GetAccessKeyLastUsed(k1->metadata.access_key_id);
  ASSERT_TRUE(used.ok());
  EXPECT_TRUE(used->last_used_date.has_value());
  EXPECT_EQ(used->service_name, "sts");
  auto unused = iam->GetAccessKeyLastUsed(k2->metadata.access_key_id);
  ASSERT_TRUE(unused.ok());
  EXPECT_FALSE(unused->last_used_date.has_value());
  EXPECT_EQ(unused->service_name, "N/A");

  ASSERT_TRUE(iam->UpdateAccessKey("svc", k1->metadata.access_key_id, false).ok());
  auto keys = iam->ListAccessKeys("svc");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  for (const auto& k : *keys) EXPECT_EQ(k.active(), k.access_key_id != k1->metadata.access_key_id);
  EXPECT_TRUE(as_svc.Sts()->GetCallerIdentity().status().IsAws("InvalidClientTokenId"));
  ASSERT_TRUE(iam->DeleteAccessKey("svc", k1->metadata.access_key_id).ok());
  EXPECT_TRUE(iam->DeleteAccessKey("svc", k1->metadata.access_key_id).IsAws("NoSuchEntity"));
  EXPECT_EQ(iam->ListAccessKeys("svc")->size(), 1u);
}

TEST_F(ClientScenariosTest, SignatureFailures) {
  auto wrong_secret = As(admin_.access_key_id, Secret("0000000000000000000000000000000000000000"));
  EXPECT_TRUE(wrong_secret.Sts()->GetCallerIdentity().status().IsAws("SignatureDoesNotMatch"));
  auto unknown = As("AKIAUNKNOWNKEY000000", admin_.secret);
  auto r = unknown.Iam()->ListUsers();
  EXPECT_TRUE(r.status().IsAws("InvalidClientTokenId"));
  EXPECT_EQ(r.status().aws()->http_status, 403);
  // JSON protocol services answer in their own shape: UnrecognizedClientException, HTTP 400.
  auto sm = unknown.SecretsManager()->DescribeSecret("x");
  EXPECT_TRUE(sm.status().IsAws("UnrecognizedClientException")) << sm.status().ToString();
  EXPECT_EQ(sm.status().aws()->http_status, 400);
}

TEST_F(ClientScenariosTest, StsAssumeRoleGivesWorkingTemporaryCredentials) {
  aws::AssumeRoleRequest req;
  req.role_arn = "arn:aws:iam::123456789012:role/rotator";
  req.session_name = "keyrotor";
  req.duration_seconds = 900;
  auto role = Admin().Sts()->AssumeRole(req);
  ASSERT_TRUE(role.ok()) << role.status().ToString();
  EXPECT_EQ(role->credentials.access_key_id.substr(0, 4), "ASIA");
  EXPECT_TRUE(role->credentials.IsTemporary());
  ASSERT_TRUE(role->credentials.expiration.has_value());
  auto as_role = testing::SandboxClients(server_->endpoint(), &transport_).WithCredentials(
      std::make_shared<aws::StaticCredentialsProvider>(role->credentials.Clone()));
  auto who = as_role.Sts()->GetCallerIdentity();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_NE(who->arn.find(":assumed-role/rotator/keyrotor"), std::string::npos) << who->arn;

  auto web = Admin().Sts()->AssumeRoleWithWebIdentity("arn:aws:iam::123456789012:role/ci", "gha",
                                                      Secret("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
  ASSERT_TRUE(web.ok()) << web.status().ToString();
  EXPECT_TRUE(web->credentials.IsTemporary());
  auto bad = Admin().Sts()->AssumeRoleWithWebIdentity("arn:aws:iam::123456789012:role/ci", "gha", Secret("invalid"));
  EXPECT_TRUE(bad.status().IsAws("InvalidIdentityToken")) << bad.status().ToString();
}

TEST_F(ClientScenariosTest, SecretsManagerStagesMoveLikeAws) {
  auto sm = Admin().SecretsManager();
  const std::string t1 = "11111111-1111-4111-8111-111111111111", t2 = "22222222-2222-4222-8222-222222222222";
  auto created = sm->CreateSecret("app/key", Secret(R"({"AccessKey":"A1","SecretKey":"S1"})"), t1);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->version_id, t1);
  // Same token, same value: a no-op, so a retried create is harmless.
  auto put = sm->PutSecretValue("app/key", Secret(R"({"AccessKey":"A2","SecretKey":"S2"})"), t2);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(sm->PutSecretValue("app/key", Secret(R"({"AccessKey":"A2","SecretKey":"S2"})"), t2).ok());
  auto conflict = sm->PutSecretValue("app/key", Secret("different"), t2);
  EXPECT_TRUE(conflict.status().IsAws("ResourceExistsException")) << conflict.status().ToString();

  auto current = sm->GetSecretValue("app/key", "AWSCURRENT");
  auto previous = sm->GetSecretValue("app/key", "AWSPREVIOUS");
  ASSERT_TRUE(current.ok() && previous.ok());
  EXPECT_EQ(current->version_id, t2);
  EXPECT_EQ(previous->version_id, t1);
  EXPECT_EQ(previous->secret_string.reveal(), R"({"AccessKey":"A1","SecretKey":"S1"})");

  // Roll back: AWSCURRENT to v1, which must name the version it leaves.
  EXPECT_TRUE(sm->UpdateSecretVersionStage("app/key", "AWSCURRENT", t1, "").IsAws("InvalidParameterException"));
  ASSERT_TRUE(sm->UpdateSecretVersionStage("app/key", "AWSCURRENT", t1, t2).ok());
  auto described = sm->DescribeSecret("app/key");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->VersionWithStage("AWSCURRENT"), t1);
  EXPECT_EQ(described->VersionWithStage("AWSPREVIOUS"), t2);
  EXPECT_TRUE(sm->GetSecretValue("missing").status().IsAws("ResourceNotFoundException"));
}

TEST_F(ClientScenariosTest, SsmSecureStringAndSnsPublish) {
  auto ssm = Admin().Ssm();
  auto v1 = ssm->PutParameter("/app/key", Secret("s3cr3t"));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  auto v2 = ssm->PutParameter("/app/key", Secret("s3cr3t-2"));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*v2, *v1 + 1);
  EXPECT_TRUE(ssm->PutParameter("/app/key", Secret("x"), "SecureString", /*overwrite=*/false)
                  .status()
                  .IsAws("ParameterAlreadyExists"));
  auto decrypted = ssm->GetParameter("/app/key", true);
  ASSERT_TRUE(decrypted.ok());
  EXPECT_EQ(decrypted->value.reveal(), "s3cr3t-2");
  auto encrypted = ssm->GetParameter("/app/key", false);
  ASSERT_TRUE(encrypted.ok());
  EXPECT_EQ(encrypted->value.reveal().find("s3cr3t"), std::string::npos);
  EXPECT_TRUE(ssm->GetParameter("/app/missing").status().IsAws("ParameterNotFound"));

  auto sns = Admin().Sns();
  auto topic = sns->CreateTopic("rotations");
  ASSERT_TRUE(topic.ok()) << topic.status().ToString();
  auto id = sns->Publish(*topic, "key rotated for svc", "keyrotor");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto messages = server_->sandbox().PublishedMessages(*topic);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "key rotated for svc");
  EXPECT_EQ(messages[0].message_id, *id);
  EXPECT_TRUE(sns->Publish(*topic + "-missing", "x").status().IsAws("NotFound"));
}

}  // namespace
}  // namespace keyrotor
