// The sandbox's side of the wire (aws-wire.md): a request routed to its
// service and operation, its parameters read; answers are wire_reply.cc,
// pagination wire_paging.cc.
#include "sandbox/wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "aws/sigv4.h"
#include "base/crypto.h"
#include "base/secret.h"
#include "base/strings.h"

namespace keyrotor::sandbox {
namespace {

Service ServiceFromVersion(std::string_view version) {
  if (version == "2010-05-08") return Service::kIam;
  if (version == "2011-06-15") return Service::kSts;
  if (version == "2010-03-31") return Service::kSns;
  return Service::kUnknown;
}

Service ServiceFromSigningName(std::string_view name) {
  if (name == "iam") return Service::kIam;
  if (name == "sts") return Service::kSts;
  if (name == "sns") return Service::kSns;
  if (name == "secretsmanager") return Service::kSecretsManager;
  if (name == "ssm") return Service::kSsm;
  if (name == "organizations") return Service::kOrganizations;
  if (name == "cloudtrail") return Service::kCloudTrail;
  return Service::kUnknown;
}

void ParseForm(std::string_view text, Params& out) {
  if (text.empty()) return;
  for (const std::string& pair : Split(text, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = UriDecode(std::string_view(pair).substr(0, eq), /*plus_as_space=*/true);
    std::string value = eq == std::string::npos ? "" : UriDecode(std::string_view(pair).substr(eq + 1), true);
    out.insert_or_assign(std::move(key), std::move(value));
  }
}

}  // namespace

std::string_view SigningName(Service service) {
  switch (service) {
    case Service::kIam:
      return "iam";
    case Service::kSts:
      return "sts";
    case Service::kSns:
      return "sns";
    case Service::kSecretsManager:
      return "secretsmanager";
    case Service::kSsm:
      return "ssm";
    case Service::kOrganizations:
      return "organizations";
    case Service::kCloudTrail:
      return "cloudtrail";
    case Service::kUnknown:
      break;
  }
  return "";
}

bool IsJsonService(Service service) {
  return service == Service::kSecretsManager || service == Service::kSsm || service == Service::kOrganizations ||
         service == Service::kCloudTrail;
}

Status ApiError(int http_status, std::string code, std::string message) {
  return Status::Aws(AwsErrorDetail{std::move(code), std::move(message), "", http_status}, "");
}

std::string ValidationMessage(std::string_view value, std::string_view member, std::string_view constraint) {
  return "1 validation error detected: Value '" + std::string(value) + "' at '" + std::string(member) +
         "' failed to satisfy constraint: " + std::string(constraint);
}

std::string NullValidationMessage(std::string_view member) {
  return "1 validation error detected: Value null at '" + std::string(member) +
         "' failed to satisfy constraint: Member must not be null";
}

Status Route(const aws::HttpRequest& request, RoutedRequest& out) {
  if (const std::string* auth = aws::FindHeader(request.headers, "authorization")) {
    Result<aws::ParsedAuthorization> parsed = aws::ParseAuthorization(*auth);
    if (parsed.ok()) out.scope_service = parsed->scope.service;
  }
  if (const std::string* target = aws::FindHeader(request.headers, "x-amz-target")) {
    out.json_protocol = true;
    // The operation follows the last '.': CloudTrail's prefix has dots of its own.
    size_t dot = target->rfind('.');
    std::string_view prefix = std::string_view(*target).substr(0, dot);
    out.operation = dot == std::string::npos ? "" : target->substr(dot + 1);
    if (prefix == "secretsmanager") {
      out.service = Service::kSecretsManager;
    } else if (prefix == "AmazonSSM") {
      out.service = Service::kSsm;
    } else if (prefix == "AWSOrganizationsV20161128") {
      out.service = Service::kOrganizations;
    } else if (prefix == "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101") {
      out.service = Service::kCloudTrail;
    } else {
      return ApiError(400, "UnknownOperationException", "Unknown operation " + *target);
    }
    std::string_view body = Trim(request.body);
    if (body.empty()) {
      out.body = nlohmann::json::object();
      return Status::Ok();
    }
    out.body = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!out.body.is_object()) {
      out.body = nlohmann::json::object();
      return ApiError(400, "SerializationException", "Start of structure or map found where not expected.");
    }
    return Status::Ok();
  }

  // Query protocol: parameters may arrive in the URL (GET style) and the form body; the body wins.
  Result<aws::Url> url = aws::ParseUrl(request.url);
  if (url.ok()) ParseForm(url->query, out.params);
  ParseForm(request.body, out.params);
  const std::string* action = FindParam(out.params, "Action");
  const std::string* version = FindParam(out.params, "Version");
  out.service = version ? ServiceFromVersion(*version) : ServiceFromSigningName(out.scope_service);
  if (IsJsonService(out.service)) out.service = Service::kUnknown;
  if (!action || action->empty()) {
    return ApiError(400, "MissingAction", "Missing Action");
  }
  out.operation = *action;
  if (out.service == Service::kUnknown) {
    return ApiError(
        400, "InvalidAction",
        "Could not find operation " + *action + " for version " + (version ? *version : "NO_VERSION_SPECIFIED"));
  }
  return Status::Ok();
}

const std::string* FindParam(const Params& params, std::string_view name) {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

std::vector<std::string> MemberList(const Params& params, std::string_view name) {
  std::vector<std::string> out;
  for (size_t i = 1;; ++i) {
    const std::string* v = FindParam(params, std::string(name) + ".member." + std::to_string(i));
    if (!v) break;
    out.push_back(*v);
  }
  return out;
}

std::vector<std::map<std::string, std::string>> MemberStructs(const Params& params, std::string_view name) {
  std::vector<std::map<std::string, std::string>> out;
  for (size_t i = 1;; ++i) {
    std::string prefix = std::string(name) + ".member." + std::to_string(i) + ".";
    auto it = params.lower_bound(prefix);
    std::map<std::string, std::string> fields;
    for (; it != params.end() && StartsWith(it->first, prefix); ++it) {
      fields.emplace(it->first.substr(prefix.size()), it->second);
    }
    if (fields.empty()) break;
    out.push_back(std::move(fields));
  }
  return out;
}

namespace {

Status WrongType(const char* name, const char* expected) {
  return ApiError(400, "SerializationException",
                  std::string("Unexpected value type for ") + name + ": expected " + expected);
}

std::string LowerCamel(const char* name) {
  std::string out(name);
  if (!out.empty()) out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  return out;
}

}  // namespace

Result<std::optional<std::string>> OptionalString(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return WrongType(name, "a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> RequiredString(const nlohmann::json& body, const char* name) {
  KR_ASSIGN_OR_RETURN(std::optional<std::string> value, OptionalString(body, name));
  if (!value) return ApiError(400, "ValidationException", NullValidationMessage(LowerCamel(name)));
  return std::move(*value);
}

Result<std::optional<bool>> OptionalBool(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return WrongType(name, "a boolean");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::vector<std::string>>> OptionalStringList(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  if (!it->is_array()) return WrongType(name, "a list of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) return WrongType(name, "a list of strings");
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

double EpochSeconds(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return static_cast<double>(ms) / 1000.0;
}

}  // namespace keyrotor::sandbox
