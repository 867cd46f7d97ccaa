#include "aws/client.h"

#include <gtest/gtest.h>

#include <sstream>

#include "aws/iam.h"
#include "aws/secretsmanager.h"
#include "aws/sts.h"
#include "support/fake_transport.h"

namespace keyrotor::aws {
namespace {

using keyrotor::testing::FakeTransport;

constexpr char kListEmpty[] =
    "<ListAccessKeysResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListAccessKeysResult>"
    "<AccessKeyMetadata/><IsTruncated>false</IsTruncated></ListAccessKeysResult>"
    "<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></ListAccessKeysResponse>";
constexpr char kListOrphan[] =
    "<ListAccessKeysResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListAccessKeysResult>"
    "<AccessKeyMetadata><member><UserName>alice</UserName><AccessKeyId>AKIAORPHAN0000000000</AccessKeyId>"
    "<Status>Active</Status><CreateDate>2026-11-22T19:19:26.968342Z</CreateDate></member></AccessKeyMetadata>"
    "<IsTruncated>false</IsTruncated></ListAccessKeysResult>"
    "<ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></ListAccessKeysResponse>";
constexpr char kCreated[] =
    "<CreateAccessKeyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateAccessKeyResult><AccessKey>"
    "<UserName>alice</UserName><AccessKeyId>AKIANEWKEY0000000000</AccessKeyId><Status>Active</Status>"
    "<SecretAccessKey>ECLsmKyQk3SJsLl2cW30gNgtddfJGTFKXdmCC1bP</SecretAccessKey>"
    "<CreateDate>2026-11-22T19:19:26.968342Z</CreateDate></AccessKey></CreateAccessKeyResult>"
    "<ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></CreateAccessKeyResponse>";
constexpr char kDeleted[] =
    "<DeleteAccessKeyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>"
    "<RequestId>r4</RequestId></ResponseMetadata></DeleteAccessKeyResponse>";
constexpr char kThrottled[] =
    "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>"
    "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t1</RequestId></ErrorResponse>";
constexpr char kLimit[] =
    "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>"
    "<Code>LimitExceeded</Code><Message>Cannot exceed quota for AccessKeysPerUser: 2</Message>"
    "<message>Cannot exceed quota for AccessKeysPerUser: 2</message></Error><RequestId>BCc</RequestId></ErrorResponse>";

class ClientTest : public ::testing::Test {
 protected:
  ClientContext Context() {
    ClientContext ctx;
    ctx.transport = &transport_;
    ctx.credentials = std::make_shared<StaticCredentialsProvider>(
        Credentials{"AKIAADMIN00000000000", Secret("adminsecret"), Secret(), std::nullopt, "test"});
    ctx.clock = &clock_;
    return ctx;
  }
  IamClient Iam() { return IamClient(Context(), {"http://127.0.0.1:1/", {"us-east-1", "iam"}, "test"}); }

  FakeTransport transport_;
  FakeClock clock_{TimePoint{} + std::chrono::hours(24 * 365 * 50)};
};

TEST_F(ClientTest, RetriesThrottlingWithBackoffThenSucceeds) {
  transport_.Push(400, kThrottled);
  transport_.Push(503, "<html>busy</html>");
  transport_.Push(200, kListEmpty);
  TimePoint start = clock_.Now();
  auto keys = Iam().ListAccessKeys("alice");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_TRUE(keys->empty());
  EXPECT_EQ(transport_.requests().size(), 3u);
  // Full jitter: between 0 and 1 s then 0 and 2 s, through the clock seam.
  EXPECT_LE(clock_.Now() - start, std::chrono::seconds(3));
  // Every attempt is signed afresh.
  for (const auto& r : transport_.requests()) EXPECT_NE(FindHeader(r.headers, "authorization"), nullptr);
}

TEST_F(ClientTest, GivesUpAfterMaxAttempts) {
  for (int i = 0; i < 3; ++i) transport_.Push(400, kThrottled);
  auto keys = Iam().ListAccessKeys("alice");
  ASSERT_FALSE(keys.ok());
  EXPECT_TRUE(keys.status().IsAws("Throttling"));
  EXPECT_EQ(keys.status().aws()->request_id, "t1");
  EXPECT_EQ(transport_.requests().size(), 3u);
}

TEST_F(ClientTest, LimitExceededIsNotRetried) {
  transport_.Push(200, kListEmpty);  // CreateAccessKey lists first
  transport_.Push(409, kLimit);
  auto key = Iam().CreateAccessKey("alice");
  ASSERT_FALSE(key.ok());
  EXPECT_TRUE(key.status().IsAws("LimitExceeded"));
  EXPECT_EQ(key.status().aws()->http_status, 409);
  EXPECT_EQ(key.status().aws()->message, "Cannot exceed quota for AccessKeysPerUser: 2");
  EXPECT_EQ(transport_.requests().size(), 2u);
}

TEST_F(ClientTest, LostCreateResponseDeletesTheUnseenKeyBeforeRetrying) {
  transport_.Push(200, kListEmpty);
  transport_.PushError(Status::UnknownOutcome("connection reset"));
  transport_.Push(200, kListOrphan);  // the key exists, its secret is lost
  transport_.Push(200, kDeleted);
  transport_.Push(200, kCreated);
  auto key = Iam().CreateAccessKey("alice");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->metadata.access_key_id, "AKIANEWKEY0000000000");
  EXPECT_EQ(key->secret_access_key.reveal(), "ECLsmKyQk3SJsLl2cW30gNgtddfJGTFKXdmCC1bP");
  ASSERT_EQ(transport_.requests().size(), 5u);
  EXPECT_NE(transport_.requests()[3].body.find("Action=DeleteAccessKey"), std::string::npos);
  EXPECT_NE(transport_.requests()[3].body.find("AccessKeyId=AKIAORPHAN0000000000"), std::string::npos);
}

TEST(XmlTest, TakeSecretTextOverwritesTheDocumentInPlace) {
  const std::string secret = "ECLsmKyQk3SJsLl2cW30gNgtddfJGTFKXdmCC1bP";
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(("<Credentials><AccessKeyId>ASIAKEY</AccessKeyId><SecretAccessKey>" + secret +
                               "</SecretAccessKey></Credentials>").c_str()));
  pugi::xml_node c = doc.child("Credentials");
  const char* held = c.child("SecretAccessKey").text().get();

  Secret taken = TakeSecretText(c, "SecretAccessKey");

  EXPECT_EQ(taken.reveal(), secret);
  EXPECT_EQ(c.child("SecretAccessKey").text().get(), held);  // the same bytes, overwritten
  EXPECT_EQ(std::string(held), std::string(secret.size(), 'x'));
  std::ostringstream saved;
  doc.save(saved);
  EXPECT_EQ(saved.str().find(secret), std::string::npos);
  EXPECT_EQ(ChildText(c, "AccessKeyId"), "ASIAKEY");
  EXPECT_TRUE(TakeSecretText(c, "SessionToken").empty());  // absent: empty, nothing touched
}

TEST_F(ClientTest, AssumeRoleTakesTheKeyAndTokenFromTheReply) {
  transport_.Push(200,
                  "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
                  "<Credentials><AccessKeyId>ASIAROLE000000000000</AccessKeyId>"
                  "<SecretAccessKey>roleSecretKey0000000000000000000000000000</SecretAccessKey>"
                  "<SessionToken>FwoGZXIvYXdzEXAMPLETOKEN</SessionToken>"
                  "<Expiration>2076-11-22T20:19:26Z</Expiration></Credentials>"
                  "<AssumedRoleUser><AssumedRoleId>AROA:s</AssumedRoleId>"
                  "<Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>"
                  "</AssumeRoleResult><ResponseMetadata><RequestId>s1</RequestId></ResponseMetadata>"
                  "</AssumeRoleResponse>");
  StsClient sts(Context(), {"http://127.0.0.1:1/", {"us-east-1", "sts"}, "test"});
  AssumeRoleRequest request;
  request.role_arn = "arn:aws:iam::123456789012:role/r";
  request.session_name = "s";
  auto role = sts.AssumeRole(request);
  ASSERT_TRUE(role.ok()) << role.status().ToString();
  EXPECT_EQ(role->credentials.access_key_id, "ASIAROLE000000000000");
  EXPECT_EQ(role->credentials.secret_access_key.reveal(), "roleSecretKey0000000000000000000000000000");
  EXPECT_EQ(role->credentials.session_token.reveal(), "FwoGZXIvYXdzEXAMPLETOKEN");
  EXPECT_EQ(role->arn, "arn:aws:sts::123456789012:assumed-role/r/s");
}

TEST_F(ClientTest, JsonErrorTypeIsTrimmedAsBotocoreDoes) {
  HttpResponse r;
  r.status = 400;
  r.body = R"({"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException:http://x","Message":"gone"})";
  r.headers.emplace_back("x-amzn-RequestId", "abc");
  AwsErrorDetail d = ParseJsonErrorBody(r);
  EXPECT_EQ(d.code, "ResourceNotFoundException");
  EXPECT_EQ(d.message, "gone");
  EXPECT_EQ(d.request_id, "abc");
}

TEST_F(ClientTest, UnexpectedResponseIsAParseError) {
  transport_.Push(200, "<Unexpected/>");
  auto keys = Iam().ListAccessKeys("alice");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), StatusCode::kParseError);
  transport_.Push(200, "not xml at all");
  EXPECT_EQ(Iam().GetUser("bob").status().code(), StatusCode::kParseError);
}

TEST_F(ClientTest, SecretsManagerSendsTargetAndToken) {
  transport_.Push(200, R"({"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","Name":"a","VersionId":"v1"})");
  SecretsManagerClient sm(Context(), {"http://127.0.0.1:1/", {"us-east-1", "secretsmanager"}, "test"});
  auto w = sm.PutSecretValue("a", Secret("{\"AccessKey\":\"x\"}"), "11111111-1111-4111-8111-111111111111");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->version_id, "v1");
  const auto& req = transport_.requests().at(0);
  EXPECT_EQ(*FindHeader(req.headers, "x-amz-target"), "secretsmanager.PutSecretValue");
  EXPECT_EQ(*FindHeader(req.headers, "content-type"), "application/x-amz-json-1.1");
}

TEST(EndpointTest, ResolutionOrder) {
  EnvMap env{{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}, {"AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:9001"}};
  EndpointSettings settings;
  auto iam = ResolveEndpoint(Service::kIam, "eu-west-1", settings, env);
  ASSERT_TRUE(iam.ok());
  EXPECT_EQ(iam->url, "http://127.0.0.1:9001/");
  EXPECT_EQ(iam->scope.region, "eu-west-1");  // custom endpoint: the client's region
  auto sts = ResolveEndpoint(Service::kSts, "eu-west-1", settings, env);
  EXPECT_EQ(sts->url, "http://127.0.0.1:9000/");
  settings.explicit_url = "http://localhost:7000/";
  EXPECT_EQ(ResolveEndpoint(Service::kSts, "eu-west-1", settings, env)->url, "http://localhost:7000/");
  settings.explicit_url.clear();
  settings.services_urls["secrets_manager"] = "http://127.0.0.1:9002";
  EXPECT_EQ(ResolveEndpoint(Service::kSecretsManager, "eu-west-1", settings, {})->url, "http://127.0.0.1:9002/");
  env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  EXPECT_EQ(ResolveEndpoint(Service::kSts, "eu-west-1", settings, env)->url, "https://sts.eu-west-1.amazonaws.com/");
}

TEST(EndpointTest, Defaults) {
  auto iam = ResolveEndpoint(Service::kIam, "", {}, {});
  ASSERT_TRUE(iam.ok());
  EXPECT_EQ(iam->url, "https://iam.amazonaws.com/");
  EXPECT_EQ(iam->scope.region, "us-east-1");
  EXPECT_EQ(ResolveEndpoint(Service::kIam, "cn-north-1", {}, {})->url, "https://iam.cn-north-1.amazonaws.com.cn/");
  EXPECT_EQ(ResolveEndpoint(Service::kSecretsManager, "eu-central-1", {}, {})->url,
            "https://secretsmanager.eu-central-1.amazonaws.com/");
  EXPECT_EQ(ResolveEndpoint(Service::kSts, "", {}, {})->url, "https://sts.amazonaws.com/");
  EXPECT_FALSE(ResolveEndpoint(Service::kSecretsManager, "", {}, {}).ok());
}

TEST(EndpointTest, PlainHttpOnlyForLoopback) {
  EndpointSettings settings;
  settings.explicit_url = "http://iam.example.com/";
  auto r = ResolveEndpoint(Service::kIam, "us-east-1", settings, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("plain http"), std::string::npos);
  settings.explicit_url = "http://[::1]:8080";
  EXPECT_TRUE(ResolveEndpoint(Service::kIam, "us-east-1", settings, {}).ok());
  settings.explicit_url = "http://127.8.9.10:8080";
  EXPECT_TRUE(ResolveEndpoint(Service::kIam, "us-east-1", settings, {}).ok());
}

// The metadata addresses speak plain http for the credential providers
// only; as a service endpoint, from wherever it comes, they are refused.
TEST(EndpointTest, PlainHttpToAMetadataAddressIsNoServiceEndpoint) {
  auto expect_refused = [](const Result<ServiceEndpoint>& r, const std::string& source) {
    ASSERT_FALSE(r.ok()) << source << " " << r->url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("instance-metadata address"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find(source), std::string::npos) << r.status().ToString();
  };
  EndpointSettings explicit_url;
  explicit_url.explicit_url = "http://169.254.169.254/";
  expect_refused(ResolveEndpoint(Service::kIam, "us-east-1", explicit_url, {}), "--endpoint-url");
  expect_refused(ResolveEndpoint(Service::kSts, "us-east-1", {}, {{"AWS_ENDPOINT_URL_STS", "http://[fd00:ec2::254]"}}),
                 "AWS_ENDPOINT_URL_STS");
  expect_refused(ResolveEndpoint(Service::kSns, "us-east-1", {}, {{"AWS_ENDPOINT_URL", "http://169.254.170.2/"}}),
                 "AWS_ENDPOINT_URL");
  EndpointSettings services;
  services.services_urls["secrets_manager"] = "http://169.254.170.23";
  expect_refused(ResolveEndpoint(Service::kSecretsManager, "us-east-1", services, {}), "[services]");
  EndpointSettings profile;
  profile.profile_endpoint_url = "http://169.254.169.254:80/latest";
  expect_refused(ResolveEndpoint(Service::kSsm, "us-east-1", profile, {}), "profile endpoint_url");
}

TEST(RetryTest, Classification) {
  EXPECT_EQ(Classify(Status::Aws({"Throttling", "", "", 400}, "op"), true), RetryClass::kThrottling);
  EXPECT_EQ(Classify(Status::Aws({"LimitExceeded", "", "", 409}, "op"), true), RetryClass::kNone);
  EXPECT_EQ(Classify(Status::Aws({"", "", "", 502}, "op"), true), RetryClass::kTransient);
  EXPECT_EQ(Classify(Status::UnknownOutcome("reset"), true), RetryClass::kTransient);
  EXPECT_EQ(Classify(Status::UnknownOutcome("reset"), false), RetryClass::kNone);
  EXPECT_EQ(Classify(Status::NetworkError("refused"), false), RetryClass::kTransient);
  EXPECT_EQ(Classify(Status::FailedPrecondition("tls"), true), RetryClass::kNone);
}

TEST(RetryTest, BackoffIsCappedFullJitter) {
  FakeClock clock{TimePoint{}};
  RetryStrategy max_jitter({10, Duration(20000), Duration(1000), 20}, &clock, nullptr, [] { return 0.999999; });
  EXPECT_NEAR(max_jitter.Backoff(2).count(), 1000, 1);
  EXPECT_NEAR(max_jitter.Backoff(3).count(), 2000, 1);
  EXPECT_NEAR(max_jitter.Backoff(8).count(), 20000, 1);  // 2^6 s capped at 20 s
  RetryStrategy zero({10, Duration(20000), Duration(1000), 20}, &clock, nullptr, [] { return 0.0; });
  EXPECT_EQ(zero.Backoff(5).count(), 0);
}

TEST(RetryTest, AdaptiveLimiterIsDormantUntilThrottledThenPaces) {
  FakeClock clock{TimePoint{} + std::chrono::hours(1)};
  AdaptiveRateLimiter limiter(&clock);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(limiter.Acquire().count(), 0);
  EXPECT_FALSE(limiter.enabled());
  limiter.OnResponse(/*throttled=*/true);
  ASSERT_TRUE(limiter.enabled());
  double throttled_rate = limiter.rate();
  EXPECT_GT(throttled_rate, 0);
  // Paced: 20 sends now take about 20 / rate seconds of (fake) time.
  TimePoint start = clock.Now();
  for (int i = 0; i < 20; ++i) limiter.Acquire();
  double seconds = std::chrono::duration<double>(clock.Now() - start).count();
  EXPECT_GE(seconds, 19.0 / throttled_rate - 0.1);
  // Successes raise the rate; another throttle cuts it again.
  for (int i = 0; i < 10; ++i) limiter.OnResponse(false);
  EXPECT_GT(limiter.rate(), throttled_rate);
  clock.Advance(std::chrono::seconds(1));
  limiter.OnResponse(false);
  double before = limiter.rate();
  limiter.OnResponse(true);
  EXPECT_LT(limiter.rate(), before);
}

// A burst of throttles (the answers to requests sent before the cut) cuts the
// rate once; the rate then climbs back to just under where it was throttled
// and flattens there, instead of collapsing to its floor.
TEST(RetryTest, AdaptiveLimiterCutsOncePerBurstAndClimbsBackAlongACubic) {
  FakeClock clock{TimePoint{} + std::chrono::hours(1)};
  AdaptiveRateLimiter limiter(&clock);
  // 100 sends/s for two seconds, then the service throttles 30 answers at once.
  for (int i = 0; i < 200; ++i) {
    limiter.Acquire();
    clock.Advance(std::chrono::milliseconds(10));
  }
  for (int i = 0; i < 30; ++i) limiter.OnResponse(/*throttled=*/true);
  EXPECT_NEAR(limiter.rate(), 70, 1);  // 0.7 x 100, once
  // Sending at whatever the limiter allows, the rate returns near 100 in
  // about K = cbrt(100 x 0.3 / 0.4) = 4.2 s and stays close below it a while.
  TimePoint cut = clock.Now();
  double at_2s = 0, at_4s = 0;
  while (clock.Now() - cut < std::chrono::milliseconds(4200)) {
    limiter.Acquire();
    limiter.OnResponse(false);
    double t = std::chrono::duration<double>(clock.Now() - cut).count();
    if (at_2s == 0 && t >= 2) at_2s = limiter.rate();
    if (at_4s == 0 && t >= 4) at_4s = limiter.rate();
  }
  EXPECT_GT(at_2s, 90);
  EXPECT_GT(at_4s, 98);
  EXPECT_LE(at_4s, 100.5);
  // A throttle a second later cuts again, from the rate being sent.
  clock.Advance(std::chrono::seconds(1));
  limiter.OnResponse(true);
  EXPECT_LT(limiter.rate(), 80);
}

TEST_F(ClientTest, AdaptiveModeSlowsDownAfterThrottling) {
  AdaptiveRateLimiter limiter(&clock_);
  ClientContext ctx = Context();
  ctx.rate_limiter = &limiter;
  ctx.retry.max_attempts = 5;
  IamClient iam(ctx, {"http://127.0.0.1:1/", {"us-east-1", "iam"}, "test"});
  transport_.Push(400, kThrottled);
  transport_.Push(200, kListEmpty);
  ASSERT_TRUE(iam.ListAccessKeys("alice").ok());
  EXPECT_TRUE(limiter.enabled());
  EXPECT_EQ(transport_.requests().size(), 2u);
}

TEST(RetryTest, LimiterWithACeilingPacesFromTheStartAndNeverExceedsIt) {
  FakeClock clock{TimePoint{} + std::chrono::hours(1)};
  AdaptiveRateLimiter limiter(&clock, 0.5, /*max_rate=*/10);
  EXPECT_TRUE(limiter.enabled());
  EXPECT_DOUBLE_EQ(limiter.rate(), 10);
  TimePoint start = clock.Now();
  for (int i = 0; i < 51; ++i) limiter.Acquire();
  // One token at start, then 10/s: 50 more sends take 5 s.
  EXPECT_NEAR(std::chrono::duration<double>(clock.Now() - start).count(), 5.0, 0.05);
  for (int i = 0; i < 100; ++i) limiter.OnResponse(false);
  EXPECT_DOUBLE_EQ(limiter.rate(), 10);  // successes never raise it past the ceiling
  limiter.OnResponse(true);
  EXPECT_LT(limiter.rate(), 10);  // the service's throttle still counts
}

TEST_F(ClientTest, ThrottlesPacedByTheLimiterDoNotUseUpTheAttempts) {
  AdaptiveRateLimiter limiter(&clock_, 0.5, 100);
  ClientContext ctx = Context();
  ctx.rate_limiter = &limiter;
  ctx.retry.max_attempts = 3;
  IamClient iam(ctx, {"http://127.0.0.1:1/", {"us-east-1", "iam"}, "test"});
  for (int i = 0; i < 6; ++i) transport_.Push(400, kThrottled);
  transport_.Push(200, kListEmpty);
  ASSERT_TRUE(iam.ListAccessKeys("alice").ok());
  EXPECT_EQ(transport_.requests().size(), 7u);
}

TEST_F(ClientTest, ThrottledAttemptsStillHaveABound) {
  AdaptiveRateLimiter limiter(&clock_, 0.5, 100);
  ClientContext ctx = Context();
  ctx.rate_limiter = &limiter;
  ctx.retry.max_attempts = 3;
  ctx.retry.max_throttled_attempts = 5;
  IamClient iam(ctx, {"http://127.0.0.1:1/", {"us-east-1", "iam"}, "test"});
  for (int i = 0; i < 10; ++i) transport_.Push(400, kThrottled);
  Result<std::vector<AccessKeyMetadata>> listed = iam.ListAccessKeys("alice");
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(transport_.requests().size(), 5u);
}

TEST_F(ClientTest, WithoutALimiterThrottlesCountAgainstMaxAttempts) {
  ClientContext ctx = Context();
  ctx.retry.max_attempts = 3;
  IamClient iam(ctx, {"http://127.0.0.1:1/", {"us-east-1", "iam"}, "test"});
  for (int i = 0; i < 10; ++i) transport_.Push(400, kThrottled);
  ASSERT_FALSE(iam.ListAccessKeys("alice").ok());
  EXPECT_EQ(transport_.requests().size(), 3u);
}

TEST(RetryTest, QuotaRunsOut) {
  RetryQuota quota;
  int granted = 0;
  while (quota.Acquire(false)) ++granted;
  EXPECT_EQ(granted, 100);  // 500 tokens, 5 per retry
  quota.OnSuccess();
  EXPECT_FALSE(quota.Acquire(false));
}

}  // namespace
}  // namespace keyrotor::aws

namespace keyrotor::aws {
namespace {

TEST(ArnTest, UserNamesAndPolicySources) {
  EXPECT_EQ(UserNameFromArn("arn:aws:iam::123456789012:user/alice"), "alice");
  EXPECT_EQ(UserNameFromArn("arn:aws:iam::123456789012:user/team/ops/bob"), "bob");
  EXPECT_EQ(UserNameFromArn("arn:aws:iam::123456789012:root"), "");
  EXPECT_EQ(UserNameFromArn("arn:aws:sts::123456789012:assumed-role/r/s"), "");
  EXPECT_EQ(PolicySourceArn("arn:aws:iam::123456789012:user/alice"), "arn:aws:iam::123456789012:user/alice");
  EXPECT_EQ(PolicySourceArn("arn:aws:sts::123456789012:assumed-role/deployer/rotation"),
            "arn:aws:iam::123456789012:role/deployer");
  EXPECT_EQ(PolicySourceArn("arn:aws-cn:sts::123456789012:assumed-role/r/s"), "arn:aws-cn:iam::123456789012:role/r");
  EXPECT_EQ(PolicySourceArn("arn:aws:iam::123456789012:root"), "");
}

}  // namespace
}  // namespace keyrotor::aws
