#include "credentials/chain.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "credentials/sso_provider.h"
#include "net/http_server.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor::credentials {
namespace {

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sandbox::SandboxServer::Start({});
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    admin_ = server_->sandbox().CreateAdmin("chain-admin");
    dir_ = keyrotor::testing::MakeTempDir("keyrotor-chain");
    env_ = {{"HOME", dir_},
            {"AWS_CONFIG_FILE", dir_ + "/config"},
            {"AWS_SHARED_CREDENTIALS_FILE", dir_ + "/credentials"},
            {"AWS_EC2_METADATA_DISABLED", "true"},
            {"PATH", "/usr/bin:/bin"}};
    clients_ = std::make_unique<aws::ClientFactory>(keyrotor::testing::SandboxClients(server_->endpoint(), &transport_));
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(AtomicWriteFile(dir_ + "/" + name, text, {}).ok());
  }
  std::string AdminKeys() {
    return "aws_access_key_id = " + admin_.access_key_id + "\naws_secret_access_key = " + admin_.secret.reveal() + "\n";
  }
  Result<ResolvedCredentials> Resolve(const std::string& profile = "", MfaTokenCallback mfa = nullptr) {
    auto files = SharedFiles::Load(env_);
    if (!files.ok()) return files.status();
    files_ = std::make_unique<SharedFiles>(std::move(files).value());
    auto settings = ResolveSettings(env_, *files_, {profile, "", ""});
    if (!settings.ok()) return settings.status();
    ChainContext ctx;
    ctx.env = env_;
    ctx.files = files_.get();
    ctx.settings = *settings;
    ctx.unsigned_clients = clients_.get();
    ctx.transport = &transport_;
    ctx.mfa_token = std::move(mfa);
    return ResolveCredentialChain(ctx);
  }
  // The ARN the resolved credentials answer as.
  std::string Arn(const ResolvedCredentials& r) {
    auto who = clients_->WithCredentials(r.provider).Sts()->GetCallerIdentity();
    EXPECT_TRUE(who.ok()) << who.status().ToString();
    return who.ok() ? who->arn : "";
  }
  void ExpectNoSecret(const std::string& text) {
    EXPECT_EQ(text.find(admin_.secret.reveal()), std::string::npos) << "secret in: " << "(message withheld)";
  }

  aws::CurlTransport transport_;
  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  std::string dir_;
  EnvMap env_;
  std::unique_ptr<aws::ClientFactory> clients_;
  std::unique_ptr<SharedFiles> files_;
};

TEST_F(ChainTest, EnvironmentFirstUnlessAProfileIsNamed) {
  Write("credentials", "[default]\n" + AdminKeys() + "[other]\n" + AdminKeys());
  env_["AWS_ACCESS_KEY_ID"] = "AKIAFROMENVIRONMENT0";
  env_["AWS_SECRET_ACCESS_KEY"] = "x";
  auto r = Resolve();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source, "environment");
  auto named = Resolve("other");
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_NE(named->source.find("profile other"), std::string::npos) << named->source;
  EXPECT_EQ(Arn(*named), "arn:aws:iam::123456789012:user/chain-admin");
  EXPECT_TRUE(Resolve("missing").status().IsNotFound());
}

TEST_F(ChainTest, RoleFromSourceProfileAndChainsOfRoles) {
  Write("credentials", "[base]\n" + AdminKeys());
  Write("config",
        "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = base\n"
        "role_session_name = rotation\nexternal_id = ext-1\n"
        "[profile deep]\nrole_arn = arn:aws:iam::123456789012:role/deep\nsource_profile = ops\n");
  auto ops = Resolve("ops");
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  EXPECT_NE(ops->source.find("assume-role arn:aws:iam::123456789012:role/ops"), std::string::npos) << ops->source;
  EXPECT_NE(ops->source.find("from profile base"), std::string::npos) << ops->source;
  auto creds = ops->provider->GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_TRUE(creds->IsTemporary());
  EXPECT_EQ(Arn(*ops), "arn:aws:sts::123456789012:assumed-role/ops/rotation");
  auto deep = Resolve("deep");
  ASSERT_TRUE(deep.ok()) << deep.status().ToString();
  EXPECT_NE(Arn(*deep).find("assumed-role/deep/"), std::string::npos);
}

TEST_F(ChainTest, CyclesAndContradictionsAreRefusedWithTheirPlace) {
  Write("config",
        "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = a\n"
        "[profile both]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = a\n"
        "credential_source = Environment\n"
        "[profile none]\nrole_arn = arn:aws:iam::123456789012:role/y\n"
        "[profile bad]\nrole_arn = arn:aws:iam::123456789012:role/z\ncredential_source = Laptop\n");
  auto cycle = Resolve("a");
  ASSERT_FALSE(cycle.ok());
  EXPECT_NE(cycle.status().ToString().find("cycle (a -> b -> a)"), std::string::npos) << cycle.status().ToString();
  auto both = Resolve("both");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().ToString().find(dir_ + "/config:10"), std::string::npos) << both.status().ToString();
  auto none = Resolve("none");
  EXPECT_NE(none.status().ToString().find("neither source_profile nor credential_source"), std::string::npos);
  auto bad = Resolve("bad");
  EXPECT_NE(bad.status().ToString().find("'Laptop' is not one of"), std::string::npos) << bad.status().ToString();
}

TEST_F(ChainTest, CredentialSourceEnvironment) {
  Write("config", "[profile envrole]\nrole_arn = arn:aws:iam::123456789012:role/envrole\n"
                  "credential_source = Environment\n");
  env_["AWS_ACCESS_KEY_ID"] = admin_.access_key_id;
  env_["AWS_SECRET_ACCESS_KEY"] = admin_.secret.reveal();
  auto r = Resolve("envrole");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(Arn(*r).find("assumed-role/envrole/"), std::string::npos);
}

TEST_F(ChainTest, CredentialProcess) {
  std::string script = dir_ + "/creds.sh";
  Write("creds.sh", "#!/bin/sh\nprintf '{\"Version\": 1, \"AccessKeyId\": \"" + admin_.access_key_id +
                        "\", \"SecretAccessKey\": \"" + admin_.secret.reveal() + "\"}'\n");
  chmod(script.c_str(), 0700);
  Write("config", "[default]\ncredential_process = " + script + "\n");
  auto r = Resolve();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->source.find("credential_process (profile default"), std::string::npos) << r->source;
  EXPECT_EQ(Arn(*r), "arn:aws:iam::123456789012:user/chain-admin");
}

TEST_F(ChainTest, MfaProfilesAskForTheCodeOrSayHow) {
  Write("credentials", "[base]\n" + AdminKeys());
  Write("config", "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/guarded\nsource_profile = base\n"
                  "mfa_serial = arn:aws:iam::123456789012:mfa/admin\n");
  auto no_prompt = Resolve("mfa");
  ASSERT_FALSE(no_prompt.ok());
  EXPECT_NE(no_prompt.status().ToString().find("--mfa-token"), std::string::npos);
  int asked = 0;
  auto r = Resolve("mfa", [&]() -> Result<std::string> {
    ++asked;
    return std::string("123456");
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(Arn(*r).find("assumed-role/guarded/"), std::string::npos);
  EXPECT_EQ(asked, 1);
  // Cached: the code is not asked again while the session lasts.
  ASSERT_TRUE(r->provider->GetCredentials().ok());
  EXPECT_EQ(asked, 1);
}

TEST_F(ChainTest, WebIdentityFromTheEnvironment) {
  Write("token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.sig");
  env_["AWS_WEB_IDENTITY_TOKEN_FILE"] = dir_ + "/token";
  env_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/ci";
  env_["AWS_ROLE_SESSION_NAME"] = "pipeline";
  auto r = Resolve();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Arn(*r), "arn:aws:sts::123456789012:assumed-role/ci/pipeline");
}

TEST_F(ChainTest, SettingsOnlyProfileFallsThroughToContainerThenInstance) {
  Write("config", "[default]\nregion = eu-west-1\n");
  auto r = Resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("instance metadata is disabled"), std::string::npos) << r.status().ToString();
  env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:9/creds";
  auto container = Resolve();
  ASSERT_TRUE(container.ok()) << container.status().ToString();
  EXPECT_EQ(container->source, "container credentials");
  env_.erase("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  env_.erase("AWS_EC2_METADATA_DISABLED");
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9";
  auto imds = Resolve();
  ASSERT_TRUE(imds.ok());
  auto fetched = imds->provider->GetCredentials();
  ASSERT_FALSE(fetched.ok());
  EXPECT_NE(fetched.status().ToString().find("no credentials found (environment, profile 'default'"),
            std::string::npos)
      << fetched.status().ToString();
}

// A fake IAM Identity Center portal: GetRoleCredentials for one bearer token.
class SsoChainTest : public ChainTest {
 protected:
  void SetUp() override {
    ChainTest::SetUp();
    auto portal = net::HttpServer::Start({}, [this](const aws::HttpRequest& req, net::ResponseControl&) {
      aws::HttpResponse r;
      seen_.push_back(req.url);
      const std::string* bearer = aws::FindHeader(req.headers, "x-amz-sso_bearer_token");
      if (!bearer || *bearer != kToken) {
        r.status = 401;
        r.body = R"({"message":"Session token not found or invalid"})";
        r.headers.emplace_back("x-amzn-ErrorType", "UnauthorizedException");
        return r;
      }
      r.status = 200;
      r.body = R"({"roleCredentials":{"accessKeyId":"ASIASSOEXAMPLE000000","secretAccessKey":")" + std::string(kSsoSecret) +
               R"(","sessionToken":"sso-session-token","expiration":)" +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  (Clock::Real()->Now() + std::chrono::hours(1)).time_since_epoch())
                                  .count()) +
               "}}";
      return r;
    });
    ASSERT_TRUE(portal.ok());
    portal_ = std::move(portal).value();
    env_["AWS_ENDPOINT_URL_SSO"] = portal_->endpoint();
    std::filesystem::create_directories(dir_ + "/.aws/sso/cache");
  }
  void TearDown() override {
    portal_->Stop();
    ChainTest::TearDown();
  }
  // The CLI's cache file for `key` (session name or start URL), as `aws sso login` writes it.
  void WriteToken(const std::string& key, const std::string& token, TimePoint expires) {
    SsoOptions o;
    o.session_name = key;
    o.cache_dir = dir_ + "/.aws/sso/cache";
    std::string path = SsoCredentialsProvider(nullptr, o).CacheFile();
    ASSERT_TRUE(AtomicWriteFile(path, R"({"startUrl":"https://corp.awsapps.com/start","region":"us-east-1",)"
                                      R"("accessToken":")" + token + R"(","expiresAt":")" + FormatIso8601(expires) +
                                          "\"}",
                                {})
                    .ok());
  }
  static constexpr char kToken[] = "sso-access-token-123";
  static constexpr char kSsoSecret[] = "SsoSecretKeyExampleSsoSecretKeyExample12";
  std::unique_ptr<net::HttpServer> portal_;
  std::vector<std::string> seen_;
};

constexpr char kSsoConfig[] =
    "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n"
    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n"
    "[profile legacy]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n"
    "sso_account_id = 123456789012\nsso_role_name = ReadOnly\n"
    "[profile incomplete]\nsso_session = corp\nsso_role_name = Admin\n";

TEST_F(SsoChainTest, SessionProfileExchangesTheCachedToken) {
  Write("config", kSsoConfig);
  WriteToken("corp", kToken, Clock::Real()->Now() + std::chrono::hours(8));
  auto r = Resolve("sso");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "sso");
  EXPECT_NE(r->source.find("SSO role Admin in 123456789012 (profile sso, "), std::string::npos) << r->source;
  auto creds = r->provider->GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIASSOEXAMPLE000000");
  EXPECT_TRUE(creds->IsTemporary());
  ASSERT_TRUE(creds->expiration.has_value());
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_NE(seen_[0].find("/federation/credentials?account_id=123456789012&role_name=Admin"), std::string::npos);
}

TEST_F(SsoChainTest, LegacyProfileUsesTheStartUrlCacheKey) {
  Write("config", kSsoConfig);
  WriteToken("https://corp.awsapps.com/start", kToken, Clock::Real()->Now() + std::chrono::hours(8));
  auto r = Resolve("legacy");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->provider->GetCredentials().ok());
}

TEST_F(SsoChainTest, ExpiredMissingOrRefusedTokensSayHowToLogIn) {
  Write("config", kSsoConfig);
  auto missing = Resolve("sso");
  ASSERT_TRUE(missing.ok());
  auto no_token = missing->provider->GetCredentials();
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.status().ToString().find("aws sso login --profile sso"), std::string::npos)
      << no_token.status().ToString();

  WriteToken("corp", kToken, Clock::Real()->Now() - std::chrono::minutes(1));
  auto expired = Resolve("sso")->provider->GetCredentials();
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().ToString().find("expired"), std::string::npos) << expired.status().ToString();

  WriteToken("corp", "revoked-token", Clock::Real()->Now() + std::chrono::hours(1));
  auto refused = Resolve("sso")->provider->GetCredentials();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().ToString().find("refused the SSO token"), std::string::npos);
  for (const auto* s : {&no_token, &expired, &refused}) {
    EXPECT_EQ(s->status().ToString().find("revoked-token"), std::string::npos);
    EXPECT_EQ(s->status().ToString().find(kToken), std::string::npos);
  }
  auto incomplete = Resolve("incomplete");
  ASSERT_FALSE(incomplete.ok());
  EXPECT_NE(incomplete.status().ToString().find("config:14"), std::string::npos) << incomplete.status().ToString();
}

TEST_F(ChainTest, CredentialsFileOverridesConfigFile) {
  Write("config", "[profile dev]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = c\n");
  Write("credentials", "[dev]\n" + AdminKeys());
  auto r = Resolve("dev");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->source.find("credentials:2"), std::string::npos) << r->source;
  EXPECT_EQ(r->provider->GetCredentials()->access_key_id, admin_.access_key_id);
  // AWS_PROFILE picks the profile but does not displace environment keys (botocore).
  env_["AWS_PROFILE"] = "dev";
  env_["AWS_ACCESS_KEY_ID"] = "AKIAFROMENVIRONMENT0";
  env_["AWS_SECRET_ACCESS_KEY"] = "x";
  EXPECT_EQ(Resolve()->source, "environment");
}

TEST_F(ChainTest, ErrorsNeverHoldTheSecret) {
  Write("credentials", "[half]\naws_secret_access_key = " + admin_.secret.reveal() + "\n");
  auto r = Resolve("half");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("credentials:2"), std::string::npos) << r.status().ToString();
  ExpectNoSecret(r.status().ToString());
}

}  // namespace
}  // namespace keyrotor::credentials
