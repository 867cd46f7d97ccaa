#include "destinations/github_destination.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/file_util.h"
#include "base/subprocess.h"
#include "support/fake_github.h"
#include "support/process.h"

namespace keyrotor::destinations {
namespace {

constexpr char kGithubAwsSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzGITHUBKEY";
constexpr char kGithubTestToken[] = "ghp_FAKEtokenForKeyrotorTests000000000001";
constexpr char kGithubOtherToken[] = "github_pat_FAKEsecondTokenForTests0002";

KeyHandoff GithubKey() {
  KeyHandoff key;
  key.rotation_id = "rot-gh-1";
  key.account = "123456789012";
  key.user = "ci-deployer";
  key.access_key_id = "AKIAIOSFODNN7GITHUB1";
  key.secret_access_key = Secret(kGithubAwsSecret);
  key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
  return key;
}

// Neither the AWS secret, nor a GitHub token, nor an installation token, in a
// message anybody could read.
void ExpectGithubNoLeak(const std::string& text) {
  EXPECT_EQ(text.find(kGithubAwsSecret), std::string::npos) << text;
  EXPECT_EQ(text.find(kGithubTestToken), std::string::npos) << text;
  EXPECT_EQ(text.find(kGithubOtherToken), std::string::npos) << text;
  EXPECT_EQ(text.find("ghs_"), std::string::npos) << text;
  EXPECT_EQ(text.find("eyJ"), std::string::npos) << text;  // a JWT
}

class GithubDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::FakeGithub::Options options;
    options.clock = &clock_;
    fake_ = testing::FakeGithub::Start(options);
    fake_->AddToken(kGithubTestToken);
    fake_->AddRepo("acme", "app");
    fake_->AddEnvironment("acme", "app", "production");
    fake_->AddOrg("acme");
  }

  aws::ClientFactory Aws() {
    aws::ClientContext ctx;
    ctx.transport = &transport_;
    ctx.clock = &clock_;
    return aws::ClientFactory(ctx, "us-east-1", {}, {});
  }

  DestinationOptions Options() {
    DestinationOptions o;
    o.github_api_url = fake_->api_url();
    o.github_env = {{"GH_TOKEN", kGithubTestToken}};
    return o;
  }

  std::unique_ptr<Destination> MakeOk(std::string_view spec, const DestinationOptions& options) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(spec, Aws(), options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  std::unique_ptr<Destination> MakeOk(std::string_view spec) { return MakeOk(spec, Options()); }

  std::string StoredValue(const std::string& scope, const std::string& name) {
    auto s = fake_->Stored(scope, name);
    return s ? s->value : "<none>";
  }

  FakeClock clock_{std::chrono::system_clock::now()};
  aws::CurlTransport transport_;
  std::unique_ptr<testing::FakeGithub> fake_;
};

TEST(GithubSpecTest, ParsesRepositoryEnvironmentAndOrganization) {
  Result<GithubTarget> repo = ParseGithubSpec("github", "acme/app", "");
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_EQ(repo->scope, GithubTarget::Scope::kRepository);
  EXPECT_EQ(repo->SecretsPath(), "/repos/acme/app/actions/secrets");
  EXPECT_EQ(repo->name, "");

  Result<GithubTarget> named = ParseGithubSpec("github", "acme/my.app-2#aws_creds", "");
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->name, "AWS_CREDS");  // GitHub stores names upper case

  Result<GithubTarget> env = ParseGithubSpec("github", "acme/app@prod us#DEPLOY", "");
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->scope, GithubTarget::Scope::kEnvironment);
  EXPECT_EQ(env->environment, "prod us");
  EXPECT_EQ(env->SecretsPath(), "/repos/acme/app/environments/prod%20us/secrets");

  Result<GithubTarget> org = ParseGithubSpec("github-org", "acme#AWS?visibility=all", "");
  ASSERT_TRUE(org.ok()) << org.status().ToString();
  EXPECT_EQ(org->scope, GithubTarget::Scope::kOrganization);
  EXPECT_EQ(org->visibility, "all");
  EXPECT_EQ(org->SecretsPath(), "/orgs/acme/actions/secrets");
  EXPECT_EQ(ParseGithubSpec("github-org", "acme", "").value().visibility, "private");
  EXPECT_EQ(ParseGithubSpec("github-org", "acme", "selected").value().visibility, "selected");
}

TEST_F(GithubDestinationTest, MalformedSpecsAreRefusedNamingTheSpec) {
  for (const char* spec :
       {"github:owner", "github:owner/repo#", "github:/repo", "github:owner/", "github:owner/repo@#X",
        "github:owner/repo@", "github:owner/repo#GITHUB_TOKEN", "github:owner/repo#1KEY", "github:owner/repo#bad-name",
        "github:owner/repo#has space", "github:own_er/repo", "github:owner/re/po", "github:owner/repo?visibility=all",
        "github-org:", "github-org:acme#", "github-org:acme?visibility=public", "github-org:acme?kms_key_id=x",
        "github-org:acme/app"}) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(spec, Aws(), Options());
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(d.status().message().find(spec), std::string::npos) << d.status().ToString();
  }
  // The kinds are listed when one is unknown.
  Result<std::unique_ptr<Destination>> unknown = MakeDestination("bitbucket:acme/app", Aws(), Options());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("github-org"), std::string::npos) << unknown.status().ToString();
}

TEST_F(GithubDestinationTest, RefusesPlainHttpOffLoopbackAndMissingCredentials) {
  DestinationOptions o = Options();
  o.github_api_url = "http://github.example.com/api/v3";
  Result<std::unique_ptr<Destination>> http = MakeDestination("github:acme/app", Aws(), o);
  ASSERT_FALSE(http.ok());
  EXPECT_NE(http.status().message().find("plain http"), std::string::npos) << http.status().ToString();

  o = Options();
  o.github_env.clear();
  Result<std::unique_ptr<Destination>> none = MakeDestination("github:acme/app", Aws(), o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("GH_TOKEN"), std::string::npos) << none.status().ToString();

  o = Options();
  o.github_app_id = "123";  // without the key file and the installation
  Result<std::unique_ptr<Destination>> app = MakeDestination("github:acme/app", Aws(), o);
  ASSERT_FALSE(app.ok());
  EXPECT_NE(app.status().message().find("installation id"), std::string::npos) << app.status().ToString();
}

TEST_F(GithubDestinationTest, RepositoryGetsTwoSecretsByDefault) {
  std::unique_ptr<Destination> d = MakeOk("github:acme/app");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->ReadsBack());
  EXPECT_EQ(d->Describe(), "github:acme/app");
  Result<Secret> snap = d->Snapshot(GithubKey());
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());

  ASSERT_TRUE(d->Put(GithubKey()).ok());
  EXPECT_EQ(StoredValue("repos/acme/app", "AWS_ACCESS_KEY_ID"), "AKIAIOSFODNN7GITHUB1");
  EXPECT_EQ(StoredValue("repos/acme/app", "AWS_SECRET_ACCESS_KEY"), kGithubAwsSecret);
  std::vector<std::string> want = {"GET /repos/acme/app/actions/secrets/public-key",
                                   "PUT /repos/acme/app/actions/secrets/AWS_ACCESS_KEY_ID",
                                   "PUT /repos/acme/app/actions/secrets/AWS_SECRET_ACCESS_KEY"};
  EXPECT_EQ(fake_->requests(), want);
  for (const std::string& auth : fake_->authorizations()) EXPECT_EQ(auth, std::string("Bearer ") + kGithubTestToken);

  // Again (a retry after a crash): written again, same values.
  ASSERT_TRUE(d->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->Stored("repos/acme/app", "AWS_SECRET_ACCESS_KEY")->writes, 2);

  Status restored = d->Restore(GithubKey(), Secret());
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.code(), StatusCode::kFailedPrecondition);  // not "superseded"
  EXPECT_NE(restored.message().find("write-only"), std::string::npos) << restored.ToString();
  EXPECT_NE(restored.message().find("github:acme/app"), std::string::npos) << restored.ToString();
}

TEST_F(GithubDestinationTest, NamedSecretHoldsTheRenderedJson) {
  std::unique_ptr<Destination> d = MakeOk("github:acme/app#aws_credentials");
  ASSERT_TRUE(d && d->Put(GithubKey()).ok());
  nlohmann::json value = nlohmann::json::parse(StoredValue("repos/acme/app", "AWS_CREDENTIALS"));
  EXPECT_EQ(value["AccessKey"], "AKIAIOSFODNN7GITHUB1");
  EXPECT_EQ(value["SecretKey"], kGithubAwsSecret);
  EXPECT_FALSE(fake_->Stored("repos/acme/app", "AWS_ACCESS_KEY_ID").has_value());

  DestinationOptions o = Options();
  o.value_template = R"({"id":"{{access_key_id}}","secret":"{{secret_access_key}}","user":"{{user}}"})";
  std::unique_ptr<Destination> templated = MakeOk("github:acme/app#TEMPLATED", o);
  ASSERT_TRUE(templated && templated->Put(GithubKey()).ok());
  EXPECT_EQ(nlohmann::json::parse(StoredValue("repos/acme/app", "TEMPLATED"))["user"], "ci-deployer");
}

TEST_F(GithubDestinationTest, EnvironmentSecret) {
  std::unique_ptr<Destination> d = MakeOk("github:acme/app@production#AWS");
  ASSERT_TRUE(d);
  Status put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(nlohmann::json::parse(StoredValue("repos/acme/app/environments/production", "AWS"))["SecretKey"],
            kGithubAwsSecret);
  EXPECT_FALSE(fake_->Stored("repos/acme/app", "AWS").has_value());

  // An environment the repository does not have: 404, named.
  std::unique_ptr<Destination> missing = MakeOk("github:acme/app@staging#AWS");
  Status none = missing->Put(GithubKey());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), StatusCode::kNotFound);
  EXPECT_NE(none.message().find("github:acme/app@staging#AWS"), std::string::npos) << none.ToString();
}

TEST_F(GithubDestinationTest, OrganizationSecretWithVisibility) {
  ASSERT_TRUE(MakeOk("github-org:acme#ORG_DEFAULT")->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->Stored("orgs/acme", "ORG_DEFAULT")->visibility, "private");

  ASSERT_TRUE(MakeOk("github-org:acme#ORG_ALL?visibility=all")->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->Stored("orgs/acme", "ORG_ALL")->visibility, "all");

  DestinationOptions o = Options();
  o.github_visibility = "selected";
  std::unique_ptr<Destination> two = MakeOk("github-org:acme", o);
  ASSERT_TRUE(two && two->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->Stored("orgs/acme", "AWS_SECRET_ACCESS_KEY")->visibility, "selected");
  EXPECT_EQ(StoredValue("orgs/acme", "AWS_SECRET_ACCESS_KEY"), kGithubAwsSecret);
}

TEST_F(GithubDestinationTest, TokenFromGhTokenThenGithubTokenThenFile) {
  fake_->AddToken(kGithubOtherToken);
  DestinationOptions o = Options();
  // GH_TOKEN wins over GITHUB_TOKEN, as in the gh CLI.
  o.github_env = {{"GH_TOKEN", kGithubOtherToken}, {"GITHUB_TOKEN", kGithubTestToken}};
  ASSERT_TRUE(MakeOk("github:acme/app#A", o)->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->authorizations().back(), std::string("Bearer ") + kGithubOtherToken);

  o.github_env = {{"GH_TOKEN", ""}, {"GITHUB_TOKEN", kGithubTestToken}};  // empty counts as unset
  ASSERT_TRUE(MakeOk("github:acme/app#B", o)->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->authorizations().back(), std::string("Bearer ") + kGithubTestToken);

  // A token file (its trailing newline ignored) wins over the environment.
  std::string dir = testing::MakeTempDir("keyrotor-github");
  ASSERT_TRUE(AtomicWriteFile(dir + "/token", std::string(kGithubOtherToken) + "\n").ok());
  o.github_token_file = dir + "/token";
  ASSERT_TRUE(MakeOk("github:acme/app#C", o)->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->authorizations().back(), std::string("Bearer ") + kGithubOtherToken);

  o.github_token_file = dir + "/missing";
  Result<std::unique_ptr<Destination>> missing = MakeDestination("github:acme/app#D", Aws(), o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("token file"), std::string::npos) << missing.status().ToString();
  std::filesystem::remove_all(dir);
}

TEST_F(GithubDestinationTest, GithubAppTokenMintedFromAVerifiedJwtAndRefreshed) {
  std::string dir = testing::MakeTempDir("keyrotor-github-app");
  fake_->AddApp("424242", "777", dir + "/app.pem");
  DestinationOptions o = Options();
  o.github_env.clear();  // the App alone
  o.github_app_id = "424242";
  o.github_app_key_file = dir + "/app.pem";
  o.github_app_installation_id = "777";
  std::unique_ptr<Destination> d = MakeOk("github:acme/app", o);
  ASSERT_TRUE(d);
  Status put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(fake_->tokens_minted(), 1);  // one token for the GET and both PUTs
  EXPECT_EQ(StoredValue("repos/acme/app", "AWS_SECRET_ACCESS_KEY"), kGithubAwsSecret);
  EXPECT_EQ(fake_->requests().front(), "POST /app/installations/777/access_tokens");

  // 50 minutes on, the hour-long token is still good: no new one.
  clock_.Advance(std::chrono::minutes(50));
  ASSERT_TRUE(d->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->tokens_minted(), 1);
  // 56 minutes: within 5 minutes of its end, replaced before use.
  clock_.Advance(std::chrono::minutes(6));
  ASSERT_TRUE(d->Put(GithubKey()).ok());
  EXPECT_EQ(fake_->tokens_minted(), 2);
  // Revoked under us: a 401, one new token, the write goes through.
  fake_->RevokeInstallationTokens();
  put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(fake_->tokens_minted(), 3);

  // An installation the App does not have: 404 from the token exchange, named.
  o.github_app_installation_id = "999";
  Status no_installation = MakeOk("github:acme/app", o)->Put(GithubKey());
  ASSERT_FALSE(no_installation.ok());
  EXPECT_EQ(no_installation.code(), StatusCode::kNotFound) << no_installation.ToString();
  EXPECT_NE(no_installation.message().find("minting an installation token"), std::string::npos)
      << no_installation.ToString();
  ExpectGithubNoLeak(no_installation.ToString());
  o.github_app_installation_id = "777";

  // A key the fake does not know for the app: the JWT does not verify.
  std::string other = testing::MakeTempDir("keyrotor-github-app2");
  fake_->AddApp("555", "888", other + "/app.pem");
  o.github_app_key_file = other + "/app.pem";  // app 555's key, signing as 424242
  std::unique_ptr<Destination> wrong = MakeOk("github:acme/app", o);
  Status bad = wrong->Put(GithubKey());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(bad.message().find("JSON web token"), std::string::npos) << bad.ToString();
  ExpectGithubNoLeak(bad.ToString());
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other);
}

TEST_F(GithubDestinationTest, RotatedPublicKeyIsFetchedAgainOnce) {
  fake_->RotatePublicKeyBeforeNextPut("repos/acme/app");
  std::unique_ptr<Destination> d = MakeOk("github:acme/app#ROTATED");
  Status put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  std::vector<std::string> want = {
      "GET /repos/acme/app/actions/secrets/public-key", "PUT /repos/acme/app/actions/secrets/ROTATED",
      "GET /repos/acme/app/actions/secrets/public-key", "PUT /repos/acme/app/actions/secrets/ROTATED"};
  EXPECT_EQ(fake_->requests(), want);
  EXPECT_EQ(nlohmann::json::parse(StoredValue("repos/acme/app", "ROTATED"))["SecretKey"], kGithubAwsSecret);
}

TEST_F(GithubDestinationTest, ErrorsNameTheSpecAndGithubsMessageButNoSecret) {
  struct Case {
    std::string spec;
    testing::FakeGithub::Fault fault;  // status 0: none
    std::string token;
    StatusCode code;
    std::string says;
  };
  std::vector<Case> cases = {
      {"github:acme/app#X", {}, "ghp_wrongTokenNotKnownToTheFake000", StatusCode::kPermissionDenied, "Bad credentials"},
      {"github:acme/app#X",
       {"GET", 403, {}, "Resource not accessible by personal access token", false},
       kGithubTestToken,
       StatusCode::kPermissionDenied,
       "Resource not accessible by personal access token"},
      {"github:acme/nothere#X", {}, kGithubTestToken, StatusCode::kNotFound, "Not Found"},
      {"github:acme/app#X",
       {"PUT", 422, {}, "Invalid request.", false},
       kGithubTestToken,
       StatusCode::kInvalidArgument,
       "Invalid request."},
  };
  for (const Case& c : cases) {
    if (c.fault.status != 0) fake_->QueueFault(c.fault);
    DestinationOptions o = Options();
    o.github_env = {{"GITHUB_TOKEN", c.token}};
    std::unique_ptr<Destination> d = MakeOk(c.spec, o);
    Status s = d->Put(GithubKey());
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_NE(s.message().find(c.spec), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("HTTP " + std::to_string(c.fault.status                    ? c.fault.status
                                                        : c.code == StatusCode::kNotFound ? 404
                                                                                          : 401)),
              std::string::npos)
        << s.ToString();
    ExpectGithubNoLeak(s.ToString());
    EXPECT_EQ(s.ToString().find(c.token), std::string::npos) << s.ToString();
  }
}

TEST_F(GithubDestinationTest, RateLimitsAreWaitedOutOnTheClock) {
  std::unique_ptr<Destination> d = MakeOk("github:acme/app#LIMITED");
  // Secondary limit: 429 with retry-after.
  fake_->QueueFault({"PUT", 429, {{"retry-after", "30"}}, "You have exceeded a secondary rate limit", false});
  TimePoint before = clock_.Now();
  Status put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_GE(clock_.Now() - before, std::chrono::seconds(30));
  EXPECT_LT(clock_.Now() - before, std::chrono::seconds(31));

  // Primary limit: 403, x-ratelimit-remaining 0, reset in 45 s.
  const int64_t reset = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count() + 45;
  fake_->QueueFault({"GET",
                     403,
                     {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(reset)}},
                     "API rate limit exceeded for user ID 1.",
                     false});
  before = clock_.Now();
  put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_GE(clock_.Now() - before, std::chrono::seconds(44));
  EXPECT_LT(clock_.Now() - before, std::chrono::seconds(47));

  // A limit that lasts longer than keyrotor waits: fails at once, clearly.
  fake_->QueueFault({"GET", 429, {{"retry-after", "3600"}}, "You have exceeded a secondary rate limit", false});
  before = clock_.Now();
  Status limited = d->Put(GithubKey());
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(clock_.Now(), before);
  EXPECT_EQ(limited.code(), StatusCode::kNetworkError);  // not applied; may pass later
  EXPECT_NE(limited.message().find("rate limited for another 3600 s"), std::string::npos) << limited.ToString();
  EXPECT_NE(limited.message().find("github:acme/app#LIMITED"), std::string::npos) << limited.ToString();

  // Limited on every attempt: a bounded number of tries, then an error.
  for (int i = 0; i < 5; ++i) fake_->QueueFault({"GET", 429, {{"retry-after", "1"}}, "secondary rate limit", false});
  limited = d->Put(GithubKey());
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.code(), StatusCode::kNetworkError);
  EXPECT_NE(limited.message().find("gave up after 5 attempts"), std::string::npos) << limited.ToString();
  ExpectGithubNoLeak(limited.ToString());
}

TEST_F(GithubDestinationTest, ServerErrorsAreRetriedWithBackoffThenReportedAsUnknown) {
  std::unique_ptr<Destination> d = MakeOk("github:acme/app#FLAKY");
  fake_->QueueFault({"PUT", 502, {}, "Server Error", false});
  TimePoint before = clock_.Now();
  Status put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(clock_.Now() - before, std::chrono::seconds(1));  // one backoff step

  for (int i = 0; i < 5; ++i) fake_->QueueFault({"PUT", 503, {}, "Service Unavailable", false});
  Status down = d->Put(GithubKey());
  ASSERT_FALSE(down.ok());
  // A 5xx to a PUT may have been applied: the outcome is unknown, not "failed".
  EXPECT_EQ(down.code(), StatusCode::kUnknownOutcome) << down.ToString();
  EXPECT_NE(down.message().find("gave up after 5 attempts"), std::string::npos) << down.ToString();
  EXPECT_NE(down.message().find("HTTP 503"), std::string::npos) << down.ToString();
  ExpectGithubNoLeak(down.ToString());
}

TEST_F(GithubDestinationTest, TimeoutAfterPutIsRetriedAndTheValueHeld) {
  std::unique_ptr<Destination> d = MakeOk("github:acme/app#UNKNOWN_OUTCOME");
  // The PUT is applied, then the connection is reset before the answer.
  fake_->QueueFault({"PUT", 0, {}, "", true});
  Status put = d->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  std::optional<testing::FakeGithub::StoredSecret> stored = fake_->Stored("repos/acme/app", "UNKNOWN_OUTCOME");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->writes, 2);  // the first (unanswered) write and the retry
  EXPECT_EQ(nlohmann::json::parse(stored->value)["SecretKey"], kGithubAwsSecret);
}

// The tokens keyrotor reads from its environment never reach an exec:
// destination's or notifier's child (base/subprocess.h strips them).
TEST(GithubSealTest, TokensAreNotPassedToChildren) {
  EnvMap child = ChildEnvironment({{"PATH", "/usr/bin:/bin"},
                                   {"GH_TOKEN", kGithubTestToken},
                                   {"GITHUB_TOKEN", kGithubTestToken},
                                   {"GH_ENTERPRISE_TOKEN", kGithubTestToken},
                                   {"GITHUB_API_URL", "https://ghe.example.com/api/v3"}});
  EXPECT_FALSE(child.contains("GH_TOKEN"));
  EXPECT_FALSE(child.contains("GITHUB_TOKEN"));
  EXPECT_FALSE(child.contains("GH_ENTERPRISE_TOKEN"));
  EXPECT_TRUE(child.contains("GITHUB_API_URL"));
}

TEST(GithubSealTest, SealedValueOpensWithTheKeyPair) {
  // SealForGithub against libsodium's own open, without a server.
  std::string pk(32, '\0'), sk(32, '\0');
  ASSERT_EQ(sodium_init() >= 0, true);
  crypto_box_keypair(reinterpret_cast<unsigned char*>(pk.data()), reinterpret_cast<unsigned char*>(sk.data()));
  Result<std::string> sealed = SealForGithub(Secret("hello"), pk);
  ASSERT_TRUE(sealed.ok());
  std::string raw = Base64Decode(*sealed).value();
  std::string plain(raw.size() - crypto_box_SEALBYTES, '\0');
  ASSERT_EQ(crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()),
                                 reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                                 reinterpret_cast<const unsigned char*>(pk.data()),
                                 reinterpret_cast<const unsigned char*>(sk.data())),
            0);
  EXPECT_EQ(plain, "hello");
  EXPECT_FALSE(SealForGithub(Secret("x"), "short").ok());
}

// Over HTTPS, as GitHub Enterprise Server is reached (https://HOST/api/v3),
// the certificate trusted through the transport's CA bundle.
TEST(GithubTlsTest, WritesThroughHttpsUnderTheEnterpriseServerPrefix) {
  std::string dir = testing::MakeTempDir("keyrotor-github-tls");
  testing::FakeGithub::Options options;
  options.tls = true;
  options.cert_path = dir + "/fake-github.pem";
  std::unique_ptr<testing::FakeGithub> fake = testing::FakeGithub::Start(options);
  fake->AddToken(kGithubTestToken);
  fake->AddRepo("acme", "app");
  aws::CurlTransportOptions transport_options;
  transport_options.ca_bundle = options.cert_path;
  aws::CurlTransport transport(transport_options);
  aws::ClientContext ctx;
  ctx.transport = &transport;
  DestinationOptions o;
  o.github_env = {{"GITHUB_API_URL", fake->api_url() + "/api/v3/"}, {"GITHUB_TOKEN", kGithubTestToken}};
  Result<std::unique_ptr<Destination>> d =
      MakeDestination("github:acme/app", aws::ClientFactory(ctx, "us-east-1", {}, {}), o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Status put = (*d)->Put(GithubKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(fake->Stored("repos/acme/app", "AWS_SECRET_ACCESS_KEY").value_or(testing::FakeGithub::StoredSecret{}).value,
            kGithubAwsSecret);
  std::filesystem::remove_all(dir);
}

// The real gh CLI (Debian's gh, installed by scripts/install-deps) against
// the fake, served over HTTPS as a GitHub Enterprise Server host (gh speaks
// https to any host but github.com, under /api/v3). gh seals the value with
// Go's nacl box.SealAnonymous and the fake opens it with libsodium: the fake's
// public-key and PUT shapes and its crypto are the ones a real client uses.
// Not skipped when gh is missing: the test fails.
TEST(GithubGhCliTest, GhSecretSetAndGhApiTalkToTheFake) {
  std::string dir = testing::MakeTempDir("keyrotor-gh-cli");
  testing::FakeGithub::Options options;
  options.tls = true;
  options.cert_path = dir + "/fake-github.pem";
  std::unique_ptr<testing::FakeGithub> fake = testing::FakeGithub::Start(options);
  fake->AddToken(kGithubTestToken);
  fake->AddRepo("acme", "app");
  fake->AddEnvironment("acme", "app", "production");
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"HOME", dir},
      {"GH_CONFIG_DIR", dir + "/gh"},
      {"GH_HOST", fake->host()},
      {"GH_ENTERPRISE_TOKEN", kGithubTestToken},
      {"SSL_CERT_FILE", options.cert_path},
      {"GH_NO_UPDATE_NOTIFIER", "1"},
      {"GH_PROMPT_DISABLED", "1"},
      {"NO_COLOR", "1"},
  };
  testing::ProcessResult set =
      testing::RunProcess({"gh", "secret", "set", "FROM_GH", "--repo", "acme/app", "--body", "sealed by gh"}, env, 60);
  ASSERT_EQ(set.exit_code, 0) << "gh secret set failed (is gh installed? scripts/install-deps installs it)\n"
                              << set.out << set.err;
  EXPECT_EQ(fake->Stored("repos/acme/app", "FROM_GH").value_or(testing::FakeGithub::StoredSecret{}).value,
            "sealed by gh");
  testing::ProcessResult env_set = testing::RunProcess(
      {"gh", "secret", "set", "ENV_FROM_GH", "--repo", "acme/app", "--env", "production", "--body", "env value"}, env,
      60);
  ASSERT_EQ(env_set.exit_code, 0) << env_set.out << env_set.err;
  EXPECT_EQ(fake->Stored("repos/acme/app/environments/production", "ENV_FROM_GH")
                .value_or(testing::FakeGithub::StoredSecret{})
                .value,
            "env value");
  // gh sent its token as GitHub documents it ("token T"); the fake took it.
  for (const std::string& auth : fake->authorizations()) EXPECT_EQ(auth, std::string("token ") + kGithubTestToken);

  // gh api reads the public key keyrotor reads, in the shape keyrotor parses.
  // (GH_HOST names the fake: `gh api --hostname` refuses a host with a port.)
  testing::ProcessResult key = testing::RunProcess({"gh", "api", "repos/acme/app/actions/secrets/public-key"}, env, 60);
  ASSERT_EQ(key.exit_code, 0) << key.out << key.err;
  nlohmann::json doc = nlohmann::json::parse(key.out);
  EXPECT_EQ(doc["key_id"], fake->KeyId("repos/acme/app"));
  EXPECT_EQ(Base64Decode(doc["key"].get<std::string>()).value_or("").size(), 32u);

  // A bad token: gh reports GitHub's message from the fake's error document.
  env["GH_ENTERPRISE_TOKEN"] = "ghp_notKnown";
  testing::ProcessResult denied =
      testing::RunProcess({"gh", "secret", "set", "X", "--repo", "acme/app", "--body", "v"}, env, 60);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE((denied.out + denied.err).find("Bad credentials"), std::string::npos) << denied.out << denied.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor::destinations
