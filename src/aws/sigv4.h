// AWS Signature Version 4 (header form): canonical request, string to sign,
// key derivation and the Authorization header. The same functions serve the
// client (signing) and the sandbox (verifying), so both agree by construction
// and the AWS test suite in shared/testdata/sigv4 checks them together.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/http.h"
#include "base/clock.h"

namespace keyrotor::aws {

struct SigningScope {
  std::string region;
  std::string service;
};

struct SignOptions {
  // Temporary credentials: sign X-Amz-Security-Token (as botocore does) or add
  // it after signing (the suite's post-sts-header-after case).
  bool sign_session_token = true;
  // Every service but S3 normalizes the path (remove dot segments, collapse //).
  bool normalize_path = true;
};

// Headers the signer leaves out of SignedHeaders because proxies and HTTP
// stacks rewrite them (botocore's list plus hop-by-hop headers).
bool IsUnsignedHeader(std::string_view lower_name);

std::string CanonicalUri(std::string_view path, bool normalize);
std::string CanonicalQueryString(std::string_view query);
// Lower-cased, sorted, de-duplicated names of the headers to sign.
std::vector<std::string> HeadersToSign(const HeaderList& headers);
// The canonical request over the given signed headers (lower case, sorted).
// Fails when a signed header is missing from the request.
Result<std::string> CanonicalRequest(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                                     std::string_view payload_hash, bool normalize_path = true);
std::string CredentialScope(std::string_view date, const SigningScope& scope);
std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request);
std::string DeriveSigningKey(const Secret& secret, std::string_view date, const SigningScope& scope);

// Signs in place: sets Host (from the URL unless present) and X-Amz-Date
// (from `now` unless present), X-Amz-Security-Token for temporary credentials,
// then Authorization.
Status SignRequest(HttpRequest& request, const Credentials& credentials, const SigningScope& scope, TimePoint now,
                   const SignOptions& options = {});

// The parts of an Authorization header, for verification.
struct ParsedAuthorization {
  std::string access_key_id;
  std::string date;  // YYYYMMDD
  SigningScope scope;
  std::vector<std::string> signed_headers;
  std::string signature;  // lower-case hex
};
Result<ParsedAuthorization> ParseAuthorization(std::string_view header);

// Recomputes the signature of a received request with `secret` and compares
// in constant time. Returns the expected signature's string to sign in
// *string_to_sign (AWS puts it in SignatureDoesNotMatch messages).
bool VerifySignature(const HttpRequest& request, const ParsedAuthorization& auth, const Secret& secret,
                     std::string* string_to_sign = nullptr);

}  // namespace keyrotor::aws
