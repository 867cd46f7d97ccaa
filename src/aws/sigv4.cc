#include "aws/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <map>

#include "base/crypto.h"
#include "base/strings.h"

namespace keyrotor::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Header values are trimmed and runs of spaces collapse to one (SigV4 spec,
// suite case get-header-value-trim); folded lines arrive joined by the parser.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool in_space = false;
  for (char c : Trim(value)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

bool IsUnsignedHeader(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
         lower_name == "x-amzn-trace-id" || lower_name == "connection" || lower_name == "content-length" ||
         lower_name == "transfer-encoding" || lower_name == "accept-encoding";
}

std::string CanonicalUri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  if (!normalize) return UriEncode(path, /*keep_slash=*/true);
  // RFC 3986 remove_dot_segments over '/'-separated segments, with empty
  // segments dropped (suite cases normalize-path/get-slash*).
  std::vector<std::string_view> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    start = end + 1;
  }
  std::string result;
  for (auto seg : out) result += "/" + UriEncode(seg);
  bool trailing = path.size() > 1 && (path.back() == '/' || path.ends_with("/.") || path.ends_with("/.."));
  if (result.empty()) return "/";
  if (trailing) result += "/";
  return result;
}

std::string CanonicalQueryString(std::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> params;
  for (const std::string& part : Split(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = part.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    // Decode then encode strictly, so "%E1%88%B4" and a raw "ሴ" canonicalize alike.
    params.emplace_back(UriEncode(UriDecode(key)), UriEncode(UriDecode(value)));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

std::vector<std::string> HeadersToSign(const HeaderList& headers) {
  std::vector<std::string> names;
  for (const auto& [k, v] : headers) {
    std::string lower = ToLower(k);
    if (!IsUnsignedHeader(lower)) names.push_back(std::move(lower));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<std::string> CanonicalRequest(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                                     std::string_view payload_hash, bool normalize_path) {
  KR_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  // Repeated headers join with ',' in the order received (suite case get-header-key-duplicate).
  std::map<std::string, std::string> values;
  for (const auto& [k, v] : request.headers) {
    std::string lower = ToLower(k);
    if (!std::binary_search(signed_headers.begin(), signed_headers.end(), lower)) continue;
    auto [it, inserted] = values.emplace(lower, CanonicalHeaderValue(v));
    if (!inserted) it->second += "," + CanonicalHeaderValue(v);
  }
  std::string out;
  out.reserve(256 + request.body.size() / 8);
  out += request.method + "\n" + CanonicalUri(url.path, normalize_path) + "\n" + CanonicalQueryString(url.query) + "\n";
  std::string names;
  for (const std::string& name : signed_headers) {
    auto it = values.find(name);
    if (it == values.end()) {
      if (name != "host") return Status::InvalidArgument("signed header '" + name + "' is not in the request");
      out += "host:" + url.Authority() + "\n";
    } else {
      out += name + ":" + it->second + "\n";
    }
    if (!names.empty()) names.push_back(';');
    names += name;
  }
  out += "\n" + names + "\n";
  out += payload_hash;
  return out;
}

std::string CredentialScope(std::string_view date, const SigningScope& scope) {
  return std::string(date) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += "\n";
  out += amz_date;
  out += "\n";
  out += credential_scope;
  out += "\n";
  out += HexSha256(canonical_request);
  return out;
}

std::string DeriveSigningKey(const Secret& secret, std::string_view date, const SigningScope& scope) {
  std::string key = "AWS4" + secret.reveal();
  std::string k_date = HmacSha256(key, date);
  WipeString(key);
  std::string k_region = HmacSha256(k_date, scope.region);
  std::string k_service = HmacSha256(k_region, scope.service);
  std::string k_signing = HmacSha256(k_service, "aws4_request");
  WipeString(k_date);
  WipeString(k_region);
  WipeString(k_service);
  return k_signing;
}

Status SignRequest(HttpRequest& request, const Credentials& credentials, const SigningScope& scope, TimePoint now,
                   const SignOptions& options) {
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return Status::InvalidArgument("cannot sign a request without an access key id and secret");
  }
  KR_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  if (!FindHeader(request.headers, "host")) SetHeader(request.headers, "Host", url.Authority());
  const std::string* date_header = FindHeader(request.headers, "x-amz-date");
  std::string amz_date = date_header ? *date_header : FormatAmzDate(now);
  if (!date_header) SetHeader(request.headers, "X-Amz-Date", amz_date);
  bool token = credentials.IsTemporary();
  if (token && options.sign_session_token) {
    SetHeader(request.headers, "X-Amz-Security-Token", credentials.session_token.reveal());
  }
  std::vector<std::string> signed_headers = HeadersToSign(request.headers);
  KR_ASSIGN_OR_RETURN(std::string creq,
                      CanonicalRequest(request, signed_headers, HexSha256(request.body), options.normalize_path));
  std::string date = amz_date.substr(0, 8);
  std::string scope_text = CredentialScope(date, scope);
  std::string key = DeriveSigningKey(credentials.secret_access_key, date, scope);
  std::string signature = HexEncode(HmacSha256(key, StringToSign(amz_date, scope_text, creq)));
  WipeString(key);
  std::string names;
  for (const auto& n : signed_headers) names += (names.empty() ? "" : ";") + n;
  SetHeader(request.headers, "Authorization",
            std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope_text +
                ", SignedHeaders=" + names + ", Signature=" + signature);
  if (token && !options.sign_session_token) {
    SetHeader(request.headers, "X-Amz-Security-Token", credentials.session_token.reveal());
  }
  return Status::Ok();
}

Result<ParsedAuthorization> ParseAuthorization(std::string_view header) {
  header = Trim(header);
  if (!StartsWith(header, kAlgorithm) || header.size() <= kAlgorithm.size() || header[kAlgorithm.size()] != ' ') {
    return Status::InvalidArgument("Authorization header does not use AWS4-HMAC-SHA256");
  }
  ParsedAuthorization out;
  bool have_credential = false, have_headers = false, have_signature = false;
  for (const std::string& raw : Split(header.substr(kAlgorithm.size() + 1), ',')) {
    std::string_view part = Trim(raw);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Status::InvalidArgument("malformed Authorization component");
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "Credential") {
      std::vector<std::string> fields = Split(value, '/');
      if (fields.size() != 5 || fields[4] != "aws4_request" || fields[0].empty() || fields[1].size() != 8) {
        return Status::InvalidArgument("malformed Credential in Authorization header");
      }
      out.access_key_id = fields[0];
      out.date = fields[1];
      out.scope = {fields[2], fields[3]};
      have_credential = true;
    } else if (name == "SignedHeaders") {
      out.signed_headers = Split(value, ';');
      have_headers = !value.empty();
    } else if (name == "Signature") {
      out.signature = std::string(value);
      have_signature = out.signature.size() == 64;
    }
  }
  if (!have_credential || !have_headers || !have_signature) {
    return Status::InvalidArgument("Authorization header lacks Credential, SignedHeaders or Signature");
  }
  return out;
}

bool VerifySignature(const HttpRequest& request, const ParsedAuthorization& auth, const Secret& secret,
                     std::string* string_to_sign) {
  const std::string* amz_date = FindHeader(request.headers, "x-amz-date");
  if (!amz_date || amz_date->substr(0, 8) != auth.date) return false;
  std::vector<std::string> names = auth.signed_headers;
  for (auto& n : names) n = ToLower(n);
  if (!std::is_sorted(names.begin(), names.end())) return false;
  const std::string* content_hash = FindHeader(request.headers, "x-amz-content-sha256");
  std::string payload_hash =
      content_hash && *content_hash != "UNSIGNED-PAYLOAD" ? *content_hash : HexSha256(request.body);
  if (content_hash && *content_hash != "UNSIGNED-PAYLOAD" && *content_hash != HexSha256(request.body)) return false;
  Result<std::string> creq = CanonicalRequest(request, names, payload_hash);
  if (!creq.ok()) return false;
  std::string sts = StringToSign(*amz_date, CredentialScope(auth.date, auth.scope), *creq);
  std::string key = DeriveSigningKey(secret, auth.date, auth.scope);
  std::string expected = HexEncode(HmacSha256(key, sts));
  WipeString(key);
  if (string_to_sign) *string_to_sign = sts;
  return expected.size() == auth.signature.size() &&
         CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) == 0;
}

}  // namespace keyrotor::aws
