#include "destinations/vault_kv_destination.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "support/fake_vault.h"
#include "support/process.h"

namespace keyrotor::destinations {
namespace {

using nlohmann::json;

constexpr char kVaultAwsSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzVAULTKV01";
constexpr char kVaultAwsSecret2[] = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbVAULTKV02";
constexpr char kVaultToken[] = "hvs.FAKEtokenForKeyrotorVaultKvTests0001";
constexpr char kVaultReadOnlyToken[] = "hvs.FAKEreadOnlyTokenForKeyrotorTests02";
constexpr char kVaultSecretId[] = "9b8f7e6d-FAKE-secret-id-0000000000a1";
constexpr char kVaultRoleId[] = "role-id-keyrotor-1";

KeyHandoff VaultKey(const char* id = "AKIAIOSFODNN7VAULTK1", const char* secret = kVaultAwsSecret) {
  KeyHandoff key;
  key.rotation_id = "rot-vkv-1";
  key.account = "123456789012";
  key.user = "app-deployer";
  key.access_key_id = id;
  key.secret_access_key = Secret(secret);
  key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
  key.previous_access_key_id = "AKIAIOSFODNN7PREVIOUS";
  return key;
}

Status CheckAccessStatus(Destination& d) {
  Result<std::string> r = d.CheckAccess();
  return r.ok() ? Status::Ok() : r.status();
}

class VaultKvDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vaultkv-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    testing::FakeVault::Options options;
    options.clock = &clock_;
    fake_ = testing::FakeVault::Start(options);
    SetUpVault(*fake_);
  }
  void TearDown() override {
    for (const std::string& m : messages_) ExpectNoLeak(m);
    std::filesystem::remove_all(dir_);
  }

  static void SetUpVault(testing::FakeVault& fake) {
    fake.AddKvMount("", "secret");
    fake.AddPolicy("rotator", {{"secret/data/team/*", {"create", "read", "update", "delete"}},
                               {"team-a/secret/data/*", {"create", "read", "update", "delete"}}});
    fake.AddPolicy("reader", {{"secret/data/team/*", {"read"}}});
    fake.AddToken(kVaultToken, {"rotator"});
    fake.AddToken(kVaultReadOnlyToken, {"reader"});
  }

  void ExpectNoLeak(const std::string& text) {
    for (const char* s : {kVaultAwsSecret, kVaultAwsSecret2, kVaultToken, kVaultReadOnlyToken, kVaultSecretId, "hvs.",
                          "eyJ"}) {
      EXPECT_EQ(text.find(s), std::string::npos) << "leaked in: " << text;
    }
  }
  // Every status a test sees is kept and scanned for secrets at the end.
  Status Seen(Status s) {
    messages_.push_back(s.ToString());
    return s;
  }

  aws::ClientFactory Aws() {
    aws::ClientContext ctx;
    ctx.transport = &transport_;
    ctx.clock = &clock_;
    return aws::ClientFactory(ctx, "us-east-1", {}, {});
  }

  DestinationOptions Options() {
    DestinationOptions o;
    o.vault_kv_env = {{"VAULT_ADDR", fake_->addr()}, {"VAULT_TOKEN", kVaultToken}};
    return o;
  }

  Result<std::unique_ptr<Destination>> Make(std::string_view spec, const DestinationOptions& o) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(spec, Aws(), o);
    if (!d.ok()) (void)Seen(d.status());
    return d;
  }
  std::unique_ptr<Destination> MakeOk(std::string_view spec, const DestinationOptions& o) {
    Result<std::unique_ptr<Destination>> d = Make(spec, o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  std::unique_ptr<Destination> MakeOk(std::string_view spec = "vault-kv:secret/team/app") {
    return MakeOk(spec, Options());
  }

  json Data(const std::string& path = "team/app", const std::string& ns = "") {
    return fake_->Data(ns, "secret", path).value_or(json());
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  FakeClock clock_{std::chrono::system_clock::now()};
  aws::CurlTransport transport_;
  std::unique_ptr<testing::FakeVault> fake_;
  std::filesystem::path dir_;
  std::vector<std::string> messages_;
};

TEST_F(VaultKvDestinationTest, MalformedSpecsAreRefusedNamingTheSpec) {
  for (const char* spec : {"vault-kv:", "vault-kv:secret", "vault-kv:secret/", "vault-kv:/app", "vault-kv:secret//app",
                           "vault-kv:secret/../app", "vault-kv:secret/app/..", "vault-kv:secret/./app",
                           "vault-kv:secret/app b", "vault-kv:secret/app?version=2", "vault-kv:secret/app#x",
                           "vault-kv:secret/a%2Fb"}) {
    Result<std::unique_ptr<Destination>> d = Make(spec, Options());
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(d.status().message().find(spec), std::string::npos) << d.status().ToString();
    EXPECT_FALSE(DestinationRequirements(spec, Options()).ok()) << spec;
  }
  Result<VaultKvTarget> t = ParseVaultKvSpec("kv-prod/team/app/aws");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->mount, "kv-prod");
  EXPECT_EQ(t->path, "team/app/aws");
  EXPECT_EQ(t->DataPath(), "kv-prod/data/team/app/aws");

  Result<std::vector<std::string>> req = DestinationRequirements("vault-kv:secret/team/app", Options());
  ASSERT_TRUE(req.ok());
  ASSERT_FALSE(req->empty());
  EXPECT_NE(req->front().find(R"(path "secret/data/team/app" { capabilities = ["create", "update", "read", "delete"] })"),
            std::string::npos)
      << req->front();

  Result<std::unique_ptr<Destination>> unknown = Make("vaultkv:secret/app", Options());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("vault-kv"), std::string::npos);
  // vault: is still keyrotor's own vault file.
  Result<std::unique_ptr<Destination>> local = MakeDestination("vault:" + (dir_ / "v.vault").string(), Aws(), Options());
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ((*local)->Describe().substr(0, 6), "vault:");
}

TEST_F(VaultKvDestinationTest, BadSettingsAreRefusedBeforeAnyKey) {
  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_ADDR"] = "http://vault.example.com:8200";
  Result<std::unique_ptr<Destination>> http = Make("vault-kv:secret/team/app", o);
  ASSERT_FALSE(http.ok());
  EXPECT_NE(http.status().message().find("plain http"), std::string::npos) << http.status().ToString();

  o = Options();
  o.vault_kv_env["VAULT_SKIP_VERIFY"] = "1";
  Result<std::unique_ptr<Destination>> skip = Make("vault-kv:secret/team/app", o);
  ASSERT_FALSE(skip.ok());
  EXPECT_EQ(skip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(skip.status().message().find("VAULT_SKIP_VERIFY"), std::string::npos) << skip.status().ToString();

  o = Options();
  o.vault_kv_env.erase("VAULT_TOKEN");
  o.vault_kv_env["HOME"] = dir_.string();  // no .vault-token there
  Result<std::unique_ptr<Destination>> none = Make("vault-kv:secret/team/app", o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("VAULT_TOKEN"), std::string::npos) << none.status().ToString();

  o = Options();
  o.vault_kv_auth = "approle";
  o.vault_kv_role_id = kVaultRoleId;
  o.vault_kv_secret_id_file = (dir_ / "missing").string();
  EXPECT_FALSE(Make("vault-kv:secret/team/app", o).ok());
  o.vault_kv_auth = "userpass";
  Result<std::unique_ptr<Destination>> method = Make("vault-kv:secret/team/app", o);
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("userpass"), std::string::npos);
}

TEST_F(VaultKvDestinationTest, FirstWriteThenUpdateKeepOtherFields) {
  std::unique_ptr<Destination> d = MakeOk();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->ReadsBack());
  EXPECT_EQ(d->Describe(), "vault-kv:secret/team/app");
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(Data(), (json{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7VAULTK1"}, {"AWS_SECRET_ACCESS_KEY", kVaultAwsSecret}}));
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 1);
  EXPECT_TRUE(fake_->all_marked_vault_request());

  // Someone adds a field; the next rotation keeps it.
  json with_db = Data();
  with_db["DB_PASSWORD"] = "kept";
  fake_->Write("", "secret", "team/app", with_db);
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(Data(), (json{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7VAULTK2"},
                          {"AWS_SECRET_ACCESS_KEY", kVaultAwsSecret2},
                          {"DB_PASSWORD", "kept"}}));
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 3);

  // Again (a retry after a crash): already there, nothing written.
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 3);
}

TEST_F(VaultKvDestinationTest, WorksOnAMountThatRequiresCas) {
  fake_->AddKvMount("", "strict", /*cas_required=*/true);
  fake_->AddToken("hvs.root-for-strict", {"root"});
  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_TOKEN"] = "hvs.root-for-strict";
  std::unique_ptr<Destination> d = MakeOk("vault-kv:strict/app", o);
  ASSERT_TRUE(d && Seen(d->Put(VaultKey())).ok());
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(fake_->Data("", "strict", "app").value()["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK2");
  EXPECT_EQ(fake_->CurrentVersion("", "strict", "app"), 2);
}

TEST_F(VaultKvDestinationTest, ValueTemplateFieldsAreWritten) {
  DestinationOptions o = Options();
  o.value_template = R"({"aws_access_key_id":"{{access_key_id}}","aws_secret_access_key":"{{secret_access_key}}",)"
                     R"("user":"{{user}}"})";
  fake_->Write("", "secret", "team/app", {{"other", "x"}});
  std::unique_ptr<Destination> d = MakeOk("vault-kv:secret/team/app", o);
  ASSERT_TRUE(d && Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(Data(), (json{{"aws_access_key_id", "AKIAIOSFODNN7VAULTK1"},
                          {"aws_secret_access_key", kVaultAwsSecret},
                          {"user", "app-deployer"},
                          {"other", "x"}}));
  o.value_template = R"("{{secret_access_key}}")";  // not an object
  std::unique_ptr<Destination> scalar = MakeOk("vault-kv:secret/team/app", o);
  Status put = Seen(scalar->Put(VaultKey()));
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument) << put.ToString();
}

TEST_F(VaultKvDestinationTest, ConcurrentWriterMakesCasMismatchThenConverges) {
  fake_->Write("", "secret", "team/app", {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}, {"AWS_SECRET_ACCESS_KEY", "old"}});
  // Lands between our read and our write.
  fake_->WriteBeforeNextWrite("", "secret", "team/app",
                              {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}, {"AWS_SECRET_ACCESS_KEY", "old"}, {"NEW", "theirs"}});
  std::unique_ptr<Destination> d = MakeOk();
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(Data(), (json{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7VAULTK1"},
                          {"AWS_SECRET_ACCESS_KEY", kVaultAwsSecret},
                          {"NEW", "theirs"}}));
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 3);
  std::vector<std::string> r = fake_->requests();
  EXPECT_EQ(std::count(r.begin(), r.end(), "POST /v1/secret/data/team/app"), 2);  // the refused one, then ours
}

TEST_F(VaultKvDestinationTest, SnapshotRestoreRoundTrip) {
  json before = {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}, {"AWS_SECRET_ACCESS_KEY", "old-secret"}, {"KEEP", "1"}};
  fake_->Write("", "secret", "team/app", before);
  std::unique_ptr<Destination> d = MakeOk();
  Result<Secret> snap = d->Snapshot(VaultKey());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  json s = json::parse(snap->reveal());
  EXPECT_EQ(s["existed"], true);
  EXPECT_EQ(s["version"], 1);
  EXPECT_FALSE(s["fields"].contains("KEEP"));  // only what keyrotor manages
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  ASSERT_TRUE(Seen(d->Restore(VaultKey(), *snap)).ok());
  EXPECT_EQ(Data(), before);
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 3);
  // Repeated: nothing more to do.
  ASSERT_TRUE(Seen(d->Restore(VaultKey(), *snap)).ok());
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 3);
}

TEST_F(VaultKvDestinationTest, RestoreWhenAbsentBeforeDeletesOrRemovesOurFields) {
  std::unique_ptr<Destination> d = MakeOk();
  Result<Secret> snap = d->Snapshot(VaultKey());
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(json::parse(snap->reveal())["existed"], false);
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  ASSERT_TRUE(Seen(d->Restore(VaultKey(), *snap)).ok());
  EXPECT_FALSE(fake_->Data("", "secret", "team/app").has_value());  // latest version soft-deleted: 404 as before
  ASSERT_TRUE(Seen(d->Restore(VaultKey(), *snap)).ok());            // idempotent
  std::vector<std::string> r = fake_->requests();
  EXPECT_EQ(std::count(r.begin(), r.end(), "DELETE /v1/secret/data/team/app"), 1);
  // A deleted latest version still counts for cas: the next Put writes version 2 over it.
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 2);
  EXPECT_EQ(Data()["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK1");

  // A field someone added after our Put stays; only ours go.
  std::unique_ptr<Destination> d2 = MakeOk("vault-kv:secret/team/other");
  Result<Secret> snap2 = d2->Snapshot(VaultKey());
  ASSERT_TRUE(snap2.ok());
  ASSERT_TRUE(Seen(d2->Put(VaultKey())).ok());
  json now = Data("team/other");
  now["THEIRS"] = "x";
  fake_->Write("", "secret", "team/other", now);
  ASSERT_TRUE(Seen(d2->Restore(VaultKey(), *snap2)).ok());
  EXPECT_EQ(Data("team/other"), (json{{"THEIRS", "x"}}));
}

TEST_F(VaultKvDestinationTest, RestoreIsRefusedWhenSuperseded) {
  fake_->Write("", "secret", "team/app", {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}, {"AWS_SECRET_ACCESS_KEY", "old"}});
  std::unique_ptr<Destination> d = MakeOk();
  Result<Secret> snap = d->Snapshot(VaultKey());
  ASSERT_TRUE(snap.ok());
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  json newer = {{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7VAULTK2"}, {"AWS_SECRET_ACCESS_KEY", kVaultAwsSecret2}};
  fake_->Write("", "secret", "team/app", newer);
  Status restored = Seen(d->Restore(VaultKey(), *snap));
  EXPECT_EQ(restored.code(), StatusCode::kFailedPrecondition) << restored.ToString();
  EXPECT_NE(restored.message().find("superseded"), std::string::npos);
  EXPECT_EQ(Data(), newer);
}

TEST_F(VaultKvDestinationTest, NamespaceHeaderSelectsADifferentSecret) {
  fake_->AddNamespace("team-a");
  fake_->AddKvMount("team-a", "secret");
  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_NAMESPACE"] = "team-a/";
  std::unique_ptr<Destination> d = MakeOk("vault-kv:secret/app", o);
  ASSERT_TRUE(d && Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(Data("app", "team-a")["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK1");
  EXPECT_FALSE(fake_->Data("", "secret", "app").has_value());
  EXPECT_EQ(fake_->requests().back(), "POST /v1/secret/data/app ns=team-a");

  o.vault_kv_namespace = "team-b";  // the option wins over the env; no such namespace
  std::unique_ptr<Destination> missing = MakeOk("vault-kv:secret/app", o);
  Status put = Seen(missing->Put(VaultKey()));
  EXPECT_EQ(put.code(), StatusCode::kNotFound) << put.ToString();
  EXPECT_NE(put.message().find("namespace not found"), std::string::npos) << put.ToString();
}

TEST_F(VaultKvDestinationTest, TokenFromFileEnvOrHelperFile) {
  // The read-only token everywhere but the source under test, so a wrong pick fails.
  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_TOKEN"] = kVaultReadOnlyToken;
  o.vault_kv_token_file = WriteFile("token", std::string("  ") + kVaultToken + "\n");
  ASSERT_TRUE(Seen(MakeOk("vault-kv:secret/team/a", o)->Put(VaultKey())).ok());

  o = Options();
  ASSERT_TRUE(Seen(MakeOk("vault-kv:secret/team/b", o)->Put(VaultKey())).ok());

  o = Options();
  o.vault_kv_env.erase("VAULT_TOKEN");
  o.vault_kv_env["HOME"] = dir_.string();
  WriteFile(".vault-token", kVaultToken);
  ASSERT_TRUE(Seen(MakeOk("vault-kv:secret/team/c", o)->Put(VaultKey())).ok());
  for (const char* p : {"team/a", "team/b", "team/c"}) EXPECT_EQ(Data(p)["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK1");

  o = Options();
  o.vault_kv_env["VAULT_TOKEN"] = kVaultReadOnlyToken;
  Status denied = Seen(MakeOk("vault-kv:secret/team/d", o)->Put(VaultKey()));
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied) << denied.ToString();
  EXPECT_NE(denied.message().find("permission denied"), std::string::npos) << denied.ToString();
}

TEST_F(VaultKvDestinationTest, AppRoleLoginAndReloginWhenTheTokenExpires) {
  fake_->AddAppRole(kVaultRoleId, kVaultSecretId, {"rotator"}, std::chrono::seconds(600));
  DestinationOptions o = Options();
  o.vault_kv_env.erase("VAULT_TOKEN");
  o.vault_kv_auth = "approle";
  o.vault_kv_role_id = kVaultRoleId;
  o.vault_kv_secret_id_file = WriteFile("secret_id", kVaultSecretId);
  std::unique_ptr<Destination> d = MakeOk("vault-kv:secret/team/app", o);
  ASSERT_TRUE(d && Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(fake_->logins(), 1);
  EXPECT_EQ(fake_->requests().front(), "POST /v1/auth/approle/login");

  // Revoked mid-run: 403, one new login, the call goes through.
  fake_->ExpireLoginTokens();
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(fake_->logins(), 2);
  // Near the end of the lease: a new login before the next call.
  clock_.Advance(std::chrono::seconds(500));
  ASSERT_TRUE(Seen(CheckAccessStatus(*d)).ok());
  EXPECT_EQ(fake_->logins(), 3);
  EXPECT_EQ(Data()["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK2");

  o.vault_kv_secret_id_file = WriteFile("wrong", "not-the-secret-id");
  Status bad = Seen(MakeOk("vault-kv:secret/team/app", o)->Put(VaultKey()));
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.ToString();
  EXPECT_NE(bad.message().find("invalid role or secret ID"), std::string::npos) << bad.ToString();
}

TEST_F(VaultKvDestinationTest, KubernetesLoginWithAServiceAccountJwt) {
  fake_->AddKubernetesRole("rotator", "ops", "keyrotor", {"rotator"}, std::chrono::seconds(300));
  DestinationOptions o = Options();
  o.vault_kv_env.erase("VAULT_TOKEN");
  o.vault_kv_auth = "kubernetes";
  o.vault_kv_role = "rotator";
  o.vault_kv_jwt_file = WriteFile("sa-token", fake_->IssueServiceAccountJwt("ops", "keyrotor"));
  std::unique_ptr<Destination> d = MakeOk("vault-kv:secret/team/app", o);
  ASSERT_TRUE(d && Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(fake_->requests().front(), "POST /v1/auth/kubernetes/login");
  fake_->ExpireLoginTokens();
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(fake_->logins(), 2);

  // Another service account, an expired token, a forged signature: refused.
  std::string forged = fake_->IssueServiceAccountJwt("ops", "keyrotor");
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  for (const std::string& jwt : {fake_->IssueServiceAccountJwt("ops", "intruder"),
                                 fake_->IssueServiceAccountJwt("ops", "keyrotor", std::chrono::seconds(-10)), forged}) {
    o.vault_kv_jwt_file = WriteFile("bad-token", jwt);
    Status s = Seen(MakeOk("vault-kv:secret/team/app", o)->Put(VaultKey()));
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  }
}

TEST_F(VaultKvDestinationTest, TlsWithVaultCacert) {
  testing::FakeVault::Options options;
  options.clock = &clock_;
  options.tls = true;
  options.cert_path = (dir_ / "vault-ca.pem").string();
  std::unique_ptr<testing::FakeVault> tls = testing::FakeVault::Start(options);
  SetUpVault(*tls);
  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_ADDR"] = tls->addr();
  o.vault_kv_env["VAULT_CACERT"] = options.cert_path;
  std::unique_ptr<Destination> d = MakeOk("vault-kv:secret/team/app", o);
  ASSERT_TRUE(d && Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(tls->Data("", "secret", "team/app").value()["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK1");

  // Without the CA the certificate does not verify.
  o.vault_kv_env.erase("VAULT_CACERT");
  Status untrusted = Seen(MakeOk("vault-kv:secret/team/app", o)->Put(VaultKey()));
  EXPECT_FALSE(untrusted.ok());
  o.vault_kv_env["VAULT_CACERT"] = options.cert_path;
  o.vault_kv_env["VAULT_SKIP_VERIFY"] = "true";
  EXPECT_FALSE(Make("vault-kv:secret/team/app", o).ok());
}

TEST_F(VaultKvDestinationTest, UnknownOutcomeAndRefusalsThenConverge) {
  std::unique_ptr<Destination> d = MakeOk();
  // The write is applied, the answer lost: the retry meets its own version
  // (cas mismatch), reads again and finds the key there.
  fake_->QueueFault({"POST", "secret/data", 0, "", true, ""});
  ASSERT_TRUE(Seen(d->Put(VaultKey())).ok());
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 1);
  EXPECT_EQ(Data()["AWS_SECRET_ACCESS_KEY"], kVaultAwsSecret);
  std::vector<std::string> r = fake_->requests();
  EXPECT_EQ(std::count(r.begin(), r.end(), "POST /v1/secret/data/team/app"), 2);  // applied + the refused resend

  // A standby and a sealed answer, then success.
  fake_->QueueFault({"GET", "", 429, "", false, ""});
  fake_->QueueFault({"POST", "", 503, "Vault is sealed", false, ""});
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(fake_->CurrentVersion("", "secret", "team/app"), 2);

  // Retry-After is waited (on the injected clock), up to a bound.
  TimePoint before = clock_.Now();
  fake_->QueueFault({"GET", "", 429, "rate limit quota exceeded", false, "5"});
  ASSERT_TRUE(Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2))).ok());
  EXPECT_EQ(clock_.Now() - before, std::chrono::seconds(5));
  fake_->QueueFault({"GET", "", 429, "rate limit quota exceeded", false, "3600"});
  Status limited = Seen(d->Put(VaultKey("AKIAIOSFODNN7VAULTK2", kVaultAwsSecret2)));
  EXPECT_EQ(limited.code(), StatusCode::kNetworkError) << limited.ToString();
  EXPECT_NE(limited.message().find("3600 s"), std::string::npos) << limited.ToString();

  // Sealed throughout: not applied, transient, and it says so.
  for (int i = 0; i < 4; ++i) fake_->QueueFault({"", "", 503, "Vault is sealed", false, ""});
  Status sealed = Seen(d->Put(VaultKey()));
  EXPECT_EQ(sealed.code(), StatusCode::kNetworkError) << sealed.ToString();
  EXPECT_NE(sealed.message().find("Vault is sealed"), std::string::npos) << sealed.ToString();
  EXPECT_EQ(Data()["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7VAULTK2");
}

TEST_F(VaultKvDestinationTest, MissingMountIsAnErrorNotAnAbsentSecret) {
  fake_->AddToken("hvs.root-token-x", {"root"});
  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_TOKEN"] = "hvs.root-token-x";
  Status put = Seen(MakeOk("vault-kv:nosuch/app", o)->Put(VaultKey()));
  EXPECT_EQ(put.code(), StatusCode::kNotFound) << put.ToString();
  EXPECT_NE(put.message().find("no handler for route"), std::string::npos) << put.ToString();
}

TEST_F(VaultKvDestinationTest, CheckAccessAsksCapabilitiesSelf) {
  Result<std::string> ok = MakeOk()->CheckAccess();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE(ok->find("secret/data/team/app"), std::string::npos) << *ok;
  EXPECT_NE(ok->find("create, delete, read, update"), std::string::npos) << *ok;
  EXPECT_EQ(fake_->requests().back(), "POST /v1/sys/capabilities-self");

  DestinationOptions o = Options();
  o.vault_kv_env["VAULT_TOKEN"] = kVaultReadOnlyToken;
  Result<std::string> denied = MakeOk("vault-kv:secret/team/app", o)->CheckAccess();
  ASSERT_FALSE(denied.ok());
  (void)Seen(denied.status());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("create, update"), std::string::npos) << denied.status().ToString();
  EXPECT_EQ(fake_->Data("", "secret", "team/app"), std::nullopt);  // nothing written
}

// hvac (python3-hvac, the Python client many Vault users run) against the
// fake, for the calls keyrotor makes: a KV v2 write with cas, the refusal of
// a stale cas, a read of the latest version, a 404 for an absent secret;
// then keyrotor and hvac see each other's writes.
TEST_F(VaultKvDestinationTest, HvacSeesTheFakeAsVault) {
  const std::string script = WriteFile("hvac_check.py", R"PY(
import sys
import hvac
addr, token_file = sys.argv[1], sys.argv[2]
with open(token_file) as f:
    token = f.read().strip()
client = hvac.Client(url=addr, token=token)
kv = client.secrets.kv.v2
if len(sys.argv) > 3:
    after = kv.read_secret_version(path="team/hvac", mount_point="secret")["data"]
    print("after", after["metadata"]["version"], after["data"]["AWS_ACCESS_KEY_ID"], after["data"]["OTHER"])
    sys.exit(0)
created = kv.create_or_update_secret(path="team/hvac", secret={"OTHER": "from-hvac"}, cas=0, mount_point="secret")
print("created", created["data"]["version"])
try:
    kv.create_or_update_secret(path="team/hvac", secret={"OTHER": "again"}, cas=0, mount_point="secret")
    print("cas not enforced")
except hvac.exceptions.InvalidRequest as e:
    print("cas refused", "check-and-set parameter did not match the current version" in str(e))
read = kv.read_secret_version(path="team/hvac", mount_point="secret")
print("read", read["data"]["metadata"]["version"], read["data"]["data"]["OTHER"])
try:
    kv.read_secret_version(path="team/absent", mount_point="secret")
    print("absent found")
except hvac.exceptions.InvalidPath:
    print("absent 404")
)PY");
  const std::string token_file = WriteFile("hvac-token", kVaultToken);
  testing::ProcessResult run = testing::RunProcess({"/usr/bin/python3", script, fake_->addr(), token_file}, {}, 60);
  messages_.push_back(run.out + run.err);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "created 1\ncas refused True\nread 1 from-hvac\nabsent 404\n");

  ASSERT_TRUE(Seen(MakeOk("vault-kv:secret/team/hvac")->Put(VaultKey())).ok());
  testing::ProcessResult after =
      testing::RunProcess({"/usr/bin/python3", script, fake_->addr(), token_file, "after"}, {}, 60);
  messages_.push_back(after.out + after.err);
  ASSERT_EQ(after.exit_code, 0) << after.err;
  // keyrotor read hvac's version 1, kept its field and wrote version 2.
  EXPECT_NE(after.out.find("after 2 AKIAIOSFODNN7VAULTK1 from-hvac"), std::string::npos) << after.out;
}

}  // namespace
}  // namespace keyrotor::destinations
