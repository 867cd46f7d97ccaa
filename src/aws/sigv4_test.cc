// Runs AWS's own SigV4 test suite (shared/testdata/sigv4, from botocore's
// copy of aws-c-auth's suite). The test walks the directory, so a case added
// there is picked up without a code change.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/crypto.h"
#include "base/strings.h"

namespace keyrotor::aws {
namespace {

namespace fs = std::filesystem;

constexpr char kAccessKey[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SigningScope kScope{"us-east-1", "service"};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
  return s;
}

// Parses the suite's raw request: request line (the target may hold spaces,
// as in normalize-path/get-space), headers with folded continuation lines,
// a blank line, the body.
HttpRequest ParseRawRequest(const std::string& raw) {
  HttpRequest req;
  size_t header_end = raw.find("\n\n");
  std::string head = raw.substr(0, header_end);
  if (header_end != std::string::npos) req.body = raw.substr(header_end + 2);
  std::vector<std::string> lines = Split(head, '\n');
  const std::string& first = lines[0];
  size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  req.method = first.substr(0, sp1);
  std::string target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      req.headers.back().second += " " + std::string(Trim(line));  // obs-fold
      continue;
    }
    size_t colon = line.find(':');
    req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  const std::string* host = FindHeader(req.headers, "host");
  req.url = "https://" + (host ? std::string(Trim(*host)) : std::string("example.amazonaws.com")) + target;
  return req;
}

std::vector<fs::path> SuiteCases() {
  std::vector<fs::path> cases;
  fs::path root(KEYROTOR_SIGV4_SUITE);
  if (!fs::exists(root)) return cases;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    fs::path req = entry.path() / (entry.path().filename().string() + ".req");
    if (fs::exists(req)) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

class SigV4SuiteTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(SigV4SuiteTest, MatchesAwsSuite) {
  const fs::path dir = GetParam();
  const std::string name = dir.filename().string();
  auto file = [&](const char* ext) { return ReadAll(dir / (name + ext)); };
  HttpRequest req = ParseRawRequest(file(".req"));
  HttpRequest signed_req = ParseRawRequest(file(".sreq"));
  // Temporary credentials: get-vanilla-with-session-token and
  // post-sts-header-after both start from a request without the token and add
  // it while signing; they differ in whether it is signed. We read that from
  // the data: the token is in .sreq but not in .req, and .authz's
  // SignedHeaders says whether it was signed.
  const std::string* sreq_token = FindHeader(signed_req.headers, "x-amz-security-token");
  bool token_from_credentials = sreq_token && !FindHeader(req.headers, "x-amz-security-token");
  bool token_signed = file(".authz").find("x-amz-security-token") != std::string::npos;

  Credentials creds;
  creds.access_key_id = kAccessKey;
  creds.secret_access_key = Secret(kSecret);
  if (token_from_credentials) creds.session_token = Secret(*sreq_token);
  HttpRequest to_sign = req;
  SignOptions options;
  options.sign_session_token = token_signed;
  ASSERT_TRUE(SignRequest(to_sign, creds, kScope, TimePoint{}, options).ok());
  const std::string* authz = FindHeader(to_sign.headers, "authorization");
  ASSERT_NE(authz, nullptr);
  Result<ParsedAuthorization> parsed = ParseAuthorization(*authz);
  ASSERT_TRUE(parsed.ok());

  Result<std::string> creq = CanonicalRequest(to_sign, parsed->signed_headers, HexSha256(req.body));
  ASSERT_TRUE(creq.ok()) << creq.status().ToString();
  EXPECT_EQ(*creq, file(".creq"));
  const std::string* amz_date = FindHeader(req.headers, "x-amz-date");
  ASSERT_NE(amz_date, nullptr);
  EXPECT_EQ(StringToSign(*amz_date, CredentialScope(amz_date->substr(0, 8), kScope), *creq), file(".sts"));
  EXPECT_EQ(*authz, file(".authz"));

  // The signed request carries the same headers as the suite's .sreq (order aside).
  auto sorted = [](HeaderList h) {
    for (auto& [k, v] : h) k = ToLower(k), v = std::string(Trim(v));
    std::sort(h.begin(), h.end());
    return h;
  };
  HeaderList expected_headers = signed_req.headers;
  const std::string* sreq_authz = FindHeader(signed_req.headers, "authorization");
  ASSERT_NE(sreq_authz, nullptr);
  if (name == "get-vanilla-with-session-token") {
    // Known flaw in the suite, not a case we sign differently: this .sreq
    // carries get-vanilla's Authorization (Signature=5fa00fa3..., computed
    // without the token) under SignedHeaders that list the token. The case's
    // own .creq, .sts and .authz agree with each other and with us (checked
    // above), and AWS verifies a signature over the headers it names, so we
    // hold to .authz and check the rest of .sreq.
    EXPECT_NE(Trim(*sreq_authz), file(".authz"));
    SetHeader(expected_headers, "Authorization", file(".authz"));
  } else {
    EXPECT_EQ(Trim(*sreq_authz), file(".authz"));
  }
  EXPECT_EQ(sorted(to_sign.headers), sorted(expected_headers));

  // And the verifier accepts what the signer produced, and rejects a tamper.
  EXPECT_TRUE(VerifySignature(to_sign, *parsed, Secret(kSecret)));
  EXPECT_FALSE(VerifySignature(to_sign, *parsed, Secret("wrong-secret")));
  HttpRequest tampered = to_sign;
  tampered.body += "x";
  EXPECT_FALSE(VerifySignature(tampered, *parsed, Secret(kSecret)));
}

std::string CaseName(const ::testing::TestParamInfo<fs::path>& info) {
  std::string rel = fs::relative(info.param, KEYROTOR_SIGV4_SUITE).string();
  for (char& c : rel) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return rel;
}

INSTANTIATE_TEST_SUITE_P(AwsSuite, SigV4SuiteTest, ::testing::ValuesIn(SuiteCases()), CaseName);

TEST(SigV4SuiteTest, SuiteIsPresentAndComplete) {
  // 34 cases as shipped (SOURCE.md); more is fine, fewer means the copy is broken.
  EXPECT_GE(SuiteCases().size(), 34u);
}

TEST(SigV4Test, SessionTokenIsSignedByDefault) {
  HttpRequest req;
  req.url = "https://sts.eu-west-1.amazonaws.com/";
  req.body = "Action=GetCallerIdentity&Version=2011-06-15";
  SetHeader(req.headers, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  Credentials creds{"ASIAEXAMPLE", Secret("s"), Secret("token"), std::nullopt, "test"};
  ASSERT_TRUE(SignRequest(req, creds, {"eu-west-1", "sts"}, TimePoint{}).ok());
  const std::string* authz = FindHeader(req.headers, "authorization");
  ASSERT_NE(authz, nullptr);
  EXPECT_NE(authz->find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"), std::string::npos);
  EXPECT_EQ(*FindHeader(req.headers, "x-amz-security-token"), "token");
  EXPECT_EQ(authz->find("s,"), authz->find("s,"));  // the secret itself never enters the header
  EXPECT_EQ(authz->find("Signature=s"), std::string::npos);
}

TEST(SigV4Test, HostIncludesNonDefaultPort) {
  HttpRequest req;
  req.url = "http://127.0.0.1:4566/";
  Credentials creds{"AKID", Secret("secret"), Secret(), std::nullopt, "test"};
  ASSERT_TRUE(SignRequest(req, creds, {"us-east-1", "iam"}, TimePoint{}).ok());
  EXPECT_EQ(*FindHeader(req.headers, "host"), "127.0.0.1:4566");
}

TEST(SigV4Test, ParseAuthorizationRejectsMalformed) {
  EXPECT_FALSE(ParseAuthorization("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00").ok());
  EXPECT_FALSE(ParseAuthorization("Basic Zm9vOmJhcg==").ok());
  EXPECT_FALSE(ParseAuthorization("").ok());
  Result<ParsedAuthorization> ok = ParseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(ok->scope.service, "iam");
  EXPECT_EQ(ok->signed_headers.size(), 2u);
}

}  // namespace
}  // namespace keyrotor::aws
