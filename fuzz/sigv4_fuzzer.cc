// SigV4 (aws/sigv4.h): the canonical request, the Authorization header parser
// and the verifier the sandbox uses, checked against the signer.
//
// Input (FuzzedDataProvider): a mode, then method, URL, headers, body and an
// Authorization header. Properties:
//  - sign then verify: a request SignRequest() accepts carries an
//    Authorization header that ParseAuthorization() accepts, naming our key,
//    date and scope, and VerifySignature() accepts it with the same secret and
//    rejects it with another one or once the body changes;
//  - the canonical request is a function of the request: a header's case and
//    the order of distinct headers do not change it; CanonicalQueryString()
//    is idempotent and CanonicalUri() always starts with '/';
//  - ParseAuthorization() of arbitrary text: when it succeeds, the signature
//    is 64 characters and the date 8, and VerifySignature() never crashes on it.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "aws/sigv4.h"
#include "base/crypto.h"
#include "base/strings.h"
#include "fuzz_check.h"

namespace {

using namespace keyrotor::aws;
using keyrotor::HexSha256;
using keyrotor::Result;
using keyrotor::Secret;

// RFC 9110 token characters: what a header name can be on the wire.
std::string TokenFrom(FuzzedDataProvider& in) {
  static constexpr char kTchar[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string raw = in.ConsumeRandomLengthString(24);
  std::string out;
  for (char c : raw) out.push_back(kTchar[static_cast<unsigned char>(c) % (sizeof(kTchar) - 1)]);
  if (out.empty()) out = "x-amz-meta";
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

constexpr char kDate[] = "20150830T123600Z";

void Run(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int mode = in.ConsumeIntegralInRange(0, 2);
  HttpRequest request;
  request.method = in.PickValueInArray({"POST", "GET", "PUT", "DELETE"});
  request.url = in.PickValueInArray({"https://iam.amazonaws.com", "http://127.0.0.1:8080", "https://[::1]:4443",
                                     "https://example.amazonaws.com"}) +
                in.ConsumeRandomLengthString(128);
  const int header_count = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < header_count; ++i) {
    std::string name = TokenFrom(in);
    // Authorization and a claimed payload hash are the verifier's input, not the signer's.
    std::string lower = keyrotor::ToLower(name);
    if (lower == "authorization" || lower == "x-amz-content-sha256" || lower == "x-amz-date") continue;
    request.headers.emplace_back(name, in.ConsumeRandomLengthString(64));
  }
  std::string authorization = in.ConsumeRandomLengthString(256);
  request.body = in.ConsumeRemainingBytesAsString();

  const SigningScope scope{"us-east-1", "iam"};
  const Secret secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");

  if (mode == 0) {
    Result<ParsedAuthorization> parsed = ParseAuthorization(authorization);
    if (parsed.ok()) {
      FUZZ_CHECK(parsed->signature.size() == 64);
      FUZZ_CHECK(parsed->date.size() == 8);
      FUZZ_CHECK(!parsed->access_key_id.empty() && !parsed->signed_headers.empty());
      request.headers.emplace_back("X-Amz-Date", kDate);
      std::string sts;
      (void)VerifySignature(request, *parsed, secret, &sts);
    }
    return;
  }

  Result<Url> url = ParseUrl(request.url);
  if (url.ok()) {
    std::string cqs = CanonicalQueryString(url->query);
    FUZZ_CHECK(CanonicalQueryString(cqs) == cqs);
    FUZZ_CHECK(CanonicalUri(url->path, true).front() == '/');
    FUZZ_CHECK(CanonicalUri(url->path, false).front() == '/');
  }

  if (mode == 1) {
    // Case and order of distinct headers do not matter.
    std::vector<std::string> names = HeadersToSign(request.headers);
    Result<std::string> creq = CanonicalRequest(request, names, HexSha256(request.body));
    HttpRequest shuffled = request;
    for (auto& [k, v] : shuffled.headers) k = Upper(k);
    std::stable_sort(shuffled.headers.begin(), shuffled.headers.end(), [](const auto& a, const auto& b) {
      return keyrotor::ToLower(a.first) > keyrotor::ToLower(b.first);
    });
    FUZZ_CHECK(HeadersToSign(shuffled.headers) == names);
    Result<std::string> again = CanonicalRequest(shuffled, names, HexSha256(request.body));
    FUZZ_CHECK(creq.ok() == again.ok());
    if (creq.ok()) FUZZ_CHECK(*creq == *again);
    return;
  }

  Credentials credentials;
  credentials.access_key_id = "AKIDEXAMPLE";
  credentials.secret_access_key = secret.Clone();
  HttpRequest signed_request = request;
  signed_request.headers.emplace_back("X-Amz-Date", kDate);
  if (!SignRequest(signed_request, credentials, scope, keyrotor::TimePoint{}).ok()) return;
  const std::string* header = FindHeader(signed_request.headers, "authorization");
  FUZZ_CHECK(header != nullptr);
  Result<ParsedAuthorization> parsed = ParseAuthorization(*header);
  FUZZ_CHECK(parsed.ok());
  FUZZ_CHECK(parsed->access_key_id == "AKIDEXAMPLE");
  FUZZ_CHECK(parsed->date == "20150830");
  FUZZ_CHECK(parsed->scope.region == scope.region && parsed->scope.service == scope.service);
  FUZZ_CHECK(VerifySignature(signed_request, *parsed, secret));
  FUZZ_CHECK(!VerifySignature(signed_request, *parsed, Secret("another-secret")));
  signed_request.body += "x";
  FUZZ_CHECK(!VerifySignature(signed_request, *parsed, secret));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(data, size); });
}
