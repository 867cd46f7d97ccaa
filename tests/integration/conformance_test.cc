// Conformance with botocore: every case under tests/conformance/cases/ is
// resolved twice in the same isolated environment, once by botocore (Debian's
// /usr/bin/python3 running tests/conformance/botocore_expected.py) and once by
// keyrotor (SharedFiles::Load -> ResolveSettings -> ResolveCredentialChain),
// and the two answers must agree: error or not (and its kind where it maps),
// profile, region, max_attempts, credential method, and for credentials that
// need no network (env, files, credential_process) the access key and token.
//
// The expected answers are never written by hand: botocore produces them on
// every run. Where keyrotor deliberately differs, the case holds a
// difference.md whose "keyrotor: FIELD = VALUE" lines state keyrotor's answer
// for those fields; the test checks exactly that answer, and that botocore
// really answers otherwise (a stale difference.md fails too).
//
// A case directory is copied to a temporary directory and "$DIR" in its files
// becomes that directory's path. Files: config, credentials, env (KEY=VALUE
// lines), profile (the explicit --profile), difference.md, helpers.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "credentials/chain.h"
#include "credentials/shared_config.h"
#include "support/fake_transport.h"
#include "support/process.h"

namespace keyrotor::credentials {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char kPython[] = "/usr/bin/python3";

std::string ConformanceDir() { return std::string(KEYROTOR_SOURCE_DIR) + "/tests/conformance"; }

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ConformanceDir() + "/cases", ec)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// Copies the case into `dir`, "$DIR" replaced by `dir`, keeping file modes.
void MaterializeCase(const fs::path& from, const std::string& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(from)) {
    fs::path target = fs::path(dir) / fs::relative(entry.path(), from);
    if (entry.is_directory()) {
      fs::create_directories(target);
      continue;
    }
    std::string text = ReadText(entry.path());
    ReplaceAll(text, "$DIR", dir);
    std::ofstream(target, std::ios::binary) << text;
    fs::permissions(target, fs::status(entry.path()).permissions());
  }
}

// One resolver's answer. Strings are nullopt where botocore says None.
struct Answer {
  std::optional<std::string> error;  // botocore's exception class name, or keyrotor's status
  std::string error_message;
  std::optional<std::string> profile;
  std::optional<std::string> region;
  std::optional<int> max_attempts;
  std::optional<std::string> method;
  std::optional<std::string> access_key;
  std::optional<std::string> token;
};

std::optional<std::string> OptionalString(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

bool IsLocalMethod(const std::optional<std::string>& method) {
  static const std::set<std::string> kLocal = {"env", "shared-credentials-file", "config-file", "custom-process"};
  return method && kLocal.count(*method);
}

// Which keyrotor status codes stand for a botocore exception. Absent: any error.
const std::map<std::string, std::set<StatusCode>>& ErrorKinds() {
  static const std::map<std::string, std::set<StatusCode>> kinds = {
      {"ConfigParseError", {StatusCode::kParseError}},
      {"ProfileNotFound", {StatusCode::kNotFound}},
      {"InfiniteLoopConfigError", {StatusCode::kInvalidArgument}},
      // A missing source_profile is NotFound in keyrotor, a bad combination InvalidArgument.
      {"InvalidConfigError", {StatusCode::kInvalidArgument, StatusCode::kNotFound}},
      {"PartialCredentialsError", {StatusCode::kInvalidArgument}},
      {"ValueError", {StatusCode::kInvalidArgument}},  // int("three") for max_attempts
      // keyrotor's own kinds, for a difference.md line "keyrotor: error = NotFound".
      {"InvalidArgument", {StatusCode::kInvalidArgument}},
      {"NotFound", {StatusCode::kNotFound}},
      {"ParseError", {StatusCode::kParseError}},
  };
  return kinds;
}

struct Case {
  EnvMap env;  // the environment botocore ran in, reused for keyrotor
  std::string explicit_profile;
  Answer botocore;
};

// Runs botocore_expected.py; fails the test (not skips) when botocore is missing.
std::optional<Case> RunBotocore(const std::string& dir) {
  // Asked once: without botocore every case fails with the same pointer.
  static const std::string missing = [] {
    auto probe =
        keyrotor::testing::RunProcess({kPython, "-c", "import botocore.session"}, {{"PATH", "/usr/bin:/bin"}}, 30);
    if (probe.exit_code == 0) return std::string();
    return probe.err + probe.out + " (exit " + std::to_string(probe.exit_code) + ")";
  }();
  if (!missing.empty()) {
    ADD_FAILURE() << kPython << " cannot import botocore: " << missing
                  << "\nInstall Debian's python3-boto3 with scripts/install-deps.";
    return std::nullopt;
  }
  auto run = keyrotor::testing::RunProcess({kPython, ConformanceDir() + "/botocore_expected.py", dir},
                                           {{"PATH", "/usr/bin:/bin"}}, 30);
  if (run.exit_code != 0) {
    ADD_FAILURE() << "botocore_expected.py failed: " << run.err;
    return std::nullopt;
  }
  json j = json::parse(run.out, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "botocore_expected.py printed no JSON: " << run.out;
    return std::nullopt;
  }
  Case c;
  for (const auto& [key, value] : j["env"].items()) c.env[key] = value.get<std::string>();
  c.explicit_profile = OptionalString(j["explicit_profile"]).value_or("");
  c.botocore.error = OptionalString(j["error"]);
  c.botocore.error_message = OptionalString(j["error_message"]).value_or("");
  c.botocore.profile = OptionalString(j["profile"]);
  c.botocore.region = OptionalString(j["region"]);
  if (!j["max_attempts"].is_null()) c.botocore.max_attempts = j["max_attempts"].get<int>();
  c.botocore.method = OptionalString(j["method"]);
  c.botocore.access_key = OptionalString(j["access_key"]);
  c.botocore.token = OptionalString(j["token"]);
  return c;
}

// keyrotor's answer, in botocore's terms. keyrotor fills in defaults botocore
// leaves as None: no region is "", no max_attempts is RetryOptions' default
// (the default botocore's retry handler applies to None as well).
// "No credentials" is an error for keyrotor (NotFound from the chain) and
// None for botocore's get_credentials(); it is reported as no method.
struct KeyrotorAnswer {
  Answer answer;
  std::optional<StatusCode> code;
};

KeyrotorAnswer RunKeyrotor(const Case& c) {
  KeyrotorAnswer k;
  auto fail = [&](const Status& s) {
    k.code = s.code();
    k.answer.error = "status " + std::to_string(static_cast<int>(s.code()));
    k.answer.error_message = s.ToString();
    return k;
  };
  Result<SharedFiles> files = SharedFiles::Load(c.env);
  if (!files.ok()) return fail(files.status());
  Result<Settings> settings = ResolveSettings(c.env, *files, {c.explicit_profile, "", ""});
  if (!settings.ok()) return fail(settings.status());
  k.answer.profile = settings->profile;
  if (!settings->region.empty()) k.answer.region = settings->region;
  k.answer.max_attempts = settings->retry.max_attempts;

  // No STS, container or IMDS call may happen: the transport has no answers.
  keyrotor::testing::FakeTransport transport;
  aws::ClientContext client_context;
  client_context.transport = &transport;
  aws::ClientFactory unsigned_clients(client_context, "us-east-1", {}, c.env);
  ChainContext ctx;
  ctx.env = c.env;
  ctx.files = &*files;
  ctx.settings = *settings;
  ctx.unsigned_clients = &unsigned_clients;
  ctx.transport = &transport;
  Result<ResolvedCredentials> chain = ResolveCredentialChain(ctx);
  if (!chain.ok()) {
    if (chain.status().IsNotFound()) {
      k.code = StatusCode::kNotFound;  // kept: botocore may call this an error (missing source_profile)
      k.answer.error_message = chain.status().ToString();
      return k;
    }
    return fail(chain.status());
  }
  k.answer.method = chain->method;
  if (IsLocalMethod(k.answer.method)) {
    Result<aws::Credentials> creds = chain->provider->GetCredentials();
    if (!creds.ok()) return fail(creds.status());
    k.answer.access_key = creds->access_key_id;
    if (!creds->session_token.reveal().empty()) k.answer.token = std::string(creds->session_token.reveal());
  }
  EXPECT_EQ(transport.requests().size(), 0u) << "keyrotor made a network request while resolving";
  return k;
}

// "keyrotor: FIELD = VALUE" lines of difference.md ("null" for None).
std::map<std::string, std::optional<std::string>> DocumentedDifferences(const fs::path& file) {
  std::map<std::string, std::optional<std::string>> fields;
  std::ifstream in(file);
  std::string line;
  const std::string prefix = "keyrotor: ";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    size_t eq = line.find(" = ", prefix.size());
    if (eq == std::string::npos) continue;
    std::string field = line.substr(prefix.size(), eq - prefix.size());
    std::string value = line.substr(eq + 3);
    fields[field] = value == "null" ? std::nullopt : std::optional<std::string>(value);
  }
  return fields;
}

std::string Show(const std::optional<std::string>& v) { return v ? "'" + *v + "'" : "null"; }
std::string Show(std::optional<int> v) { return v ? std::to_string(*v) : "null"; }

class ConformanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceTest, MatchesBotocore) {
  const fs::path source = fs::path(ConformanceDir()) / "cases" / GetParam();
  const std::string dir = keyrotor::testing::MakeTempDir("keyrotor-conformance");
  MaterializeCase(source, dir);
  std::optional<Case> c = RunBotocore(dir);
  if (!c) {
    fs::remove_all(dir);
    return;
  }
  KeyrotorAnswer k = RunKeyrotor(*c);
  fs::remove_all(dir);

  // What keyrotor must answer: botocore's answer, with the documented differences applied.
  Answer want = c->botocore;
  const auto differences = DocumentedDifferences(source / "difference.md");
  if (fs::exists(source / "difference.md")) {
    ASSERT_FALSE(differences.empty()) << "difference.md has no 'keyrotor: FIELD = VALUE' line";
  }
  for (const auto& [field, value] : differences) {
    std::optional<std::string>* slot = field == "error"        ? &want.error
                                       : field == "profile"    ? &want.profile
                                       : field == "region"     ? &want.region
                                       : field == "method"     ? &want.method
                                       : field == "access_key" ? &want.access_key
                                       : field == "token"      ? &want.token
                                                               : nullptr;
    if (field == "max_attempts") {
      std::optional<int> n;
      if (value) n = std::stoi(*value);
      EXPECT_NE(n, want.max_attempts) << "difference.md is stale: botocore now agrees on max_attempts";
      want.max_attempts = n;
      continue;
    }
    ASSERT_NE(slot, nullptr) << "difference.md names an unknown field: " << field;
    EXPECT_NE(*slot, value) << "difference.md is stale: botocore now agrees on " << field;
    *slot = value;
  }

  const std::string context = "botocore: " + c->botocore.error.value_or("no error") + " " + c->botocore.error_message +
                              "\nkeyrotor: " + k.answer.error_message;
  if (want.error) {
    ASSERT_TRUE(k.code.has_value()) << "botocore fails with " << *want.error << ", keyrotor resolves\n" << context;
    auto kinds = ErrorKinds().find(*want.error);
    if (kinds != ErrorKinds().end()) {
      EXPECT_TRUE(kinds->second.count(*k.code)) << "botocore's " << *want.error << " is a different error in keyrotor\n"
                                                << context;
    }
    return;
  }
  // keyrotor's only acceptable "error" here is the chain's NotFound for no credentials.
  ASSERT_FALSE(k.answer.error.has_value()) << "keyrotor fails, botocore does not\n" << context;
  EXPECT_EQ(Show(k.answer.profile), Show(want.profile)) << "profile\n" << context;
  EXPECT_EQ(Show(k.answer.region), Show(want.region)) << "region\n" << context;
  EXPECT_EQ(Show(k.answer.max_attempts), Show(want.max_attempts.value_or(aws::RetryOptions{}.max_attempts)))
      << "max_attempts\n"
      << context;
  if (!want.method) {
    EXPECT_EQ(k.code, StatusCode::kNotFound)
        << "botocore finds no credentials, keyrotor finds " << Show(k.answer.method) << "\n"
        << context;
    return;
  }
  EXPECT_FALSE(k.code.has_value()) << "botocore finds credentials (" << *want.method << "), keyrotor none\n" << context;
  EXPECT_EQ(Show(k.answer.method), Show(want.method)) << "method\n" << context;
  EXPECT_EQ(Show(k.answer.access_key), Show(want.access_key)) << "access key\n" << context;
  EXPECT_EQ(Show(k.answer.token), Show(want.token)) << "session token\n" << context;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceTest, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
                           return "Case" + name;
                         });

TEST(ConformanceTable, HasAtLeastFortyCases) { EXPECT_GE(CaseNames().size(), 40u); }

}  // namespace
}  // namespace keyrotor::credentials
