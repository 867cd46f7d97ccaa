// The bundle and the Lambda package (packaging/make-bundle) run outside the
// machine that built them: each is unpacked into an otherwise empty root
// directory (no libc, no shell, no CA certificates, no /etc) and run there by
// chroot, against the sandbox and a fake Lambda Runtime API on loopback.
// chroot, mknod and mount need root, as CI has; the tests say so otherwise.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/file_util.h"
#include "sandbox/server.h"
#include "support/fake_runtime_api.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

namespace fs = std::filesystem;
using testing::FakeRuntimeApi;
using testing::ProcessResult;
using testing::RunProcess;

constexpr char kChroot[] = "/usr/sbin/chroot";

// An empty root: /tmp, /dev/null, /dev/urandom and (optionally) /proc, nothing else.
class EmptyRoot {
 public:
  explicit EmptyRoot(bool with_proc) {
    root_ = testing::MakeTempDir("keyrotor-root");
    fs::create_directories(root_ + "/tmp");
    fs::permissions(root_ + "/tmp", fs::perms::all | fs::perms::sticky_bit);
    fs::create_directories(root_ + "/dev");
    EXPECT_EQ(mknod((root_ + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
    EXPECT_EQ(mknod((root_ + "/dev/urandom").c_str(), S_IFCHR | 0666, makedev(1, 9)), 0) << std::strerror(errno);
    fs::create_directories(root_ + "/proc");
    if (with_proc) {
      proc_mounted_ = mount("proc", (root_ + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
      EXPECT_TRUE(proc_mounted_) << "mount proc: " << std::strerror(errno);
    }
  }
  ~EmptyRoot() {
    if (proc_mounted_) umount2((root_ + "/proc").c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::string& path() const { return root_; }

 private:
  std::string root_;
  bool proc_mounted_ = false;
};

// Unpacks the Lambda zip as Lambda does (modes kept) into `dir`.
void Unzip(const std::string& zip, const std::string& dir) {
  fs::create_directories(dir);
  ProcessResult r = RunProcess({"/usr/bin/python3", "-c",
                                "import os, sys, zipfile\n"
                                "z = zipfile.ZipFile(sys.argv[1])\n"
                                "for i in z.infolist():\n"
                                "  p = z.extract(i, sys.argv[2]); os.chmod(p, (i.external_attr >> 16) & 0o777)\n",
                                zip, dir},
                               {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

void Untar(const std::string& tarball, const std::string& dir) {
  ProcessResult r = RunProcess({"/bin/tar", "-xzf", tarball, "-C", dir}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string BundleTop() { return "keyrotor-" KEYROTOR_VERSION "-linux-x86_64"; }

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0) << "the package tests chroot into an empty root: run them as root (CI does)";
    ASSERT_TRUE(fs::exists(KEYROTOR_BUNDLE)) << KEYROTOR_BUNDLE;
    ASSERT_TRUE(fs::exists(KEYROTOR_LAMBDA_ZIP)) << KEYROTOR_LAMBDA_ZIP;
  }
};

TEST_F(PackageTest, BundleRunsTheDemoInAnEmptyRoot) {
  EmptyRoot root(/*with_proc=*/true);
  Untar(KEYROTOR_BUNDLE, root.path());
  const std::string keyrotor = "/" + BundleTop() + "/bin/keyrotor";
  ProcessResult version = RunProcess({kChroot, root.path(), keyrotor, "version", "--json"}, {}, 60);
  ASSERT_EQ(version.exit_code, 0) << version.out << version.err;
  auto v = nlohmann::json::parse(version.out);
  EXPECT_EQ(v["version"], KEYROTOR_VERSION);
  EXPECT_NE(v["curl"].get<std::string>().find("OpenSSL"), std::string::npos) << version.out;

  ProcessResult demo = RunProcess({kChroot, root.path(), keyrotor, "demo"}, {{"HOME", "/tmp"}}, 600);
  ASSERT_EQ(demo.exit_code, 0) << demo.out << demo.err;
  EXPECT_NE(demo.out.find("200 completed; 0 failed"), std::string::npos) << demo.out;
}

// Without /proc the launcher finds the bundle from argv[0]; https with no CA
// certificates anywhere is an error that names the places it looked.
TEST_F(PackageTest, BundleStartsWithoutProcAndNamesTheMissingCaCertificates) {
  EmptyRoot root(/*with_proc=*/false);
  Untar(KEYROTOR_BUNDLE, root.path());
  const std::string keyrotor = "/" + BundleTop() + "/bin/keyrotor";
  ProcessResult version = RunProcess({kChroot, root.path(), keyrotor, "version"}, {}, 60);
  ASSERT_EQ(version.exit_code, 0) << version.out << version.err;
  EXPECT_NE(version.out.find("keyrotor " KEYROTOR_VERSION), std::string::npos) << version.out;

  ProcessResult whoami = RunProcess({kChroot, root.path(), keyrotor, "whoami"},
                                    {{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"},
                                     {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                                     {"AWS_REGION", "eu-west-1"},
                                     {"HOME", "/tmp"}},
                                    60);
  EXPECT_NE(whoami.exit_code, 0);
  const std::string all = whoami.out + whoami.err;
  EXPECT_NE(all.find("no CA certificates"), std::string::npos) << all;
  EXPECT_NE(all.find("/etc/pki/tls/certs/ca-bundle.crt"), std::string::npos) << all;
  EXPECT_EQ(all.find("wJalrXUtnFEMI"), std::string::npos) << all;
}

// The Lambda package, unpacked as Lambda unpacks it into /var/task of a root
// that has nothing else: bootstrap serves a classic `create` (new key
// verified, secret stored, response posted) and a scheduled event as a fleet
// run over the keyrotor.toml bundled beside it.
TEST_F(PackageTest, LambdaPackageServesClassicAndScheduledEventsInAnEmptyRoot) {
  auto server = sandbox::SandboxServer::Start({});
  ASSERT_TRUE(server.ok());
  auto& sandbox = (*server)->sandbox();
  auto admin = sandbox.CreateAdmin("lambda-role");
  auto old = sandbox.CreateUserWithKey("app", Clock::Real()->Now() - std::chrono::hours(24 * 100));
  ASSERT_TRUE(old.ok());
  std::vector<std::string> secrets = {admin.secret.reveal(), old->secret.reveal()};
  for (int i = 0; i < 3; ++i) {
    auto key = sandbox.CreateUserWithKey("svc-" + std::to_string(i), Clock::Real()->Now() - std::chrono::hours(2400));
    ASSERT_TRUE(key.ok());
    secrets.push_back(key->secret.reveal());
  }
  aws::CurlTransport transport;
  auto clients = testing::SandboxClients((*server)->endpoint(), &transport, admin.access_key_id, admin.secret);
  nlohmann::json seed = {{"AccessKey", old->access_key_id}, {"SecretKey", old->secret.reveal()}};
  ASSERT_TRUE(clients.SecretsManager()->CreateSecret("app", Secret(seed.dump()), RandomUuid()).ok());

  EmptyRoot root(/*with_proc=*/true);
  Unzip(KEYROTOR_LAMBDA_ZIP, root.path() + "/var/task");
  ASSERT_TRUE(AtomicWriteFile(root.path() + "/var/task/keyrotor.toml",
                              "[[selection]]\nuser_regex = \"^svc-\"\nmode = \"immediate\"\n"
                              "to = \"secretsmanager:keys/{user}\"\n",
                              {0644, false})
                  .ok());
  FakeRuntimeApi api;
  api.Queue("req-create", R"({"action": "create", "username": "app"})");
  api.Queue("req-scheduled",
            R"({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",)"
            R"( "source": "aws.events", "account": "123456789012", "time": "2026-12-01T03:00:00Z",)"
            R"( "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/keyrotor"],)"
            R"( "detail": {}})");
  // The environment Lambda gives a provided.al2023 function (its role's
  // credentials included); the journal lives in /tmp, the only writable place.
  std::map<std::string, std::string> env = {{"AWS_LAMBDA_RUNTIME_API", api.api()},
                                            {"LAMBDA_TASK_ROOT", "/var/task"},
                                            {"AWS_ACCESS_KEY_ID", admin.access_key_id},
                                            {"AWS_SECRET_ACCESS_KEY", admin.secret.reveal()},
                                            {"AWS_REGION", "us-east-1"},
                                            {"AWS_ENDPOINT_URL", (*server)->endpoint()},
                                            {"KEYROTOR_STATE", "/tmp/journal.db"},
                                            {"KEYROTOR_SNS_TOPIC", ""},
                                            {"HOME", "/tmp"}};
  ProcessResult r =
      RunProcess({kChroot, root.path(), "/var/task/bootstrap", "--max-invocations", "2"}, env, 300);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto posted = api.posted();
  ASSERT_EQ(posted.size(), 2u) << r.err;
  ASSERT_EQ(posted[0].path, "/2018-06-01/runtime/invocation/req-create/response") << posted[0].body;
  auto created = nlohmann::json::parse(posted[0].body);
  EXPECT_EQ(created["result"], "progressed") << posted[0].body;
  std::string new_key = created["new_access_key_id"];
  auto held = sandbox.SecretValue("app");
  ASSERT_TRUE(held);
  EXPECT_NE(held->reveal().find(new_key), std::string::npos);
  // Verified with STS before the response: the sandbox saw the new key sign a call.
  auto last_used = sandbox.GetKey(new_key);
  ASSERT_TRUE(last_used);
  EXPECT_TRUE(last_used->last_used.has_value());

  ASSERT_EQ(posted[1].path, "/2018-06-01/runtime/invocation/req-scheduled/response") << posted[1].body;
  auto summary = nlohmann::json::parse(posted[1].body)["summary"];
  EXPECT_EQ(summary["results"]["completed"], 3) << summary.dump();
  for (int i = 0; i < 3; ++i) {
    auto keys = sandbox.ListKeys("svc-" + std::to_string(i));
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_TRUE(sandbox.SecretValue("keys/svc-" + std::to_string(i)).has_value());
  }
  for (const std::string& secret : secrets) {
    EXPECT_EQ((r.out + r.err).find(secret), std::string::npos);
    for (const auto& p : posted) EXPECT_EQ(p.body.find(secret), std::string::npos);
  }
  (*server)->Stop();
}

// The ELF files' needs, read with readelf: NEEDED sonames and the interpreter.
struct ElfNeeds {
  bool is_elf = false;
  std::vector<std::string> needed;
  std::string interpreter;
};

ElfNeeds ReadElf(const std::string& path) {
  ElfNeeds out;
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  if (f.gcount() != 4 || std::string(magic, 4) != "\x7f" "ELF") return out;
  out.is_elf = true;
  ProcessResult r = RunProcess({"/usr/bin/readelf", "-d", "-l", "-W", path}, {});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::regex needed(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
  std::regex interp(R"(Requesting program interpreter: ([^\]]+)\])");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), needed), end; it != end; ++it) {
    out.needed.push_back((*it)[1]);
  }
  std::smatch m;
  if (std::regex_search(r.out, m, interp)) out.interpreter = m[1];
  return out;
}

// Every ELF in the Lambda package needs only libraries that are in it, and
// bootstrap itself needs nothing at all (no interpreter, no libraries).
TEST_F(PackageTest, EveryElfInTheLambdaPackageFindsItsLibrariesInThePackage) {
  std::string dir = testing::MakeTempDir("keyrotor-zip");
  Unzip(KEYROTOR_LAMBDA_ZIP, dir);
  ElfNeeds bootstrap = ReadElf(dir + "/bootstrap");
  ASSERT_TRUE(bootstrap.is_elf);
  EXPECT_TRUE(bootstrap.needed.empty());
  EXPECT_EQ(bootstrap.interpreter, "");

  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(dir + "/lib/keyrotor")) present.insert(entry.path().filename());
  EXPECT_TRUE(present.count("ld-linux-x86-64.so.2"));
  EXPECT_TRUE(present.count("keyrotor"));
  int elves = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ElfNeeds elf = ReadElf(entry.path());
    if (!elf.is_elf) continue;
    ++elves;
    for (const std::string& lib : elf.needed) {
      EXPECT_TRUE(present.count(lib)) << entry.path() << " needs " << lib << ", which is not in the package";
    }
  }
  EXPECT_GT(elves, 20);
  fs::remove_all(dir);
}

// No build path (the source or build directory), no private key and no
// credentials in any file of either artifact.
TEST_F(PackageTest, ArtifactsHoldNoBuildPathAndNoSecret) {
  std::string dir = testing::MakeTempDir("keyrotor-scan");
  Untar(KEYROTOR_BUNDLE, dir);
  Unzip(KEYROTOR_LAMBDA_ZIP, dir + "/lambda");
  const std::vector<std::string> forbidden = {KEYROTOR_SOURCE_DIR, fs::path(KEYROTOR_BINARY).parent_path().string()};
  // A PEM private key with its body (the TLS libraries hold the markers alone, to parse them).
  const std::regex private_key(R"(-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40,})");
  // A secret access key given a value: 40 characters of its alphabet (AWS's
  // documented example key, used in the README, is not a secret).
  const std::regex assigned_secret(R"((aws_secret_access_key|SecretAccessKey|SecretKey)["']?\s*[=:]\s*["']?([A-Za-z0-9/+]{40}))");
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    Result<std::string> content = ReadFile(entry.path());
    ASSERT_TRUE(content.ok()) << entry.path();
    for (const std::string& needle : forbidden) {
      EXPECT_EQ(content->find(needle), std::string::npos) << entry.path() << " holds '" << needle << "'";
    }
    // Debian's own libraries are copied unchanged; GnuTLS carries the public
    // test keys of its FIPS self-tests. Every other file is ours.
    const std::string name = entry.path().filename();
    const bool debian_library = name.rfind("lib", 0) == 0 && name.find(".so") != std::string::npos;
    if (!debian_library) {
      EXPECT_FALSE(std::regex_search(*content, private_key)) << entry.path() << " holds a private key";
    }
    for (std::sregex_iterator it(content->begin(), content->end(), assigned_secret), end; it != end; ++it) {
      EXPECT_EQ((*it)[2], "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") << entry.path() << " holds a secret key";
    }
  }
  EXPECT_GT(files, 50);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor
