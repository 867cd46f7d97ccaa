#include "destinations/gitlab_destination.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "base/strings.h"
#include "support/fake_gitlab.h"
#include "support/process.h"

namespace keyrotor::destinations {
namespace {

constexpr char kGitlabAwsSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzGITLABKEY";
constexpr char kGitlabAwsSecret2[] = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbSECONDKEY1";
constexpr char kGitlabToken[] = "glpat-FAKEtokenForKeyrotorTests01";
constexpr char kGitlabReadToken[] = "glpat-FAKEreadApiTokenForTests02";
constexpr char kGitlabDevToken[] = "glpat-FAKEdeveloperTokenTests003";

KeyHandoff GitlabKey(const char* secret = kGitlabAwsSecret) {
  KeyHandoff key;
  key.rotation_id = "rot-gl-1";
  key.account = "123456789012";
  key.user = "ci-deployer";
  key.access_key_id = "AKIAIOSFODNN7GITLAB1";
  key.secret_access_key = Secret(secret);
  key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
  return key;
}

void ExpectGitlabNoLeak(const std::string& text) {
  for (const char* secret : {kGitlabAwsSecret, kGitlabAwsSecret2, kGitlabToken, kGitlabReadToken, kGitlabDevToken}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
  }
  EXPECT_EQ(text.find("glpat-"), std::string::npos) << text;
}

class GitlabDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = testing::FakeGitlab::Start(&clock_);
    fake_->AddToken(kGitlabToken, {{"api"}, 7, false, std::nullopt});
    fake_->AddToken(kGitlabReadToken, {{"read_api"}, 7, false, std::nullopt});
    fake_->AddToken(kGitlabDevToken, {{"api"}, 8, false, std::nullopt});
    fake_->AddProject(11, "acme/app");
    fake_->AddProject(12, "acme/platform/api");
    fake_->AddGroup(21, "acme");
    fake_->AddGroup(22, "acme/platform");
    for (const char* scope : {"projects/11", "projects/12"}) fake_->SetRole(7, scope, 40);
    fake_->SetRole(7, "groups/21", 50);
    fake_->SetRole(7, "groups/22", 40);    // Maintainer: not enough for group variables
    fake_->SetRole(8, "projects/11", 30);  // Developer
    fake_->SetRole(8, "groups/21", 30);
  }

  aws::ClientFactory Aws() {
    aws::ClientContext ctx;
    ctx.transport = &transport_;
    ctx.clock = &clock_;
    return aws::ClientFactory(ctx, "us-east-1", {}, {});
  }

  DestinationOptions Options(const char* token = kGitlabToken) {
    DestinationOptions o;
    o.gitlab_api_url = fake_->api_url();
    o.gitlab_env = {{"GITLAB_TOKEN", token}};
    return o;
  }

  std::unique_ptr<Destination> MakeOk(std::string_view spec, const DestinationOptions& options) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(spec, Aws(), options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  std::unique_ptr<Destination> MakeOk(std::string_view spec) { return MakeOk(spec, Options()); }

  std::string Value(const std::string& scope, const std::string& key, const std::string& env = "*") {
    auto v = fake_->Stored(scope, key, env);
    return v ? v->value : "<none>";
  }

  FakeClock clock_{std::chrono::system_clock::now()};
  aws::CurlTransport transport_;
  std::unique_ptr<testing::FakeGitlab> fake_;
};

TEST(GitlabSpecTest, ParsesOptionsIdsAndEncodesPaths) {
  Result<GitlabTarget> t = ParseGitlabSpec("gitlab", "acme/app");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(t->group);
  EXPECT_TRUE(t->masked);
  EXPECT_TRUE(t->protected_);
  EXPECT_EQ(t->environment_scope, "*");
  EXPECT_EQ(t->ApiPath(), "/projects/acme%2Fapp");

  t = ParseGitlabSpec("gitlab", "acme/app#AWS_CREDS?masked=false&protected=false&environment_scope=review%2F*");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->key, "AWS_CREDS");
  EXPECT_FALSE(t->masked);
  EXPECT_FALSE(t->protected_);
  EXPECT_EQ(t->environment_scope, "review/*");

  EXPECT_EQ(ParseGitlabSpec("gitlab", "42").value().ApiPath(), "/projects/42");
  EXPECT_EQ(ParseGitlabSpec("gitlab", "acme/platform/my.api-2").value().ApiPath(),
            "/projects/acme%2Fplatform%2Fmy.api-2");
  EXPECT_EQ(ParseGitlabSpec("gitlab-group", "acme/platform").value().ApiPath(), "/groups/acme%2Fplatform");
  EXPECT_EQ(ParseGitlabSpec("gitlab-group", "acme").value().ApiPath(), "/groups/acme");

  EXPECT_TRUE(GitlabMaskable(kGitlabAwsSecret));
  EXPECT_TRUE(GitlabMaskable("AKIAIOSFODNN7GITLAB1"));
  EXPECT_FALSE(GitlabMaskable("short"));
  EXPECT_FALSE(GitlabMaskable(R"({"AccessKey":"x"})"));
  EXPECT_FALSE(GitlabMaskable("has a space"));
}

TEST_F(GitlabDestinationTest, MalformedSpecsAndSettingsAreRefusedBeforeAnyKey) {
  struct Case {
    std::string spec;
    std::string says;
  };
  std::vector<Case> cases = {
      {"gitlab:acme/app#BAD-KEY", "only letters, digits and '_'"},
      {"gitlab:acme/app#" + std::string(256, 'K'), "at most 255"},
      {"gitlab:acme/app#", "empty"},
      {"gitlab:acme/app#AWS_CREDS", "cannot mask"},  // JSON, masked by default
      {"gitlab:acme/app#AWS_CREDS?masked=true&protected=false", "masked=false"},
      {"gitlab:acme/app?masked=yes", "not true or false"},
      {"gitlab:acme/app?visibility=all", "unknown option 'visibility'"},
      {"gitlab:acme/app?environment_scope=", "environment scope"},
      {"gitlab:app", "namespace"},
      {"gitlab:", "empty"},
      {"gitlab:acme//app", "full path"},
      {"gitlab:acme/../app", "full path"},
      {"gitlab-group:", "empty"},
      {"gitlab-group:acme/pl atform", "full path"},
  };
  for (const Case& c : cases) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(c.spec, Aws(), Options());
    ASSERT_FALSE(d.ok()) << c.spec;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << c.spec;
    EXPECT_NE(d.status().message().find(c.spec), std::string::npos) << d.status().ToString();
    EXPECT_NE(d.status().message().find(c.says), std::string::npos) << d.status().ToString();
  }
  EXPECT_TRUE(fake_->requests().empty());

  DestinationOptions o = Options();
  o.gitlab_api_url = "http://gitlab.example.com/api/v4";
  Result<std::unique_ptr<Destination>> http = MakeDestination("gitlab:acme/app", Aws(), o);
  ASSERT_FALSE(http.ok());
  EXPECT_NE(http.status().message().find("plain http"), std::string::npos) << http.status().ToString();
  o.gitlab_api_url = "ftp://gitlab.example.com";
  EXPECT_EQ(MakeDestination("gitlab:acme/app", Aws(), o).status().code(), StatusCode::kInvalidArgument);

  // CI_API_V4_URL when no URL is configured, as GitLab CI sets it.
  o = Options();
  o.gitlab_api_url.clear();
  o.gitlab_env["CI_API_V4_URL"] = "http://gitlab.internal.example/api/v4";
  Result<std::unique_ptr<Destination>> ci = MakeDestination("gitlab:acme/app", Aws(), o);
  ASSERT_FALSE(ci.ok());
  EXPECT_NE(ci.status().message().find("gitlab.internal.example"), std::string::npos) << ci.status().ToString();

  o = Options();
  o.gitlab_env = {{"CI_JOB_TOKEN", "job-token-value-0001"}};
  Result<std::unique_ptr<Destination>> job = MakeDestination("gitlab:acme/app", Aws(), o);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("job token cannot write CI/CD variables"), std::string::npos)
      << job.status().ToString();
  EXPECT_EQ(job.status().message().find("job-token-value-0001"), std::string::npos);

  o.gitlab_env.clear();
  Result<std::unique_ptr<Destination>> none = MakeDestination("gitlab:acme/app", Aws(), o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("GITLAB_TOKEN"), std::string::npos) << none.status().ToString();
}

TEST_F(GitlabDestinationTest, TwoMaskedProtectedRawVariablesByDefault) {
  std::unique_ptr<Destination> d = MakeOk("gitlab:acme/app");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->ReadsBack());
  EXPECT_EQ(d->Describe(), "gitlab:acme/app");
  Result<Secret> snap = d->Snapshot(GitlabKey());
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());

  Status put = d->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  for (const char* key : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
    std::optional<testing::FakeGitlab::Variable> v = fake_->Stored("projects/11", key);
    ASSERT_TRUE(v.has_value()) << key;
    EXPECT_TRUE(v->masked);
    EXPECT_TRUE(v->protected_);
    EXPECT_TRUE(v->raw);
    EXPECT_EQ(v->variable_type, "env_var");
  }
  EXPECT_EQ(Value("projects/11", "AWS_ACCESS_KEY_ID"), "AKIAIOSFODNN7GITLAB1");
  EXPECT_EQ(Value("projects/11", "AWS_SECRET_ACCESS_KEY"), kGitlabAwsSecret);
  std::vector<std::string> want = {"POST /projects/acme%2Fapp/variables", "POST /projects/acme%2Fapp/variables"};
  EXPECT_EQ(fake_->requests(), want);  // never a GET of a value
  for (const std::string& t : fake_->tokens_seen()) EXPECT_EQ(t, kGitlabToken);

  Status restored = d->Restore(GitlabKey(), Secret());
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(restored.message().find("write-only"), std::string::npos) << restored.ToString();
  ExpectGitlabNoLeak(restored.ToString());
}

TEST_F(GitlabDestinationTest, SecondRotationUpdatesTheVariableInItsScopeOnly) {
  // The same key in another scope is a different variable, left alone.
  std::unique_ptr<Destination> all = MakeOk("gitlab:acme/app#AWS_CREDS?masked=false");
  ASSERT_TRUE(all->Put(GitlabKey()).ok());
  std::unique_ptr<Destination> prod =
      MakeOk("gitlab:acme/app#AWS_CREDS?masked=false&protected=false&environment_scope=production");
  Status put = prod->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  std::optional<testing::FakeGitlab::Variable> v = fake_->Stored("projects/11", "AWS_CREDS", "production");
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->masked);
  EXPECT_FALSE(v->protected_);
  EXPECT_TRUE(v->raw);
  EXPECT_EQ(nlohmann::json::parse(v->value)["SecretKey"], kGitlabAwsSecret);
  EXPECT_EQ(v->writes, 1);

  // The next rotation: POST says "has already been taken", PUT filtered by scope.
  put = prod->Put(GitlabKey(kGitlabAwsSecret2));
  ASSERT_TRUE(put.ok()) << put.ToString();
  v = fake_->Stored("projects/11", "AWS_CREDS", "production");
  EXPECT_EQ(v->writes, 2);
  EXPECT_EQ(nlohmann::json::parse(v->value)["SecretKey"], kGitlabAwsSecret2);
  EXPECT_EQ(nlohmann::json::parse(Value("projects/11", "AWS_CREDS"))["SecretKey"], kGitlabAwsSecret);
  std::vector<std::string> requests = fake_->requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests[requests.size() - 2], "POST /projects/acme%2Fapp/variables");
  EXPECT_EQ(requests.back(), "PUT /projects/acme%2Fapp/variables/AWS_CREDS?filter%5Benvironment_scope%5D=production");

  // The two-variable form, twice: both updated, still masked.
  std::unique_ptr<Destination> two = MakeOk("gitlab:11");
  ASSERT_TRUE(two->Put(GitlabKey()).ok());
  ASSERT_TRUE(two->Put(GitlabKey(kGitlabAwsSecret2)).ok());
  EXPECT_EQ(Value("projects/11", "AWS_SECRET_ACCESS_KEY"), kGitlabAwsSecret2);
  EXPECT_TRUE(fake_->Stored("projects/11", "AWS_SECRET_ACCESS_KEY")->masked);
  EXPECT_EQ(fake_->Stored("projects/11", "AWS_SECRET_ACCESS_KEY")->writes, 2);
}

TEST_F(GitlabDestinationTest, GroupAndSubgroupProjectPaths) {
  Status put = MakeOk("gitlab-group:acme")->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(Value("groups/21", "AWS_SECRET_ACCESS_KEY"), kGitlabAwsSecret);
  EXPECT_TRUE(fake_->Stored("groups/21", "AWS_SECRET_ACCESS_KEY")->masked);

  put = MakeOk("gitlab:acme/platform/api#DEPLOY?masked=false&environment_scope=review/*")->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(nlohmann::json::parse(Value("projects/12", "DEPLOY", "review/*"))["AccessKey"], "AKIAIOSFODNN7GITLAB1");
  EXPECT_EQ(fake_->requests().back(), "POST /projects/acme%2Fplatform%2Fapi/variables");

  // A group Maintainer may not write group variables: 403, naming the Owner role.
  Status denied = MakeOk("gitlab-group:acme/platform")->Put(GitlabKey());
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("Owner role"), std::string::npos) << denied.ToString();
  EXPECT_NE(denied.message().find("403 Forbidden"), std::string::npos) << denied.ToString();
  ExpectGitlabNoLeak(denied.ToString());

  std::vector<std::string> req = DestinationRequirements("gitlab-group:acme", Options()).value();
  EXPECT_EQ(req, (std::vector<std::string>{"GitLab token with the api scope", "Owner role on group acme"}));
  req = DestinationRequirements("gitlab:acme/app", Options()).value();
  EXPECT_EQ(req, (std::vector<std::string>{"GitLab token with the api scope", "Maintainer role on project acme/app"}));
  EXPECT_FALSE(DestinationRequirements("gitlab:acme/app#X", Options()).ok());  // JSON + masked
}

TEST_F(GitlabDestinationTest, AuthenticationAndPermissionErrorsAreNamed) {
  // A token that expires mid-run: the first rotation passes, the next is 401.
  fake_->AddToken("glpat-FAKEexpiringToken000004", {{"api"}, 7, false, clock_.Now() + std::chrono::hours(1)});
  std::unique_ptr<Destination> d = MakeOk("gitlab:acme/app", Options("glpat-FAKEexpiringToken000004"));
  ASSERT_TRUE(d->Put(GitlabKey()).ok());
  clock_.Advance(std::chrono::hours(2));
  Status expired = d->Put(GitlabKey(kGitlabAwsSecret2));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(expired.message().find("HTTP 401"), std::string::npos) << expired.ToString();
  EXPECT_NE(expired.message().find("Token has expired"), std::string::npos) << expired.ToString();
  EXPECT_NE(expired.message().find("expired or revoked"), std::string::npos) << expired.ToString();
  EXPECT_EQ(expired.message().find("glpat-FAKEexpiringToken000004"), std::string::npos);
  EXPECT_EQ(Value("projects/11", "AWS_SECRET_ACCESS_KEY"), kGitlabAwsSecret);

  struct Case {
    std::string spec;
    const char* token;
    StatusCode code;
    std::string says;
  };
  std::vector<Case> cases = {
      {"gitlab:acme/app", "glpat-unknownTokenNotInTheFake", StatusCode::kPermissionDenied, "401 Unauthorized"},
      {"gitlab:acme/app", kGitlabReadToken, StatusCode::kPermissionDenied, "insufficient_scope"},
      {"gitlab:acme/app", kGitlabDevToken, StatusCode::kPermissionDenied, "Maintainer role"},
      {"gitlab:acme/nothere", kGitlabToken, StatusCode::kNotFound, "project acme/nothere"},
      {"gitlab-group:nogroup", kGitlabToken, StatusCode::kNotFound, "404 Group Not Found"},
  };
  for (const Case& c : cases) {
    Status s = MakeOk(c.spec, Options(c.token))->Put(GitlabKey());
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_NE(s.message().find(c.spec), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.ToString();
    ExpectGitlabNoLeak(s.ToString());
  }
}

TEST_F(GitlabDestinationTest, RateLimitsAreWaitedOutOnTheClock) {
  std::unique_ptr<Destination> d = MakeOk("gitlab:acme/app#LIMITED?masked=false");
  fake_->QueueFault({"POST", 429, {{"Retry-After", "30"}, {"RateLimit-Remaining", "0"}}, "Retry later\n", false});
  TimePoint before = clock_.Now();
  Status put = d->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(clock_.Now() - before, std::chrono::seconds(30));

  // Only RateLimit-Reset (epoch seconds): waited until then.
  const int64_t reset = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count() + 45;
  fake_->QueueFault({"POST", 429, {{"RateLimit-Reset", std::to_string(reset)}}, "Retry later\n", false});
  before = clock_.Now();
  put = d->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_GE(clock_.Now() - before, std::chrono::seconds(44));
  EXPECT_LT(clock_.Now() - before, std::chrono::seconds(47));

  // Longer than keyrotor waits: at once, a transient error.
  fake_->QueueFault({"POST", 429, {{"Retry-After", "3600"}}, "Retry later\n", false});
  before = clock_.Now();
  Status limited = d->Put(GitlabKey());
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(clock_.Now(), before);
  EXPECT_EQ(limited.code(), StatusCode::kNetworkError);
  EXPECT_NE(limited.message().find("rate limited for another 3600 s"), std::string::npos) << limited.ToString();
  ExpectGitlabNoLeak(limited.ToString());

  // 5xx: retried with backoff, then an unknown outcome.
  fake_->QueueFault({"POST", 502, {}, R"({"message":"502 Bad Gateway"})", false});
  before = clock_.Now();
  ASSERT_TRUE(d->Put(GitlabKey()).ok());
  EXPECT_EQ(clock_.Now() - before, std::chrono::seconds(1));
  for (int i = 0; i < 5; ++i) fake_->QueueFault({"", 503, {}, R"({"message":"503 Service Unavailable"})", false});
  Status down = d->Put(GitlabKey());
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.code(), StatusCode::kUnknownOutcome) << down.ToString();
  EXPECT_NE(down.message().find("gave up after 5 attempts"), std::string::npos) << down.ToString();
}

TEST_F(GitlabDestinationTest, ResetAfterAnAppliedWriteConverges) {
  std::unique_ptr<Destination> d = MakeOk("gitlab:acme/app#UNKNOWN?masked=false");
  // The POST is applied, then the connection reset: the retried POST finds
  // the key taken and updates it with the same value.
  fake_->QueueFault({"POST", 0, {}, "", true});
  Status put = d->Put(GitlabKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(fake_->Stored("projects/11", "UNKNOWN")->writes, 2);
  EXPECT_EQ(nlohmann::json::parse(Value("projects/11", "UNKNOWN"))["SecretKey"], kGitlabAwsSecret);

  // The next rotation's PUT is applied, then reset: retried, same value.
  fake_->QueueFault({"PUT", 0, {}, "", true});
  put = d->Put(GitlabKey(kGitlabAwsSecret2));
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(fake_->Stored("projects/11", "UNKNOWN")->writes, 4);
  EXPECT_EQ(nlohmann::json::parse(Value("projects/11", "UNKNOWN"))["SecretKey"], kGitlabAwsSecret2);
  // The engine repeats the whole Put after a crash: still the same value.
  ASSERT_TRUE(d->Put(GitlabKey(kGitlabAwsSecret2)).ok());
  EXPECT_EQ(nlohmann::json::parse(Value("projects/11", "UNKNOWN"))["SecretKey"], kGitlabAwsSecret2);
}

TEST_F(GitlabDestinationTest, CheckAccessAsksTheTokenAndTheRole) {
  Result<std::string> ok = MakeOk("gitlab:acme/app")->CheckAccess();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE(ok->find("api scope"), std::string::npos) << *ok;
  EXPECT_NE(ok->find("access level 40 on project acme/app"), std::string::npos) << *ok;
  ok = MakeOk("gitlab-group:acme")->CheckAccess();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE(ok->find("access level 50 on group acme"), std::string::npos) << *ok;
  for (const std::string& r : fake_->requests()) EXPECT_TRUE(StartsWith(r, "GET ")) << r;  // writes nothing

  struct Case {
    std::string spec;
    const char* token;
    std::string says;
  };
  std::vector<Case> cases = {
      {"gitlab:acme/app", kGitlabReadToken, "lacks the api scope"},
      {"gitlab:acme/app", kGitlabDevToken, "Maintainer role (40)"},
      {"gitlab-group:acme/platform", kGitlabToken, "Owner role (50)"},
      {"gitlab-group:acme", kGitlabDevToken, "Owner role (50)"},
      {"gitlab:acme/app", "glpat-unknownTokenNotInTheFake", "expired or revoked"},
  };
  for (const Case& c : cases) {
    Result<std::string> s = MakeOk(c.spec, Options(c.token))->CheckAccess();
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied) << s.status().ToString();
    EXPECT_NE(s.status().message().find(c.says), std::string::npos) << s.status().ToString();
    ExpectGitlabNoLeak(s.status().ToString());
  }
  fake_->RevokeToken(kGitlabToken);
  Result<std::string> revoked = MakeOk("gitlab:acme/app")->CheckAccess();
  ASSERT_FALSE(revoked.ok());
  EXPECT_NE(revoked.status().message().find("revoked"), std::string::npos) << revoked.status().ToString();
}

TEST_F(GitlabDestinationTest, TokenFileWinsOverTheEnvironment) {
  std::string dir = testing::MakeTempDir("keyrotor-gitlab");
  ASSERT_TRUE(AtomicWriteFile(dir + "/token", std::string(kGitlabToken) + "\n").ok());
  DestinationOptions o = Options(kGitlabDevToken);
  o.gitlab_token_file = dir + "/token";
  ASSERT_TRUE(MakeOk("gitlab:acme/app", o)->Put(GitlabKey()).ok());
  EXPECT_EQ(fake_->tokens_seen().back(), kGitlabToken);
  o.gitlab_token_file = dir + "/missing";
  Result<std::unique_ptr<Destination>> missing = MakeDestination("gitlab:acme/app", Aws(), o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("token file"), std::string::npos) << missing.status().ToString();
  std::filesystem::remove_all(dir);
}

// python-gitlab (Debian's python3-gitlab, installed by scripts/install-deps)
// against the fake: the calls keyrotor makes (create, the duplicate's 400,
// update with the scope filter) and a paginated list, answered as GitLab
// does for a real client. The token reaches the script in a file, not its
// environment. Not skipped when python3-gitlab is missing: the test fails.
TEST_F(GitlabDestinationTest, PythonGitlabTalksToTheFake) {
  std::string dir = testing::MakeTempDir("keyrotor-python-gitlab");
  ASSERT_TRUE(AtomicWriteFile(dir + "/token", kGitlabToken).ok());
  ASSERT_TRUE(AtomicWriteFile(dir + "/client.py", R"PY(
import sys
import gitlab
url, token_file = sys.argv[1], sys.argv[2]
with open(token_file) as f:
    token = f.read().strip()
gl = gitlab.Gitlab(url, private_token=token)
project = gl.projects.get("acme/platform/api", lazy=True)
v = project.variables.create({"key": "FROM_PY", "value": "first-value-1", "masked": True,
                              "protected": True, "raw": True, "environment_scope": "production"})
print("created", v.key, v.masked, v.raw, v.environment_scope)
try:
    project.variables.create({"key": "FROM_PY", "value": "again-value", "environment_scope": "production"})
except gitlab.exceptions.GitlabCreateError as e:
    print("duplicate", e.response_code, e.error_message)
try:
    project.variables.create({"key": "BAD_MASK", "value": "{not maskable}", "masked": True})
except gitlab.exceptions.GitlabCreateError as e:
    print("mask", e.response_code, e.error_message)
project.variables.update("FROM_PY", {"value": "second-value-2", "masked": True},
                         filter={"environment_scope": "production"})
for i in range(3):
    project.variables.create({"key": "EXTRA_%d" % i, "value": "v%d" % i})
keys = sorted(x.key for x in project.variables.list(all=True, per_page=2))
print("list", ",".join(keys))
try:
    gitlab.Gitlab(url, private_token="glpat-wrong").projects.get("acme/app")
except gitlab.exceptions.GitlabAuthenticationError as e:
    print("unauthorized", e.response_code, e.error_message)
)PY")
                  .ok());
  testing::ProcessResult r =
      testing::RunProcess({"/usr/bin/python3", dir + "/client.py", fake_->base_url(), dir + "/token"},
                          {{"PATH", "/usr/bin:/bin"}, {"HOME", dir}, {"NO_PROXY", "127.0.0.1"}}, 60);
  ASSERT_EQ(r.exit_code, 0) << "python-gitlab failed (scripts/install-deps installs python3-gitlab)\n"
                            << r.out << r.err;
  EXPECT_NE(r.out.find("created FROM_PY True True production"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("duplicate 400 {'key': ['(FROM_PY) has already been taken']}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mask 400 {'value': ['is invalid']}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("list EXTRA_0,EXTRA_1,EXTRA_2,FROM_PY"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unauthorized 401 401 Unauthorized"), std::string::npos) << r.out;
  std::optional<testing::FakeGitlab::Variable> v = fake_->Stored("projects/12", "FROM_PY", "production");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->value, "second-value-2");
  EXPECT_TRUE(v->masked);
  EXPECT_EQ(v->writes, 2);
  // The paths python-gitlab sent are the ones keyrotor sends.
  std::vector<std::string> requests = fake_->requests();
  EXPECT_NE(std::find(requests.begin(), requests.end(), "POST /projects/acme%2Fplatform%2Fapi/variables"),
            requests.end());
  bool filtered_put = false;
  for (const std::string& req : requests) {
    if (StartsWith(req, "PUT /projects/acme%2Fplatform%2Fapi/variables/FROM_PY?") &&
        req.find("environment_scope") != std::string::npos)
      filtered_put = true;
  }
  EXPECT_TRUE(filtered_put);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor::destinations
