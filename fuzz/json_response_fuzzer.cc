// JSON 1.1 replies of Secrets Manager and SSM, parsed by the real service
// clients (the fuzzer's bytes are the body the transport answers with), and
// the JSON error parser on its own.
//
// Input: byte 0 picks the operation, byte 1 the HTTP status (and whether an
// X-Amzn-ErrorType header comes too), the rest is the body. Properties:
//  - a 2xx reply is a record or a ParseError, never a crash or an exception
//    (nlohmann's accessors throw on a wrong type: every field must be checked);
//  - a non-2xx reply is an AWS error with that HTTP status and a code with no
//    '#' or ':' left in it (botocore's trimming), taken from __type when the
//    body has a string one;
//  - the last mode renders an error with the sandbox's writer and parses it
//    back: code and message survive.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "aws/secretsmanager.h"
#include "aws/ssm.h"
#include "fake_transport.h"
#include "fuzz_check.h"
#include "sandbox/wire.h"

namespace {

using keyrotor::AwsErrorDetail;
using keyrotor::Result;
using keyrotor::Secret;
using keyrotor::Status;
using namespace keyrotor::aws;

constexpr int kStatuses[] = {200, 200, 200, 200, 400, 404, 500, 503};

void CheckOutcome(const Status& status, int http_status, bool error_type_header, const std::string& body) {
  if (http_status >= 300) {
    FUZZ_CHECK(!status.ok());
    const AwsErrorDetail* detail = status.aws();
    FUZZ_CHECK(detail != nullptr);
    FUZZ_CHECK(detail->http_status == http_status);
    FUZZ_CHECK(detail->code.find_first_of("#:") == std::string::npos);
    FUZZ_CHECK(detail->request_id == "d0c477ac-f267-11e8-9d2b-93e3aa6368c5");
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    bool typed =
        j.is_object() && j.contains("__type") && j["__type"].is_string() && !j["__type"].get<std::string>().empty();
    if (!typed && error_type_header) FUZZ_CHECK(detail->code == "ThrottlingException");
    return;
  }
  if (!status.ok()) FUZZ_CHECK(status.aws() == nullptr && !status.IsUnknownOutcome());
}

// nlohmann's own check: a string it can dump strictly is UTF-8.
bool IsUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

void ErrorRoundTrip(std::string_view data, int http_status) {
  size_t split = data.find('\0');
  std::string code(data.substr(0, split));
  std::string message(split == std::string_view::npos ? "" : data.substr(split + 1));
  keyrotor::sandbox::RoutedRequest routed;
  routed.service = keyrotor::sandbox::Service::kSecretsManager;
  routed.json_protocol = true;
  routed.operation = "GetSecretValue";
  // Rendering must not throw whatever the text (a message may quote request bytes).
  HttpResponse response =
      keyrotor::sandbox::RenderError(routed, keyrotor::sandbox::ApiError(http_status, code, message));
  AwsErrorDetail parsed = ParseJsonErrorBody(response);
  FUZZ_CHECK(parsed.http_status == http_status);
  FUZZ_CHECK(!parsed.request_id.empty());
  // botocore trims the code at '#' and ':' (checked in CheckOutcome); text
  // that is not UTF-8 goes out with U+FFFD in place of the bad bytes.
  if (code.find_first_of("#:") != std::string::npos || !IsUtf8(code) || !IsUtf8(message)) return;
  FUZZ_CHECK(parsed.code == code);
  FUZZ_CHECK(parsed.message == message);
}

void Run(std::string_view data) {
  if (data.size() < 2) return;
  const int op = static_cast<unsigned char>(data[0]) % 9;
  const unsigned char status_byte = static_cast<unsigned char>(data[1]);
  const int http_status = kStatuses[status_byte % std::size(kStatuses)];
  const bool error_type_header = (status_byte & 0x80) != 0;
  const std::string body(data.substr(2));
  if (op == 8) return ErrorRoundTrip(body, http_status >= 300 ? http_status : 400);

  keyrotor::fuzz::ScriptedTransport transport([&](const HttpRequest&) {
    HttpResponse response;
    response.status = http_status;
    response.headers.emplace_back("x-amzn-RequestId", "d0c477ac-f267-11e8-9d2b-93e3aa6368c5");
    if (error_type_header) response.headers.emplace_back("X-Amzn-ErrorType", "ThrottlingException");
    response.body = body;
    return response;
  });
  keyrotor::FakeClock clock(keyrotor::TimePoint{} + std::chrono::hours(24 * 365 * 56));
  ClientContext context = keyrotor::fuzz::FuzzContext(&transport, &clock);
  SecretsManagerClient sm(context,
                          {"https://secretsmanager.eu-west-1.amazonaws.com/", {"eu-west-1", "secretsmanager"}, "fuzz"});
  SsmClient ssm(context, {"https://ssm.eu-west-1.amazonaws.com/", {"eu-west-1", "ssm"}, "fuzz"});
  const Secret value("{\"AccessKeyId\":\"AKIAIOSFODNN7EXAMPLE\",\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG\"}");
  const std::string token = "11111111-1111-4111-8111-111111111111";

  Status status;
  switch (op) {
    case 0:
      status = sm.CreateSecret("app/db", value, token, "db creds").status();
      break;
    case 1: {
      Result<SecretDescription> r = sm.DescribeSecret("app/db");
      if (r.ok()) {
        for (const auto& [version, stages] : r->version_ids_to_stages) {
          for (const std::string& stage : stages) FUZZ_CHECK(!r->VersionWithStage(stage).empty());
        }
      }
      status = r.status();
      break;
    }
    case 2: {
      Result<SecretValue> r = sm.GetSecretValue("app/db", "AWSPENDING");
      status = r.status();
      break;
    }
    case 3:
      status = sm.PutSecretValue("app/db", value, token, {"AWSPENDING"}).status();
      break;
    case 4:
      status = sm.UpdateSecretVersionStage("app/db", "AWSCURRENT", token, "22222222-2222-4222-8222-222222222222");
      break;
    case 5:
      status = ssm.PutParameter("/app/key", value, "SecureString", true).status();
      break;
    case 6: {
      Result<Parameter> r = ssm.GetParameter("/app/key");
      status = r.status();
      break;
    }
    case 7: {
      // The error parser alone, whatever the status.
      HttpResponse response;
      response.status = http_status;
      if (error_type_header) response.headers.emplace_back("X-Amzn-ErrorType", "a.b#ThrottlingException:http://x");
      response.body = body;
      AwsErrorDetail detail = ParseJsonErrorBody(response);
      FUZZ_CHECK(detail.code.find_first_of("#:") == std::string::npos);
      FUZZ_CHECK(detail.http_status == http_status);
      return;
    }
  }
  CheckOutcome(status, http_status, error_type_header, body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
