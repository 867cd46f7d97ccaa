// The query protocol's form body (IAM, STS, SNS) is byte for byte what
// botocore sends for the same parameters: the same percent-encoding (a space
// as '+', only letters, digits and _.-~ left as they are), the same parameter
// order (Action, Version, then the operation's members in the model's
// order). Real AWS hashes the raw body either way, but AWS-compatible
// emulators that re-encode the form before checking the signature refuse a
// body encoded any other way.
//
// The expected bodies are never written by hand: Debian's /usr/bin/python3
// runs botocore's own serialiser on every run
// (tests/conformance/botocore_query_body.py), and keyrotor's clients send the
// same operations through a recording transport.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/iam.h"
#include "aws/sns.h"
#include "aws/sts.h"
#include "support/fake_transport.h"
#include "support/process.h"

namespace keyrotor::aws {
namespace {

using keyrotor::testing::FakeTransport;

// Everything a form encoder can get wrong: blanks, the characters Python's
// quote_plus keeps (_.-~) and the ones it does not (*/+=&...), a newline, a
// percent sign, and UTF-8 of two, three and four bytes.
const std::string kTricky =
    "a b~c*d/e+f=g&h\ni%20j'()!;:,@$#?[]\"<>\\^`{|}\t_.-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 end";

constexpr char kRefused[] =
    "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>no</Message></Error>"
    "<RequestId>r</RequestId></ErrorResponse>";
constexpr char kTruncatedKeys[] =
    "<ListAccessKeysResponse><ListAccessKeysResult><AccessKeyMetadata/><IsTruncated>true</IsTruncated>"
    "<Marker>page 2/+=~*&amp;\xc3\xa9</Marker></ListAccessKeysResult></ListAccessKeysResponse>";
constexpr char kNoKeys[] =
    "<ListAccessKeysResponse><ListAccessKeysResult><AccessKeyMetadata/><IsTruncated>false</IsTruncated>"
    "</ListAccessKeysResult></ListAccessKeysResponse>";

struct Case {
  std::string service;
  std::string operation;
  nlohmann::json params;  // as boto3 takes them
  // Sends the same operation with keyrotor's client; the transport answers
  // `answers` in turn (then refuses), and the request whose Action is
  // `operation` (the last one, for a paginated call) is compared.
  std::function<void(const ClientContext&)> send;
  std::vector<std::string> answers;
};

ServiceEndpoint Endpoint(const char* service) { return {"http://127.0.0.1:1/", {"us-east-1", service}, "test"}; }

std::vector<Case> Cases() {
  const std::string user = "a+b=c,d.e@f_g-h";
  const std::string arn = "arn:aws:iam::123456789012:role/a b/" + kTricky;
  std::vector<Case> cases;
  auto iam = [](const ClientContext& c) { return IamClient(c, Endpoint("iam")); };
  auto sts = [](const ClientContext& c) { return StsClient(c, Endpoint("sts")); };
  auto sns = [](const ClientContext& c) { return SnsClient(c, Endpoint("sns")); };
  cases.push_back({"iam", "GetUser", {{"UserName", user}}, [=](auto& c) { (void)iam(c).GetUser(user); }, {}});
  cases.push_back({"iam", "ListUsers", {{"PathPrefix", "/dept a/~*'()!/"}, {"MaxItems", 1000}},
                   [=](auto& c) { (void)iam(c).ListUsers("/dept a/~*'()!/"); }, {}});
  cases.push_back({"iam", "GetAccountAuthorizationDetails",
                   {{"Filter", {"User", "Group"}}, {"MaxItems", 1000}},
                   [=](auto& c) { (void)iam(c).GetUsersAndGroups(); }, {}});
  cases.push_back({"iam", "GenerateCredentialReport", nlohmann::json::object(),
                   [=](auto& c) { (void)iam(c).GenerateCredentialReport(); }, {}});
  cases.push_back({"iam", "GetCredentialReport", nlohmann::json::object(),
                   [=](auto& c) { (void)iam(c).GetCredentialReport(); }, {}});
  cases.push_back({"iam", "ListAccessKeys", {{"UserName", user}, {"Marker", "page 2/+=~*&\xc3\xa9"}},
                   [=](auto& c) { (void)iam(c).ListAccessKeys(user); }, {kTruncatedKeys}});
  cases.push_back({"iam", "CreateAccessKey", {{"UserName", user}},
                   [=](auto& c) { (void)iam(c).CreateAccessKey(user); }, {kNoKeys}});
  cases.push_back({"iam", "UpdateAccessKey",
                   {{"UserName", user}, {"AccessKeyId", "AKIAEXAMPLE000000001"}, {"Status", "Inactive"}},
                   [=](auto& c) { (void)iam(c).UpdateAccessKey(user, "AKIAEXAMPLE000000001", false); }, {}});
  cases.push_back({"iam", "DeleteAccessKey", {{"UserName", user}, {"AccessKeyId", "AKIAEXAMPLE000000001"}},
                   [=](auto& c) { (void)iam(c).DeleteAccessKey(user, "AKIAEXAMPLE000000001"); }, {}});
  cases.push_back({"iam", "GetAccessKeyLastUsed", {{"AccessKeyId", "AKIAEXAMPLE000000001"}},
                   [=](auto& c) { (void)iam(c).GetAccessKeyLastUsed("AKIAEXAMPLE000000001"); }, {}});
  cases.push_back({"iam", "ListUserTags", {{"UserName", user}}, [=](auto& c) { (void)iam(c).ListUserTags(user); }, {}});
  cases.push_back({"iam", "ListGroupsForUser", {{"UserName", user}},
                   [=](auto& c) { (void)iam(c).ListGroupsForUser(user); }, {}});
  cases.push_back({"iam", "GetGroup", {{"GroupName", "ops+dev"}}, [=](auto& c) { (void)iam(c).GetGroup("ops+dev"); }, {}});
  cases.push_back({"iam", "SimulatePrincipalPolicy",
                   {{"PolicySourceArn", arn}, {"ActionNames", {"iam:CreateAccessKey", "s3:Get*", kTricky}}},
                   [=](auto& c) { (void)iam(c).SimulatePrincipalPolicy(arn, {"iam:CreateAccessKey", "s3:Get*", kTricky}); },
                   {}});
  cases.push_back({"iam", "CreateUser",
                   {{"UserName", user},
                    {"Path", "/a b/"},
                    {"Tags", {{{"Key", "team name"}, {"Value", kTricky}}, {{"Key", "k=2"}, {"Value", ""}}}}},
                   [=](auto& c) { (void)iam(c).CreateUser(user, "/a b/", {{"team name", kTricky}, {"k=2", ""}}); },
                   {}});
  cases.push_back({"sts", "GetCallerIdentity", nlohmann::json::object(),
                   [=](auto& c) { (void)sts(c).GetCallerIdentity(); }, {}});
  cases.push_back({"sts", "AssumeRole",
                   {{"RoleArn", arn},
                    {"RoleSessionName", "s+s=s,s.s@s-s"},
                    {"DurationSeconds", 900},
                    {"ExternalId", kTricky},
                    {"SerialNumber", "arn:aws:iam::123456789012:mfa/a b"},
                    {"TokenCode", "123456"}},
                   [=](auto& c) {
                     AssumeRoleRequest r{arn, "s+s=s,s.s@s-s", 900, kTricky, "arn:aws:iam::123456789012:mfa/a b",
                                         "123456"};
                     (void)sts(c).AssumeRole(r);
                   },
                   {}});
  cases.push_back({"sts", "AssumeRoleWithWebIdentity",
                   {{"RoleArn", arn}, {"RoleSessionName", "web session"}, {"WebIdentityToken", "eyJ.a+b/c="},
                    {"DurationSeconds", 3600}},
                   [=](auto& c) { (void)sts(c).AssumeRoleWithWebIdentity(arn, "web session", Secret("eyJ.a+b/c="), 3600); },
                   {}});
  cases.push_back({"sns", "Publish",
                   {{"TopicArn", "arn:aws:sns:us-east-1:123456789012:key-rotations"},
                    {"Message", "{\"event\": \"key_created\", \"user\": \"" + kTricky + "\"}\nsecond line"},
                    {"Subject", "keyrotor: key_created for a b ~*"}},
                   [=](auto& c) {
                     (void)sns(c).Publish("arn:aws:sns:us-east-1:123456789012:key-rotations",
                                          "{\"event\": \"key_created\", \"user\": \"" + kTricky + "\"}\nsecond line",
                                          "keyrotor: key_created for a b ~*");
                   },
                   {}});
  cases.push_back({"sns", "CreateTopic", {{"Name", "key-rotations"}},
                   [=](auto& c) { (void)sns(c).CreateTopic("key-rotations"); }, {}});
  return cases;
}

// botocore's bodies for `cases`, in order.
std::vector<std::string> BotocoreBodies(const std::vector<Case>& cases) {
  nlohmann::json input = nlohmann::json::array();
  for (const Case& c : cases) input.push_back({{"service", c.service}, {"operation", c.operation}, {"params", c.params}});
  // -E: no PYTHONPATH & co.; -s: no user site-packages; -B: no __pycache__ in the tree.
  testing::ProcessResult run = testing::RunProcess(
      {"/usr/bin/python3", "-E", "-s", "-B", std::string(KEYROTOR_SOURCE_DIR) + "/tests/conformance/botocore_query_body.py"},
      {{"PATH", "/usr/bin:/bin"}}, 120, input.dump());
  EXPECT_EQ(run.exit_code, 0) << run.err << "\nInstall Debian's python3-boto3 with scripts/install-deps.";
  nlohmann::json out = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> bodies;
  if (!out.is_array() || out.size() != cases.size()) {
    ADD_FAILURE() << "botocore_query_body.py answered: " << run.out << run.err;
    return bodies;
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    if (!out[i].contains("body")) ADD_FAILURE() << cases[i].operation << ": " << out[i].dump();
    bodies.push_back(out[i].value("body", ""));
  }
  return bodies;
}

TEST(QueryBodyConformanceTest, FormBodiesAreByteForByteWhatBotocoreSends) {
  std::vector<Case> cases = Cases();
  std::vector<std::string> expected = BotocoreBodies(cases);
  ASSERT_EQ(expected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    FakeTransport transport;
    for (const std::string& answer : cases[i].answers) transport.Push(200, answer);
    for (int n = 0; n < 4; ++n) transport.Push(400, kRefused);
    FakeClock clock(TimePoint{} + std::chrono::hours(24 * 365 * 56));
    ClientContext context;
    context.transport = &transport;
    context.clock = &clock;
    context.retry.max_attempts = 1;
    context.credentials = std::make_shared<StaticCredentialsProvider>(
        Credentials{"AKIAEXAMPLEEXAMPLE00", Secret("example"), Secret(), std::nullopt, "test"});
    cases[i].send(context);
    std::string sent;
    for (const HttpRequest& r : transport.requests()) {
      if (r.body.starts_with("Action=" + cases[i].operation + "&")) sent = r.body;
    }
    EXPECT_EQ(sent, expected[i]) << cases[i].service << " " << cases[i].operation;
  }
}

}  // namespace
}  // namespace keyrotor::aws
