// The destinations against the sandbox on a loopback socket (Secrets Manager,
// SSM), and `keyrotor vault` as a user runs it. Every error seen is scanned
// for the secrets involved.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "destinations/destination.h"
#include "destinations/secretsmanager_destination.h"
#include "destinations/vault.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using destinations::Destination;
using destinations::DestinationOptions;
using destinations::KeyHandoff;
using destinations::MakeDestination;
using destinations::ReadKeyIdFromSecret;
using destinations::SecretVersionIdFor;

constexpr const char* kSecrets[] = {"destSECRET1/destSECRET1/destSECRET1/dest1",
                                    "destSECRET2/destSECRET2/destSECRET2/dest2",
                                    "destSECRET3/destSECRET3/destSECRET3/dest3"};
constexpr const char* kKeyIds[] = {"AKIADESTDESTDEST0001", "AKIADESTDESTDEST0002", "AKIADESTDESTDEST0003"};

class DestinationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox::SandboxOptions options;
    options.seed = 7;
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("admin");
    ASSERT_FALSE(admin_.access_key_id.empty());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    for (const Status& s : seen_) {
      for (const char* secret : kSecrets) {
        EXPECT_EQ(s.ToString().find(secret), std::string::npos) << "an error message holds a secret";
      }
      EXPECT_EQ(s.ToString().find(admin_.secret.reveal()), std::string::npos);
    }
  }

  aws::ClientFactory Factory() {
    return testing::SandboxClients(server_->endpoint(), &transport_, admin_.access_key_id, admin_.secret);
  }
  std::unique_ptr<Destination> Make(const std::string& spec, DestinationOptions options = {}) {
    auto d = MakeDestination(spec, Factory(), options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  static KeyHandoff Key(int i) {
    KeyHandoff key;
    key.rotation_id = "rotation-" + std::to_string(i);
    key.account = "123456789012";
    key.user = "alice";
    key.access_key_id = kKeyIds[i];
    key.secret_access_key = Secret(kSecrets[i]);
    key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
    if (i > 0) key.previous_access_key_id = kKeyIds[i - 1];
    return key;
  }
  // Records the status for the secret scan in TearDown; true when OK.
  bool Ok(const Status& s) {
    seen_.push_back(s);
    return s.ok();
  }
  template <typename T>
  bool Ok(const Result<T>& r) {
    return Ok(r.status());
  }

  aws::SecretsManagerClient Sm() { return Factory().SecretsManager().value(); }
  // (version id, key id) at `stage`, or empty.
  std::pair<std::string, std::string> At(const std::string& name, const std::string& stage) {
    aws::SecretsManagerClient sm = Sm();
    auto r = ReadKeyIdFromSecret(sm, name, stage);
    EXPECT_TRUE(Ok(r)) << r.status().ToString();
    return r.ok() ? *r : std::pair<std::string, std::string>{};
  }
  size_t LabelledVersions(const std::string& name) {
    auto d = Sm().DescribeSecret(name);
    EXPECT_TRUE(Ok(d));
    return d.ok() ? d->version_ids_to_stages.size() : 0;
  }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  std::vector<Status> seen_;
};

TEST_F(DestinationsTest, SecretsManagerPutCreatesThenVersionsIdempotently) {
  auto dest = Make("secretsmanager:app/alice");
  ASSERT_TRUE(dest);
  auto snap = dest->Snapshot(Key(0));
  ASSERT_TRUE(Ok(snap));
  EXPECT_TRUE(snap->empty());  // no secret yet
  ASSERT_TRUE(Ok(dest->Put(Key(0))));
  ASSERT_TRUE(Ok(dest->Put(Key(0))));  // a retry after a crash: no second version
  EXPECT_EQ(LabelledVersions("app/alice"), 1u);
  auto value = server_->sandbox().SecretValue("app/alice");
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(value->reveal() ==
              std::string("{\"AccessKey\":\"") + kKeyIds[0] + "\",\"SecretKey\":\"" + kSecrets[0] + "\"}");
  EXPECT_EQ(At("app/alice", "AWSCURRENT"), std::make_pair(SecretVersionIdFor("rotation-0"), std::string(kKeyIds[0])));

  ASSERT_TRUE(Ok(dest->Put(Key(1))));
  ASSERT_TRUE(Ok(dest->Put(Key(1))));
  EXPECT_EQ(LabelledVersions("app/alice"), 2u);
  EXPECT_EQ(At("app/alice", "AWSCURRENT").second, kKeyIds[1]);
  EXPECT_EQ(At("app/alice", "AWSPREVIOUS").second, kKeyIds[0]);
  ASSERT_TRUE(Ok(dest->Put(Key(2))));
  EXPECT_EQ(At("app/alice", "AWSCURRENT").second, kKeyIds[2]);
  EXPECT_EQ(At("app/alice", "AWSPREVIOUS").second, kKeyIds[1]);
}

TEST_F(DestinationsTest, SecretsManagerRestoreMovesTheLabelsBack) {
  auto dest = Make("secretsmanager:app/alice");
  ASSERT_TRUE(Ok(dest->Put(Key(0))));
  ASSERT_TRUE(Ok(dest->Put(Key(1))));
  auto before_current = At("app/alice", "AWSCURRENT");
  auto before_previous = At("app/alice", "AWSPREVIOUS");

  auto snap = dest->Snapshot(Key(2));
  ASSERT_TRUE(Ok(snap));
  ASSERT_TRUE(Ok(dest->Put(Key(2))));
  // A snapshot taken again after the Put (crash recovery) still names the versions before.
  auto again = dest->Snapshot(Key(2));
  ASSERT_TRUE(Ok(again));
  ASSERT_TRUE(Ok(dest->Restore(Key(2), *snap)));
  EXPECT_EQ(At("app/alice", "AWSCURRENT"), before_current);
  EXPECT_EQ(At("app/alice", "AWSPREVIOUS"), before_previous);
  ASSERT_TRUE(Ok(dest->Restore(Key(2), *snap)));  // twice: nothing to do
  EXPECT_EQ(At("app/alice", "AWSCURRENT"), before_current);
  ASSERT_TRUE(Ok(dest->Restore(Key(2), *again)));
  EXPECT_EQ(At("app/alice", "AWSCURRENT"), before_current);

  // Someone put another version since: Restore does not take it away.
  ASSERT_TRUE(Ok(dest->Put(Key(2))));
  aws::SecretsManagerClient sm = Sm();
  ASSERT_TRUE(Ok(sm.PutSecretValue("app/alice", Secret("{\"AccessKey\":\"AKIAOTHEROTHEROTHER1\"}"),
                                   "someone-else-someone-else-someone-else")));
  Status refused = dest->Restore(Key(2), *snap);
  seen_.push_back(refused);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(At("app/alice", "AWSCURRENT").second, "AKIAOTHEROTHEROTHER1");
}

TEST_F(DestinationsTest, SecretsManagerRestoreOfANewSecretLeavesIt) {
  auto dest = Make("secretsmanager:app/new?kms_key_id=alias/keyrotor");
  auto snap = dest->Snapshot(Key(0));
  ASSERT_TRUE(Ok(snap));
  ASSERT_TRUE(snap->empty());
  ASSERT_TRUE(Ok(dest->Put(Key(0))));
  ASSERT_TRUE(Ok(dest->Restore(Key(0), *snap)));
  EXPECT_TRUE(server_->sandbox().SecretValue("app/new").has_value());
}

TEST_F(DestinationsTest, SecretsManagerCustomTemplateIsReadBack) {
  DestinationOptions options;
  options.value_template = R"({"creds":{"id":"{{access_key_id}}","key":"{{secret_access_key}}"},"who":"{{user}}"})";
  auto dest = Make("secretsmanager:app/templated", options);
  ASSERT_TRUE(Ok(dest->Put(Key(0))));
  EXPECT_EQ(At("app/templated", "AWSCURRENT").second, kKeyIds[0]);
  auto doc = nlohmann::json::parse(server_->sandbox().SecretValue("app/templated")->reveal());
  EXPECT_EQ(doc["who"], "alice");
}

TEST_F(DestinationsTest, SecretsManagerErrorsNameTheSpecNotTheSecret) {
  // A caller without Secrets Manager rights.
  auto user = server_->sandbox().CreateUserWithKey("nobody");
  ASSERT_TRUE(user.ok());
  ASSERT_TRUE(server_->sandbox().SetUserPermissions("nobody", sandbox::UserPermissions::kNone).ok());
  auto factory = testing::SandboxClients(server_->endpoint(), &transport_, user->access_key_id, user->secret);
  auto dest = MakeDestination("secretsmanager:app/denied", factory, {});
  ASSERT_TRUE(dest.ok());
  Status put = (*dest)->Put(Key(0));
  seen_.push_back(put);
  EXPECT_FALSE(put.ok());
  EXPECT_NE(put.ToString().find("secretsmanager:app/denied"), std::string::npos) << put.ToString();
  EXPECT_EQ(put.ToString().find(user->secret.reveal()), std::string::npos);
}

TEST_F(DestinationsTest, SsmPutIsIdempotentAndRestorePutsTheValueBack) {
  auto dest = Make("ssm:/app/alice");
  ASSERT_TRUE(dest);
  auto empty = dest->Snapshot(Key(0));
  ASSERT_TRUE(Ok(empty));
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(Ok(dest->Put(Key(0))));
  auto ssm = Factory().Ssm().value();
  auto p = ssm.GetParameter("/app/alice");
  ASSERT_TRUE(Ok(p));
  EXPECT_EQ(p->type, "SecureString");
  EXPECT_TRUE(p->value.reveal() ==
              std::string("{\"AccessKey\":\"") + kKeyIds[0] + "\",\"SecretKey\":\"" + kSecrets[0] + "\"}");
  ASSERT_TRUE(Ok(dest->Put(Key(0))));  // a retry adds no version
  EXPECT_EQ(ssm.GetParameter("/app/alice")->version, p->version);

  auto snap = dest->Snapshot(Key(1));
  ASSERT_TRUE(Ok(snap));
  ASSERT_FALSE(snap->empty());
  ASSERT_TRUE(Ok(dest->Put(Key(1))));
  EXPECT_NE(server_->sandbox().ParameterValue("/app/alice")->reveal().find(kKeyIds[1]), std::string::npos);
  ASSERT_TRUE(Ok(dest->Restore(Key(1), *snap)));
  EXPECT_TRUE(*server_->sandbox().ParameterValue("/app/alice") == p->value);
  int64_t restored_version = ssm.GetParameter("/app/alice")->version;
  ASSERT_TRUE(Ok(dest->Restore(Key(1), *snap)));  // twice: nothing to do
  EXPECT_EQ(ssm.GetParameter("/app/alice")->version, restored_version);

  // An empty snapshot (the parameter was new) leaves it, and says OK.
  auto fresh = Make("ssm:fresh-param");
  ASSERT_TRUE(Ok(fresh->Put(Key(2))));
  ASSERT_TRUE(Ok(fresh->Restore(Key(2), Secret())));
  EXPECT_TRUE(server_->sandbox().ParameterValue("fresh-param").has_value());

  // Someone changed it since: not overwritten.
  ASSERT_TRUE(Ok(dest->Put(Key(2))));
  ASSERT_TRUE(Ok(ssm.PutParameter("/app/alice", Secret("{\"other\":1}"))));
  Status refused = dest->Restore(Key(2), *snap);
  seen_.push_back(refused);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
}

class VaultCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("keyrotor-vault-cli");
    env_ = {{"HOME", dir_}};
    path_ = dir_ + "/vault";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Put(const std::string& name, int i) {
    destinations::VaultEntry e;
    e.access_key_id = kKeyIds[i];
    e.secret_access_key = Secret(kSecrets[i]);
    e.user = "alice";
    e.created = ParseIso8601("2026-11-25T01:02:03Z").value();
    ASSERT_TRUE(destinations::Vault::Open(path_)->Put(name, e).ok());
  }
  void ExpectNoSecret(const std::string& text) {
    for (const char* s : kSecrets) EXPECT_EQ(text.find(s), std::string::npos) << "a secret was printed";
  }

  std::string dir_, path_;
  std::map<std::string, std::string> env_;
};

TEST_F(VaultCliTest, GetPrintsTheKeyOnStdoutInEachFormat) {
  Put("app", 0);
  auto json = testing::RunProcess({testing::KeyrotorBinary(), "vault", "get", path_, "app"}, env_);
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.err, "");
  auto doc = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["Version"], 1);
  EXPECT_EQ(doc["AccessKeyId"], kKeyIds[0]);
  EXPECT_TRUE(doc["SecretAccessKey"] == kSecrets[0]);

  // The only entry is the default.
  auto creds = testing::RunProcess(
      {testing::KeyrotorBinary(), "vault", "get", path_, "--format", "credentials", "--key-file", path_ + ".key"},
      env_);
  EXPECT_EQ(creds.exit_code, 0) << creds.err;
  EXPECT_TRUE(creds.out == std::string("[app]\naws_access_key_id = ") + kKeyIds[0] +
                               "\naws_secret_access_key = " + kSecrets[0] + "\n");

  auto env = testing::RunProcess({testing::KeyrotorBinary(), "vault", "get", path_, "app", "--format", "env"}, env_);
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_NE(env.out.find(std::string("export AWS_SECRET_ACCESS_KEY='") + kSecrets[0] + "'"), std::string::npos);
}

TEST_F(VaultCliTest, ListShowsNoSecretsAndErrorsGoToStderr) {
  Put("app", 0);
  Put("ci", 1);
  auto list = testing::RunProcess({testing::KeyrotorBinary(), "vault", "list", path_}, env_);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(kKeyIds[0]), std::string::npos);
  EXPECT_NE(list.out.find("ci"), std::string::npos);
  ExpectNoSecret(list.out + list.err);

  // Two entries and none named; an entry that is not there; a missing key file; no vault at all.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"vault", "get", path_}, std::vector<std::string>{"vault", "get", path_, "nope"},
        std::vector<std::string>{"vault", "get", path_, "app", "--key-file", dir_ + "/missing.key"},
        std::vector<std::string>{"vault", "list", dir_ + "/no-vault"}}) {
    args.insert(args.begin(), testing::KeyrotorBinary());
    auto r = testing::RunProcess(args, env_);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("keyrotor: error:"), std::string::npos);
    ExpectNoSecret(r.out + r.err);
  }
}

}  // namespace
}  // namespace keyrotor
