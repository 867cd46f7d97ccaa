#include "destinations/vault_kv_api.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::destinations {
namespace {

// A login token is replaced once 80% of its lease has passed, so a slow
// rotation never sends one that expires in flight (Vault's own agent renews
// at about two thirds; a fresh login is as cheap here).
constexpr double kVaultLeaseUse = 0.8;

// {"errors": ["...", ...]} ("HTTP API", "Error Response"), joined and cut short.
std::string VaultErrors(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string out;
  if (doc.is_object()) {
    if (auto it = doc.find("errors"); it != doc.end() && it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_string()) continue;
        if (!out.empty()) out += "; ";
        out += std::string(Trim(e.get<std::string>()));
      }
    }
  }
  WipeJson(doc);
  if (out.size() > 300) out = out.substr(0, 300) + "...";
  return out;
}

Status VaultHttpError(int status, const std::string& errors, std::string_view method, const std::string& path,
                      std::string_view what) {
  std::string msg = std::string(what) + " (" + std::string(method) + " /v1/" + path + "): HTTP " +
                    std::to_string(status);
  if (!errors.empty()) msg += ": Vault says \"" + errors + "\"";
  switch (status) {
    case 403:
      return Status::PermissionDenied(msg + " (the token is invalid or expired, or its policies do not allow this)");
    case 404:
      return Status::NotFound(msg + " (no such secret or mount)");
    case 429:
    case 503:
      // A standby node or a sealed / maintenance server: refused, not applied.
      return Status::NetworkError(msg);
    default:
      if (status >= 500) return Status::UnknownOutcome(msg);
      return Status::InvalidArgument(msg);
  }
}

bool VaultRetriable(const Status& s) {
  return s.code() == StatusCode::kNetworkError || s.code() == StatusCode::kUnknownOutcome;
}

Result<Secret> ReadSecretFile(const std::string& path, std::string_view what) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return Status::InvalidArgument(std::string(what) + ": " + text.status().message());
  std::string value(Trim(*text));
  WipeString(*text);
  if (value.empty()) return Status::InvalidArgument(std::string(what) + " " + path + " is empty");
  return TakeSecret(value);
}

}  // namespace

Result<std::string> NormalizeVaultAddr(std::string_view addr) {
  std::string text(Trim(addr));
  while (!text.empty() && text.back() == '/') text.pop_back();
  Result<aws::Url> parsed = aws::ParseUrl(text);
  if (!parsed.ok()) return Status::InvalidArgument("Vault address '" + text + "': " + parsed.status().message());
  if (!parsed->query.empty() || parsed->path != "/") {
    return Status::InvalidArgument("Vault address '" + text + "' must be scheme://host[:port], without a path");
  }
  Status safe = aws::CheckUrlIsSafe(*parsed);
  if (!safe.ok()) return Status::InvalidArgument("Vault address: " + safe.message());
  return text;
}

Result<std::unique_ptr<VaultKvApi>> VaultKvApi::Make(const VaultKvSettings& settings, aws::HttpTransport* transport,
                                                     Clock* clock, aws::TransportOptions timeouts) {
  std::unique_ptr<VaultKvApi> api(new VaultKvApi());
  api->clock_ = clock ? clock : Clock::Real();
  api->timeouts_ = timeouts;
  if (std::optional<std::string> skip = EnvValue(settings.env, "VAULT_SKIP_VERIFY");
      skip && ToLower(*skip) != "false" && *skip != "0") {
    return Status::InvalidArgument(
        "VAULT_SKIP_VERIFY is set: keyrotor always verifies the Vault server's certificate; give its CA with "
        "VAULT_CACERT (or the CA certificate option) instead");
  }
  std::string addr = settings.addr;
  if (addr.empty()) addr = EnvValue(settings.env, "VAULT_ADDR").value_or(kVaultDefaultAddr);
  KR_ASSIGN_OR_RETURN(api->addr_, NormalizeVaultAddr(addr));
  api->namespace_ = settings.namespace_.empty() ? EnvValue(settings.env, "VAULT_NAMESPACE").value_or("")
                                                : settings.namespace_;
  while (!api->namespace_.empty() && api->namespace_.back() == '/') api->namespace_.pop_back();

  std::string ca = settings.ca_cert.empty() ? EnvValue(settings.env, "VAULT_CACERT").value_or("") : settings.ca_cert;
  if (!ca.empty()) {
    Result<std::string> pem = ReadFile(ca);
    if (!pem.ok()) return Status::InvalidArgument("Vault CA certificate: " + pem.status().message());
    if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Status::InvalidArgument("Vault CA certificate " + ca + " holds no PEM certificate");
    }
    aws::CurlTransportOptions curl;
    curl.ca_bundle = ca;
    api->own_transport_ = std::make_unique<aws::CurlTransport>(curl);
    api->transport_ = api->own_transport_.get();
  } else {
    api->transport_ = transport;
  }
  if (api->transport_ == nullptr) return Status::Internal("Vault: no HTTP transport");

  api->auth_ = settings.auth.empty() ? "token" : settings.auth;
  if (api->auth_ == "approle") {
    if (settings.role_id.empty() || settings.secret_id_file.empty()) {
      return Status::InvalidArgument("Vault AppRole login needs a role_id and a secret_id file");
    }
    api->auth_mount_ = settings.auth_mount.empty() ? "approle" : settings.auth_mount;
    api->role_id_ = settings.role_id;
    api->secret_id_file_ = settings.secret_id_file;
    // Read now, so a missing secret_id is refused before any key exists.
    KR_ASSIGN_OR_RETURN(Secret secret_id, ReadSecretFile(api->secret_id_file_, "Vault AppRole secret_id file"));
    return api;
  }
  if (api->auth_ == "kubernetes") {
    if (settings.role.empty()) return Status::InvalidArgument("Vault Kubernetes login needs a role");
    api->auth_mount_ = settings.auth_mount.empty() ? "kubernetes" : settings.auth_mount;
    api->role_ = settings.role;
    api->jwt_file_ = settings.jwt_file.empty() ? kVaultDefaultJwtFile : settings.jwt_file;
    KR_ASSIGN_OR_RETURN(Secret jwt, ReadSecretFile(api->jwt_file_, "Kubernetes service-account token file"));
    return api;
  }
  if (api->auth_ != "token") {
    return Status::InvalidArgument("Vault auth method '" + api->auth_ + "' is not one of token, approle, kubernetes");
  }
  // As the vault CLI: a token given explicitly, else VAULT_TOKEN, else the
  // default token helper's file, ~/.vault-token.
  if (!settings.token_file.empty()) {
    KR_ASSIGN_OR_RETURN(api->token_, ReadSecretFile(settings.token_file, "Vault token file"));
    return api;
  }
  if (std::optional<std::string> token = EnvValue(settings.env, "VAULT_TOKEN")) {
    api->token_ = TakeSecret(*token);
    return api;
  }
  if (std::optional<std::string> home = EnvValue(settings.env, "HOME")) {
    std::string helper = *home + "/.vault-token";
    std::error_code ec;
    if (std::filesystem::exists(helper, ec)) {
      KR_ASSIGN_OR_RETURN(api->token_, ReadSecretFile(helper, "Vault token file"));
      return api;
    }
  }
  return Status::InvalidArgument(
      "no Vault token: set VAULT_TOKEN, give a token file, log in with `vault login` (~/.vault-token), or use "
      "AppRole or Kubernetes auth");
}

// "AppRole auth method (API)", "Login with AppRole"; "Kubernetes auth method
// (API)", "Login". Both answer {"auth": {"client_token", "lease_duration"
// (seconds; 0 = no expiry), "renewable", ...}}.
Result<Secret> VaultKvApi::Login() {
  nlohmann::json body;
  std::string what;
  if (auth_ == "approle") {
    KR_ASSIGN_OR_RETURN(Secret secret_id, ReadSecretFile(secret_id_file_, "Vault AppRole secret_id file"));
    body = {{"role_id", role_id_}, {"secret_id", secret_id.reveal()}};
    what = "Vault AppRole login (role_id " + role_id_ + ")";
  } else {
    // Read each time: the kubelet rotates projected service-account tokens.
    KR_ASSIGN_OR_RETURN(Secret jwt, ReadSecretFile(jwt_file_, "Kubernetes service-account token file"));
    body = {{"role", role_}, {"jwt", jwt.reveal()}};
    what = "Vault Kubernetes login (role " + role_ + ")";
  }
  std::string text = body.dump();
  WipeJson(body);
  Result<VaultReply> reply = Send("POST", "auth/" + auth_mount_ + "/login", text, nullptr, what, {});
  WipeString(text);
  if (!reply.ok()) return reply.status();
  nlohmann::json doc = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  std::string token;
  int64_t lease = 0;
  if (doc.is_object() && doc.contains("auth") && doc["auth"].is_object()) {
    const nlohmann::json& auth = doc["auth"];
    if (auto it = auth.find("client_token"); it != auth.end() && it->is_string()) token = it->get<std::string>();
    if (auto it = auth.find("lease_duration"); it != auth.end() && it->is_number_integer()) lease = it->get<int64_t>();
  }
  WipeJson(doc);
  if (token.empty()) return Status::ParseError(what + ": the reply has no auth.client_token");
  token_expires_ = lease > 0;
  token_refresh_at_ = clock_->Now() + Duration(static_cast<int64_t>(static_cast<double>(lease) * 1000 * kVaultLeaseUse));
  token_ = TakeSecret(token);
  return token_.Clone();
}

Result<Secret> VaultKvApi::Token(bool relogin) {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (auth_ == "token") return token_.Clone();
  if (!relogin && !token_.empty() && (!token_expires_ || clock_->Now() < token_refresh_at_)) return token_.Clone();
  return Login();
}

Result<VaultReply> VaultKvApi::Call(std::string_view method, const std::string& path, const std::string& body,
                                    std::string_view what, std::vector<int> accept) {
  KR_ASSIGN_OR_RETURN(Secret token, Token(false));
  Result<VaultReply> reply = Send(method, path, body, &token, what, accept);
  // A login token can expire or be revoked mid-run; Vault then answers 403
  // "permission denied" like any other refusal. Log in again, once: a real
  // policy refusal answers 403 again.
  if (!reply.ok() && auth_ != "token" && last_http_status_ == 403) {
    KR_ASSIGN_OR_RETURN(Secret fresh, Token(true));
    reply = Send(method, path, body, &fresh, what, accept);
  }
  return reply;
}

Result<VaultReply> VaultKvApi::Send(std::string_view method, const std::string& path, const std::string& body,
                                    const Secret* token, std::string_view what, const std::vector<int>& accept) {
  aws::HttpRequest request;
  request.method = std::string(method);
  request.url = addr_ + "/v1/" + path;
  // X-Vault-Request: the CLI and the Go client always send it, and a Vault
  // Agent listener with require_request_header refuses requests without it
  // (its guard against request forgery).
  request.headers = {{"X-Vault-Request", "true"}, {"User-Agent", "keyrotor/" KEYROTOR_VERSION}};
  if (!namespace_.empty()) request.headers.emplace_back("X-Vault-Namespace", namespace_);
  if (token != nullptr) request.headers.emplace_back("X-Vault-Token", std::string(token->reveal()));
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body;
  }
  auto wipe = [&request] {
    for (auto& [name, value] : request.headers) {
      if (EqualsIgnoreCase(name, "X-Vault-Token")) WipeString(value);
    }
    WipeString(request.body);
  };
  last_http_status_ = 0;
  last_errors_.clear();
  Status last;
  Duration backoff = retry_.base_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<aws::HttpResponse> response = transport_->Send(request, timeouts_);
    if (!response.ok()) {
      last = response.status().WithContext(std::string(what) + " (" + std::string(method) + " /v1/" + path + ")");
      if (!VaultRetriable(response.status())) break;
    } else {
      last_http_status_ = response->status;
      int status = response->status;
      if ((status >= 200 && status < 300) || std::find(accept.begin(), accept.end(), status) != accept.end()) {
        VaultReply reply;
        reply.status = status;
        reply.body = std::move(response->body);
        wipe();
        return reply;
      }
      last_errors_ = VaultErrors(response->body);
      last = VaultHttpError(status, last_errors_, method, path, what);
      if (status != 429 && status < 500) break;
      // A Retry-After (a load balancer or a rate-limit quota in front of
      // Vault) is honoured up to a bound; longer waits fail now, transient.
      if (const std::string* after = aws::FindHeader(response->headers, "retry-after")) {
        char* end = nullptr;
        long long seconds = std::strtoll(after->c_str(), &end, 10);
        if (end != after->c_str() && *end == '\0' && seconds >= 0) {
          Duration wait(seconds * 1000);
          if (wait > retry_.max_retry_after) {
            last = Status::NetworkError(last.message() + ": asked to wait " + std::to_string(seconds) +
                                        " s, longer than keyrotor waits; try again later");
            break;
          }
          if (attempt >= retry_.max_attempts) {
            last = last.WithContext("gave up after " + std::to_string(attempt) + " attempts");
            break;
          }
          clock_->SleepFor(wait);
          continue;
        }
      }
    }
    if (attempt >= retry_.max_attempts) {
      last = last.WithContext("gave up after " + std::to_string(attempt) + " attempts");
      break;
    }
    clock_->SleepFor(backoff);
    backoff *= 2;
  }
  wipe();
  return last;
}

}  // namespace keyrotor::destinations
