// Query-protocol (XML) replies of IAM, STS and SNS, parsed by the real service
// clients: the fuzzer's bytes are the body the transport answers with.
//
// Input: byte 0 picks the operation, byte 1 the HTTP status, the rest is the
// body. Properties:
//  - a 2xx reply either fails to parse (a ParseError, never a crash) or gives
//    records with what the engine relies on (a key id and a known status, a
//    secret, a user name, credentials with an expiration);
//  - a non-2xx reply is always an AWS error Status carrying that HTTP status,
//    and its message names the code the body gave;
//  - the last mode renders an error with the sandbox's writer and parses it
//    back: code and message survive (writer and reader agree).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aws/iam.h"
#include "aws/sns.h"
#include "aws/sts.h"
#include "fake_transport.h"
#include "fuzz_check.h"
#include "sandbox/wire.h"

namespace {

using keyrotor::AwsErrorDetail;
using keyrotor::Result;
using keyrotor::Status;
using namespace keyrotor::aws;

constexpr int kStatuses[] = {200, 200, 200, 200, 400, 403, 404, 409, 500, 503};

std::string ActionOf(const HttpRequest& request) {
  std::string_view body = request.body;
  if (body.substr(0, 7) != "Action=") return "";
  body.remove_prefix(7);
  return std::string(body.substr(0, body.find('&')));
}

// CreateAccessKey lists the user's keys before and (on a lost reply) after:
// those calls get an empty list, so the fuzzed body is what CreateAccessKey parses.
constexpr char kEmptyKeyList[] =
    "<ListAccessKeysResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListAccessKeysResult>"
    "<AccessKeyMetadata/><IsTruncated>false</IsTruncated></ListAccessKeysResult><ResponseMetadata>"
    "<RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata></ListAccessKeysResponse>";

void CheckOutcome(const Status& status, int http_status, const std::string& body) {
  if (http_status >= 300) {
    FUZZ_CHECK(!status.ok());
    const AwsErrorDetail* detail = status.aws();
    FUZZ_CHECK(detail != nullptr);
    FUZZ_CHECK(detail->http_status == http_status);
    HttpResponse response;
    response.status = http_status;
    response.body = body;
    FUZZ_CHECK(detail->code == ParseQueryErrorBody(response).code);
    if (!detail->code.empty()) FUZZ_CHECK(status.message().find(detail->code) != std::string::npos);
    return;
  }
  // A 2xx reply that does not parse is a ParseError (or a record-level
  // InvalidArgument), never an AWS error or an unknown outcome.
  if (!status.ok()) FUZZ_CHECK(status.aws() == nullptr && !status.IsUnknownOutcome());
}

bool Printable(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

void ErrorRoundTrip(std::string_view data, int http_status) {
  size_t split = data.find('\0');
  std::string code(data.substr(0, split));
  std::string message(split == std::string_view::npos ? "" : data.substr(split + 1));
  // XML 1.0 cannot carry control characters; pugixml normalises line ends
  // and (parse_default) drops text that is only whitespace.
  if (!Printable(code) || !Printable(message)) return;
  auto blank = [](const std::string& s) { return s.find_first_not_of(' ') == std::string::npos; };
  if ((blank(code) && !code.empty()) || (blank(message) && !message.empty())) return;
  keyrotor::sandbox::RoutedRequest routed;
  routed.service = keyrotor::sandbox::Service::kIam;
  routed.operation = "CreateAccessKey";
  HttpResponse response =
      keyrotor::sandbox::RenderError(routed, keyrotor::sandbox::ApiError(http_status, code, message));
  AwsErrorDetail parsed = ParseQueryErrorBody(response);
  FUZZ_CHECK(parsed.http_status == http_status);
  FUZZ_CHECK(parsed.code == code);
  FUZZ_CHECK(parsed.message == message);
  FUZZ_CHECK(!parsed.request_id.empty());
}

void Run(std::string_view data) {
  if (data.size() < 2) return;
  const int op = static_cast<unsigned char>(data[0]) % 18;
  const int http_status = kStatuses[static_cast<unsigned char>(data[1]) % std::size(kStatuses)];
  const std::string body(data.substr(2));
  if (op == 17) return ErrorRoundTrip(body, http_status >= 300 ? http_status : 400);

  std::string target_action;
  keyrotor::fuzz::ScriptedTransport transport([&](const HttpRequest& request) {
    HttpResponse response;
    response.headers.emplace_back("x-amzn-RequestId", "d0c477ac-f267-11e8-9d2b-93e3aa6368c5");
    std::string action = ActionOf(request);
    if (action != target_action && action == "ListAccessKeys") {
      response.status = 200;
      response.body = kEmptyKeyList;
    } else {
      response.status = http_status;
      response.body = body;
    }
    return response;
  });
  keyrotor::FakeClock clock(keyrotor::TimePoint{} + std::chrono::hours(24 * 365 * 56));
  ClientContext context = keyrotor::fuzz::FuzzContext(&transport, &clock);
  IamClient iam(context, {"https://iam.amazonaws.com/", {"us-east-1", "iam"}, "fuzz"});
  StsClient sts(context, {"https://sts.eu-west-1.amazonaws.com/", {"eu-west-1", "sts"}, "fuzz"});
  SnsClient sns(context, {"https://sns.eu-west-1.amazonaws.com/", {"eu-west-1", "sns"}, "fuzz"});

  Status status;
  switch (op) {
    case 0: {
      target_action = "GetUser";
      Result<IamUser> r = iam.GetUser("alice");
      if (r.ok()) FUZZ_CHECK(!r->user_name.empty());
      status = r.status();
      break;
    }
    case 1: {
      target_action = "ListUsers";
      Result<std::vector<IamUser>> r = iam.ListUsers();
      if (r.ok()) {
        for (const IamUser& u : *r) FUZZ_CHECK(!u.user_name.empty());
      }
      status = r.status();
      break;
    }
    case 2: {
      target_action = "ListAccessKeys";
      Result<std::vector<AccessKeyMetadata>> r = iam.ListAccessKeys("alice");
      if (r.ok()) {
        for (const AccessKeyMetadata& k : *r) {
          FUZZ_CHECK(!k.access_key_id.empty());
          FUZZ_CHECK(k.status == "Active" || k.status == "Inactive" || k.status == "Expired");
        }
      }
      status = r.status();
      break;
    }
    case 3: {
      target_action = "CreateAccessKey";
      Result<NewAccessKey> r = iam.CreateAccessKey("alice");
      if (r.ok()) {
        FUZZ_CHECK(!r->metadata.access_key_id.empty());
        FUZZ_CHECK(!r->secret_access_key.empty());
      }
      status = r.status();
      break;
    }
    case 4:
      target_action = "UpdateAccessKey";
      status = iam.UpdateAccessKey("alice", "AKIAIOSFODNN7EXAMPLE", false);
      break;
    case 5:
      target_action = "DeleteAccessKey";
      status = iam.DeleteAccessKey("alice", "AKIAIOSFODNN7EXAMPLE");
      break;
    case 6: {
      target_action = "GetAccessKeyLastUsed";
      status = iam.GetAccessKeyLastUsed("AKIAIOSFODNN7EXAMPLE").status();
      break;
    }
    case 7:
      target_action = "ListUserTags";
      status = iam.ListUserTags("alice").status();
      break;
    case 8:
      target_action = "ListGroupsForUser";
      status = iam.ListGroupsForUser("alice").status();
      break;
    case 9: {
      target_action = "GetGroup";
      Result<std::vector<IamUser>> r = iam.GetGroup("admins");
      if (r.ok()) {
        for (const IamUser& u : *r) FUZZ_CHECK(!u.user_name.empty());
      }
      status = r.status();
      break;
    }
    case 10:
      target_action = "SimulatePrincipalPolicy";
      status = iam.SimulatePrincipalPolicy("arn:aws:iam::123456789012:user/alice",
                                           {"iam:CreateAccessKey", "iam:DeleteAccessKey"})
                   .status();
      break;
    case 11: {
      target_action = "CreateUser";
      Result<IamUser> r = iam.CreateUser("bob", "/", {{"team", "infra"}});
      if (r.ok()) FUZZ_CHECK(!r->user_name.empty());
      status = r.status();
      break;
    }
    case 12: {
      target_action = "GetCallerIdentity";
      Result<CallerIdentity> r = sts.GetCallerIdentity();
      if (r.ok()) {
        FUZZ_CHECK(!r->arn.empty() && !r->account.empty());
        // A user's ARN is its own policy source; anything derived is a role ARN.
        if (!UserNameFromArn(r->arn).empty()) FUZZ_CHECK(PolicySourceArn(r->arn) == r->arn);
        std::string source = PolicySourceArn(r->arn);
        if (!source.empty()) FUZZ_CHECK(source.substr(0, 4) == "arn:");
      }
      status = r.status();
      break;
    }
    case 13:
    case 14: {
      target_action = op == 13 ? "AssumeRole" : "AssumeRoleWithWebIdentity";
      Result<AssumedRole> r =
          op == 13 ? sts.AssumeRole({"arn:aws:iam::123456789012:role/deployer", "rotation", 900, "", "", ""})
                   : sts.AssumeRoleWithWebIdentity("arn:aws:iam::123456789012:role/ci", "gha",
                                                   keyrotor::Secret("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"), 900);
      if (r.ok()) {
        FUZZ_CHECK(!r->credentials.access_key_id.empty());
        FUZZ_CHECK(!r->credentials.secret_access_key.empty() && !r->credentials.session_token.empty());
        FUZZ_CHECK(r->credentials.expiration.has_value());
      }
      status = r.status();
      break;
    }
    case 15:
      target_action = "Publish";
      status = sns.Publish("arn:aws:sns:eu-west-1:123456789012:rotations", "rotated", "keyrotor").status();
      break;
    case 16:
      target_action = "CreateTopic";
      status = sns.CreateTopic("rotations").status();
      break;
  }
  CheckOutcome(status, http_status, body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
