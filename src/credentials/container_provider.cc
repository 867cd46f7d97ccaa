#include "credentials/container_provider.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::credentials {
namespace {

constexpr char kContainerName[] = "container credentials provider";

// A string member, or nullptr when absent; `bad` set when present but not a string.
const std::string* StringMember(const nlohmann::json& j, const char* key, bool& bad) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  if (!it->is_string()) {
    bad = true;
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

Result<aws::Credentials> ParseDocument(const nlohmann::json& j, const std::string& provider,
                                       CredentialsJsonFormat format) {
  auto error = [&](const std::string& what) { return Status::ParseError(provider + ": " + what); };
  if (!j.is_object()) return error("response is not a JSON object");
  bool bad = false;
  const bool process = format == CredentialsJsonFormat::kProcess;
  if (process) {
    auto version = j.find("Version");
    if (version == j.end()) return error("output lacks \"Version\" (must be 1)");
    if (!version->is_number_integer() || version->get<int64_t>() != 1) {
      // Only a number is quoted back: any other value might be anything.
      return error("unsupported \"Version\"" + (version->is_number() ? " " + version->dump() : std::string()) +
                   " (must be the number 1)");
    }
  } else if (const std::string* code = StringMember(j, "Code", bad); code && *code != "Success") {
    const std::string* message = StringMember(j, "Message", bad);
    return Status::FailedPrecondition(provider + ": endpoint reported Code " + *code +
                                      (message ? ": " + *message : ""));
  }
  const char* token_key = process ? "SessionToken" : "Token";
  const std::string* id = StringMember(j, "AccessKeyId", bad);
  const std::string* secret = StringMember(j, "SecretAccessKey", bad);
  const std::string* token = StringMember(j, token_key, bad);
  const std::string* expiration = StringMember(j, "Expiration", bad);
  StringMember(j, "AccountId", bad);
  if (bad) return error("a credentials field is not a string");
  if (!id || id->empty()) return error("response lacks AccessKeyId");
  if (!secret || secret->empty()) return error("response lacks SecretAccessKey");
  if (!process && (!token || token->empty())) return error("response lacks Token");
  if (!process && !expiration) return error("response lacks Expiration");

  aws::Credentials creds;
  creds.access_key_id = *id;
  creds.secret_access_key = Secret(*secret);
  if (token) creds.session_token = Secret(*token);
  if (expiration) {
    Result<TimePoint> when = ParseIso8601(*expiration);
    if (!when.ok()) return error("Expiration '" + *expiration + "' is not an ISO-8601 time");
    creds.expiration = *when;
  }
  creds.provider = provider;
  return creds;
}

}  // namespace

Result<aws::Credentials> ParseCredentialsJson(std::string_view body, const std::string& provider,
                                              CredentialsJsonFormat format) {
  // No exceptions: nlohmann's parse_error text quotes the bytes around the fault.
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::ParseError(provider + ": response is not valid JSON");
  Result<aws::Credentials> result = ParseDocument(j, provider, format);
  WipeJson(j);
  return result;
}

Status CheckContainerUrlAllowed(const std::string& text) {
  Result<aws::Url> url = aws::ParseUrl(text);
  if (!url.ok()) return url.status();
  if (url->scheme == "https" || url->IsLoopback()) return Status::Ok();
  const std::string host = ToLower(url->host);
  // ECS (169.254.170.2) and EKS Pod Identity (169.254.170.23, fd00:ec2::23):
  // link-local, reachable only from inside the task or pod.
  if (host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23") return Status::Ok();
  return Status::InvalidArgument("AWS_CONTAINER_CREDENTIALS_FULL_URI host '" + url->host +
                                 "' is not allowed: use https, a loopback host or a container endpoint");
}

ContainerCredentialsProvider::ContainerCredentialsProvider(aws::HttpTransport* transport, ContainerOptions options)
    : transport_(transport), options_(std::move(options)) {}

bool ContainerCredentialsProvider::IsConfigured(const EnvMap& env) {
  return EnvValue(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || EnvValue(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

Result<std::string> ContainerCredentialsProvider::Url() const {
  if (auto relative = EnvValue(options_.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    return options_.relative_uri_base + *relative;
  }
  if (auto full = EnvValue(options_.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    KR_RETURN_IF_ERROR(CheckContainerUrlAllowed(*full));
    return *full;
  }
  return Status::NotFound(
      "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
}

Result<std::string> ContainerCredentialsProvider::AuthorizationHeader() const {
  std::string value;
  const char* source = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
  if (auto path = EnvValue(options_.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    // Read on every call: EKS Pod Identity rotates the token in this file.
    KR_ASSIGN_OR_RETURN(std::string contents, ReadFile(*path));
    // A trailing newline from `echo` or a mounted secret is not part of the token.
    value = std::string(Trim(contents));
    WipeString(contents);
    source = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
  } else if (auto token = EnvValue(options_.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    value = *token;
  }
  // A CR or LF would let the token inject headers into the request.
  if (value.find_first_of("\r\n") != std::string::npos) {
    WipeString(value);
    return Status::InvalidArgument(std::string("the token from ") + source + " contains CR or LF");
  }
  return value;
}

Result<aws::Credentials> ContainerCredentialsProvider::GetCredentials() {
  auto fail = [](const Status& s) { return s.WithContext(kContainerName); };
  Result<std::string> url = Url();
  if (!url.ok()) return fail(url.status());
  Result<std::string> auth = AuthorizationHeader();
  if (!auth.ok()) return fail(auth.status());

  aws::HttpRequest request;
  request.method = "GET";
  request.url = *url;
  request.headers.emplace_back("Accept", "application/json");
  if (!auth->empty()) request.headers.emplace_back("Authorization", *auth);
  WipeString(*auth);
  aws::TransportOptions timeouts{options_.timeout, options_.timeout};

  Status last;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1) options_.clock->SleepFor(options_.retry_delay);
    Result<aws::HttpResponse> response = transport_->Send(request, timeouts);
    if (!response.ok()) {
      last = response.status();
      continue;
    }
    if (response->status != 200) {
      last = Status::FailedPrecondition("GET " + *url + " answered HTTP " + std::to_string(response->status));
      // Client errors (a bad token) will not change on retry.
      if (response->status >= 400 && response->status < 500 && response->status != 429) break;
      continue;
    }
    return ParseCredentialsJson(response->body, kContainerName, CredentialsJsonFormat::kMetadata);
  }
  return fail(last);
}

}  // namespace keyrotor::credentials
