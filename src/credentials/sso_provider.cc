#include "credentials/sso_provider.h"

#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/file_util.h"
#include "base/secret.h"
#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::credentials {

SsoCredentialsProvider::SsoCredentialsProvider(aws::HttpTransport* transport, SsoOptions options)
    : transport_(transport), options_(std::move(options)) {}

std::string SsoCredentialsProvider::Name() const { return "SSO (profile " + options_.profile + ")"; }

std::string SsoCredentialsProvider::CacheFile() const {
  const std::string& key = options_.session_name.empty() ? options_.start_url : options_.session_name;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return options_.cache_dir + "/" +
         HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) + ".json";
}

Status SsoCredentialsProvider::Expired(const std::string& why) const {
  return Status::FailedPrecondition(Name() + ": " + why + "; run `aws sso login --profile " + options_.profile +
                                    "` and try again");
}

Result<aws::Credentials> SsoCredentialsProvider::GetCredentials() {
  const std::string cache_file = CacheFile();
  Result<std::string> cached = ReadFile(cache_file);
  if (!cached.ok()) {
    if (cached.status().IsNotFound()) return Expired("no SSO session token in " + cache_file);
    return cached.status().WithContext(Name());
  }
  nlohmann::json token = nlohmann::json::parse(*cached, nullptr, /*allow_exceptions=*/false);
  WipeJsonOnExit wipe_token(token);
  std::string text = std::move(cached).value();
  WipeString(text);
  if (!token.is_object() || !token.contains("accessToken") || !token["accessToken"].is_string() ||
      !token.contains("expiresAt") || !token["expiresAt"].is_string()) {
    return Status::ParseError(Name() + ": " + cache_file + " is not an SSO token cache (accessToken, expiresAt)");
  }
  Secret access_token(token["accessToken"].get<std::string>());
  Result<TimePoint> expires = ParseIso8601(token["expiresAt"].get<std::string>());
  if (!expires.ok()) return Status::ParseError(Name() + ": " + cache_file + ": expiresAt is not a timestamp");
  if (*expires <= options_.clock->Now()) return Expired("the SSO session expired at " + FormatIso8601(*expires));

  aws::HttpRequest request;
  request.method = "GET";
  std::string base = options_.portal_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  request.url = base + "/federation/credentials?account_id=" + UriEncode(options_.account_id) +
                "&role_name=" + UriEncode(options_.role_name);
  request.headers.emplace_back("x-amz-sso_bearer_token", access_token.reveal());
  aws::TransportOptions timeouts;
  timeouts.total_timeout = std::chrono::seconds(10);
  Result<aws::HttpResponse> response = transport_->Send(request, timeouts);
  if (!response.ok()) return response.status().WithContext(Name() + ": GetRoleCredentials");
  if (response->status == 401 || response->status == 403) {
    return Expired("the portal refused the SSO token (HTTP " + std::to_string(response->status) + ")");
  }
  if (response->status != 200) {
    AwsErrorDetail detail = aws::ParseJsonErrorBody(*response);
    return Status::Aws(detail, Name() + ": GetRoleCredentials");
  }
  nlohmann::json body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  WipeJsonOnExit wipe_body(body);
  nlohmann::json* rc = body.is_object() && body.contains("roleCredentials") ? &body["roleCredentials"] : nullptr;
  auto field = [&](const char* key) -> std::string {
    if (!rc || !rc->is_object() || !rc->contains(key) || !(*rc)[key].is_string()) return "";
    return (*rc)[key].get<std::string>();
  };
  aws::Credentials creds;
  creds.access_key_id = field("accessKeyId");
  creds.secret_access_key = Secret(field("secretAccessKey"));
  creds.session_token = Secret(field("sessionToken"));
  creds.provider = Name();
  if (creds.access_key_id.empty() || creds.secret_access_key.empty() || creds.session_token.empty() ||
      !rc->contains("expiration") || !(*rc)["expiration"].is_number()) {
    return Status::ParseError(Name() + ": GetRoleCredentials answer lacks roleCredentials fields");
  }
  // The portal gives the expiration in milliseconds since the epoch.
  creds.expiration = TimePoint{} + std::chrono::milliseconds((*rc)["expiration"].get<int64_t>());
  return creds;
}

}  // namespace keyrotor::credentials
