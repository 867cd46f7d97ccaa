// Test support (header only, used by src/sandbox/*_test.cc): builds the
// requests real SDKs send -- form bodies for the query protocol, JSON 1.1 with
// X-Amz-Target -- signs them with aws::SignRequest and hands them straight to
// Sandbox::Handle, plus small readers for the XML and JSON that come back.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <utility>
#include <vector>

#include "aws/sigv4.h"
#include "base/strings.h"
#include "sandbox/sandbox.h"

namespace keyrotor::sandbox::testing {

using Form = std::vector<std::pair<std::string, std::string>>;

inline constexpr char kEndpoint[] = "http://127.0.0.1:4566/";

class TestClient {
 public:
  TestClient(Sandbox& sandbox, Clock* clock) : sandbox_(sandbox), clock_(clock) {}

  TestClient& As(const std::string& access_key_id, const Secret& secret, const Secret& session_token = Secret()) {
    access_key_id_ = access_key_id;
    secret_ = secret.Clone();
    session_token_ = session_token.Clone();
    return *this;
  }
  TestClient& As(const Sandbox::IssuedKey& key) { return As(key.access_key_id, key.secret); }

  // Knobs for the authentication tests; each applies to every later request.
  std::string region = "us-east-1";
  std::optional<TimePoint> signed_at;        // default: the clock's now
  std::optional<std::string> scope_service;  // default: the routed service's signing name
  bool sign = true;
  std::vector<std::pair<std::string, std::string>> extra_headers;  // added (and signed) on every request
  net::ResponseControl last_control;

  aws::HttpResponse Iam(const std::string& action, const Form& params = {}) {
    return Query("iam", "2010-05-08", action, params);
  }
  aws::HttpResponse Sts(const std::string& action, const Form& params = {}) {
    return Query("sts", "2011-06-15", action, params);
  }
  aws::HttpResponse Sns(const std::string& action, const Form& params = {}) {
    return Query("sns", "2010-03-31", action, params);
  }
  aws::HttpResponse SecretsManager(const std::string& op, const nlohmann::json& body = nlohmann::json::object()) {
    return Json("secretsmanager", "secretsmanager." + op, body);
  }
  aws::HttpResponse Ssm(const std::string& op, const nlohmann::json& body = nlohmann::json::object()) {
    return Json("ssm", "AmazonSSM." + op, body);
  }
  aws::HttpResponse Organizations(const std::string& op, const nlohmann::json& body = nlohmann::json::object()) {
    return Json("organizations", "AWSOrganizationsV20161128." + op, body);
  }
  aws::HttpResponse CloudTrail(const std::string& op, const nlohmann::json& body = nlohmann::json::object()) {
    return Json("cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101." + op, body);
  }

  aws::HttpResponse Query(const std::string& service, const std::string& version, const std::string& action,
                          const Form& params) {
    Form all = {{"Action", action}, {"Version", version}};
    all.insert(all.end(), params.begin(), params.end());
    aws::HttpRequest request;
    request.method = "POST";
    request.url = kEndpoint;
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    request.body = EncodeForm(all);
    return Send(std::move(request), service);
  }

  aws::HttpResponse Json(const std::string& service, const std::string& target, const nlohmann::json& body) {
    aws::HttpRequest request;
    request.method = "POST";
    request.url = kEndpoint;
    request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
    request.headers.emplace_back("X-Amz-Target", target);
    request.body = body.dump();
    return Send(std::move(request), service);
  }

  aws::HttpResponse Send(aws::HttpRequest request, const std::string& service) {
    for (const auto& [name, value] : extra_headers) request.headers.emplace_back(name, value);
    if (sign) {
      aws::Credentials creds{access_key_id_, secret_.Clone(), session_token_.Clone(), std::nullopt, "test"};
      Status signed_ok = aws::SignRequest(request, creds, {region, scope_service.value_or(service)},
                                          signed_at.value_or(clock_->Now()));
      if (!signed_ok.ok()) {
        aws::HttpResponse failure;
        failure.status = -1;
        failure.body = signed_ok.ToString();
        return failure;
      }
    } else {
      aws::Url url = aws::ParseUrl(request.url).value();
      aws::SetHeader(request.headers, "Host", url.Authority());
    }
    last_control = net::ResponseControl{};
    return sandbox_.Handle(request, last_control);
  }

  static std::string EncodeForm(const Form& params) {
    std::string out;
    for (const auto& [k, v] : params) {
      if (!out.empty()) out += '&';
      out += UriEncode(k) + "=" + UriEncode(v);
    }
    return out;
  }

 private:
  Sandbox& sandbox_;
  Clock* clock_;
  std::string access_key_id_;
  Secret secret_;
  Secret session_token_;
};

// The text of every element with this name, in document order.
inline std::vector<std::string> XmlValues(const std::string& body, const std::string& element) {
  pugi::xml_document doc;
  std::vector<std::string> out;
  if (!doc.load_string(body.c_str())) return out;
  for (const auto& node : doc.select_nodes(("//" + element).c_str())) out.emplace_back(node.node().text().get());
  return out;
}

// The text of the first element with this name, or "" when absent.
inline std::string XmlValue(const std::string& body, const std::string& element) {
  auto all = XmlValues(body, element);
  return all.empty() ? "" : all.front();
}

inline bool XmlHas(const std::string& body, const std::string& element) {
  pugi::xml_document doc;
  return doc.load_string(body.c_str()) && !doc.select_nodes(("//" + element).c_str()).empty();
}

inline nlohmann::json JsonBody(const aws::HttpResponse& response) {
  return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

// The AWS error code of a response in either protocol ("" for a success).
inline std::string ErrorCode(const aws::HttpResponse& response) {
  if (response.status >= 200 && response.status < 300) return "";
  const std::string* type = aws::FindHeader(response.headers, "content-type");
  if (type && type->find("json") != std::string::npos) return JsonBody(response).value("__type", "");
  return XmlValue(response.body, "Code");
}

inline std::string ErrorMessage(const aws::HttpResponse& response) {
  const std::string* type = aws::FindHeader(response.headers, "content-type");
  if (type && type->find("json") != std::string::npos) {
    nlohmann::json body = JsonBody(response);
    return body.contains("Message") ? body.value("Message", "") : body.value("message", "");
  }
  return XmlValue(response.body, "Message");
}

// A start time for FakeClocks: a fixed instant, so messages and dates are predictable.
inline TimePoint TestEpoch() { return ParseIso8601("2026-03-01T12:00:00Z").value(); }

// A sandbox on a FakeClock with an admin and a client signed as that admin.
struct SandboxWorld {
  explicit SandboxWorld(const std::function<void(SandboxOptions&)>& configure = {}) : clock(TestEpoch()) {
    SandboxOptions options;
    options.clock = &clock;
    options.seed = 42;
    if (configure) configure(options);
    sandbox = std::make_unique<Sandbox>(options);
    admin = sandbox->CreateAdmin("admin");
  }

  // A client signed with `key` (the admin's by default).
  TestClient Client(const Sandbox::IssuedKey& key) {
    TestClient client(*sandbox, &clock);
    client.As(key);
    return client;
  }
  TestClient AdminClient() { return Client(admin); }

  FakeClock clock;
  std::unique_ptr<Sandbox> sandbox;
  Sandbox::IssuedKey admin;
};

}  // namespace keyrotor::sandbox::testing
