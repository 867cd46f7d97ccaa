#include "base/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace keyrotor {
namespace {

const EnvMap kEnv = {{"PATH", "/usr/bin:/bin"}};
constexpr Duration kTimeout{10000};

SubprocessResult RunChild(const std::vector<std::string>& argv, const std::string& input = "", const EnvMap& env = kEnv,
                          Duration timeout = kTimeout) {
  Result<SubprocessResult> r = RunSubprocess(argv, Secret(input), env, timeout);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SubprocessResult{};
}

std::string TempDir() {
  char tmpl[] = "/tmp/keyrotor-subprocess-XXXXXX";
  return mkdtemp(tmpl);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Gone, or a zombie waiting for init to reap it: either way no longer running.
bool ProcessIsGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST(SubprocessTest, ReportsExitCodesAndSignals) {
  EXPECT_EQ(RunChild({"true"}).exit_code, 0);
  SubprocessResult three = RunChild({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(three.exit_code, 3);
  EXPECT_EQ(three.signal, 0);
  EXPECT_FALSE(three.timed_out);
  EXPECT_EQ(three.out, "out\n");
  EXPECT_EQ(three.err, "err\n");
  SubprocessResult killed = RunChild({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(killed.exit_code, -1);
  EXPECT_EQ(killed.signal, SIGTERM);
}

TEST(SubprocessTest, DeliversStdinThenEof) {
  std::string input = "{\"secret_access_key\": \"wJalr\"}\n";
  EXPECT_EQ(RunChild({"cat"}, input).out, input);
  // Larger than a pipe buffer: written as the child reads.
  std::string big(1u << 20, 'x');
  EXPECT_EQ(RunChild({"wc", "-c"}, big).out.find(std::to_string(big.size())), 0u);
  // Empty input: stdin is at EOF at once.
  EXPECT_EQ(RunChild({"wc", "-c"}).out, "0\n");
}

TEST(SubprocessTest, CapsCapturedOutputAndDrainsTheRest) {
  // 1 MiB on each stream: the child must not block on a full pipe.
  SubprocessResult r = RunChild({"sh", "-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; exit 4"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.out.size(), 64u << 10);
  EXPECT_EQ(r.err.size(), 64u << 10);
}

TEST(SubprocessTest, TimeoutKillsTheWholeProcessGroup) {
  std::string dir = TempDir();
  std::string pid_file = dir + "/grandchild.pid";
  // The script's grandchild must die with it: a timeout that only killed
  // the shell would leave `sleep 100` behind holding our pipes.
  std::string script = "sleep 100 & echo $! > " + pid_file + "; wait";
  auto start = std::chrono::steady_clock::now();
  SubprocessResult r = RunChild({"sh", "-c", script}, "", kEnv, Duration(500));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(elapsed, std::chrono::seconds(5));

  pid_t grandchild = std::stoi(ReadFile(pid_file));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ProcessIsGone(grandchild) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ProcessIsGone(grandchild)) << "grandchild " << grandchild << " survived the timeout";
  std::filesystem::remove_all(dir);
}

TEST(SubprocessTest, ChildThatClosesOutputButKeepsRunningStillTimesOut) {
  SubprocessResult r = RunChild({"sh", "-c", "exec >&- 2>&-; sleep 100"}, "", kEnv, Duration(300));
  EXPECT_TRUE(r.timed_out);
}

TEST(SubprocessTest, ChildThatNeverReadsStdinDoesNotHangOrKillUs) {
  std::string big(4u << 20, 's');
  // Exits at once: our writes fail with EPIPE (SIGPIPE must not kill us).
  EXPECT_EQ(RunChild({"sh", "-c", "exit 0"}, big).exit_code, 0);
  // Closes stdin first, then exits after a while.
  EXPECT_EQ(RunChild({"sh", "-c", "exec 0<&-; sleep 0.2; exit 5"}, big).exit_code, 5);
  // Never reads and never exits: the pipe fills and the timeout ends it.
  SubprocessResult stuck = RunChild({"sleep", "100"}, big, kEnv, Duration(300));
  EXPECT_TRUE(stuck.timed_out);
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  Result<SubprocessResult> bare = RunSubprocess({"no-such-program-keyrotor"}, Secret(), kEnv, kTimeout);
  EXPECT_TRUE(bare.status().IsNotFound()) << bare.status().ToString();
  Result<SubprocessResult> path = RunSubprocess({"/nonexistent/prog"}, Secret(), kEnv, kTimeout);
  EXPECT_TRUE(path.status().IsNotFound()) << path.status().ToString();
  // PATH is the child's (the EnvMap), not ours.
  Result<SubprocessResult> elsewhere =
      RunSubprocess({"sh", "-c", "true"}, Secret(), {{"PATH", "/nonexistent"}}, kTimeout);
  EXPECT_TRUE(elsewhere.status().IsNotFound()) << elsewhere.status().ToString();
  EXPECT_EQ(RunSubprocess({}, Secret(), kEnv, kTimeout).status().code(), StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, OurDescriptorsDoNotLeakIntoTheChild) {
  std::string dir = TempDir();
  std::string marker = dir + "/journal.db";
  std::ofstream(marker) << "x";
  int leaky = open(marker.c_str(), O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaky, 3);
  SubprocessResult r = RunChild({"sh", "-c", "ls -l /proc/$$/fd"});
  close(leaky);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("journal.db"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

TEST(SubprocessTest, ChildGetsExactlyTheGivenEnvironment) {
  setenv("KEYROTOR_TEST_PARENT_ONLY", "leak", 1);
  SubprocessResult r = RunChild({"env"}, "", {{"PATH", "/usr/bin:/bin"}, {"GREETING", "hi there"}});
  unsetenv("KEYROTOR_TEST_PARENT_ONLY");
  EXPECT_NE(r.out.find("GREETING=hi there\n"), std::string::npos);
  EXPECT_EQ(r.out.find("KEYROTOR_TEST_PARENT_ONLY"), std::string::npos);
}

TEST(SubprocessTest, ChildEnvironmentStripsCredentials) {
  EnvMap env = {
      {"PATH", "/usr/bin"},
      {"HOME", "/home/bob"},
      {"AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"},
      {"AWS_SECRET_ACCESS_KEY", "wJalr"},
      {"AWS_SESSION_TOKEN", "t"},
      {"AWS_SECURITY_TOKEN", "t"},
      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "t"},
      {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"},
      {"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/oidc"},
      {"AWS_REGION", "eu-west-1"},
      {"AWS_PROFILE", "dev"},
      {"KEYROTOR_WEBHOOK_SECRET", "s"},
      {"GITHUB_TOKEN", "ghp"},
      {"db_password", "p"},
      {"Some_Secret_Thing", "x"},
  };
  EnvMap child = ChildEnvironment(env);
  EXPECT_EQ(child, (EnvMap{{"PATH", "/usr/bin"},
                           {"HOME", "/home/bob"},
                           {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"},
                           {"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/oidc"},
                           {"AWS_REGION", "eu-west-1"},
                           {"AWS_PROFILE", "dev"}}));
}

TEST(SubprocessTest, StrippedEnvironmentReachesTheChild) {
  SubprocessResult r =
      RunChild({"env"}, "", ChildEnvironment({{"PATH", "/usr/bin:/bin"}, {"AWS_SECRET_ACCESS_KEY", "wJalr"}}));
  EXPECT_EQ(r.out, "PATH=/usr/bin:/bin\n");
}

TEST(SubprocessTest, SplitCommandLine) {
  EXPECT_EQ(*SplitCommandLine("notify.sh --channel ops"), (std::vector<std::string>{"notify.sh", "--channel", "ops"}));
  EXPECT_EQ(*SplitCommandLine(R"(  prog 'a b' "c \"d\" \$e \x"  back\ slash '' )"),
            (std::vector<std::string>{"prog", "a b", "c \"d\" $e \\x", "back slash", ""}));
  EXPECT_TRUE(SplitCommandLine("")->empty());
  EXPECT_EQ(SplitCommandLine("prog 'open").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("prog \"open").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("prog trailing\\").status().code(), StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, RedactReplacesEverySecret) {
  Secret a("wJalrXUtnFEMI"), b("wJalr"), empty;
  EXPECT_EQ(Redact("x wJalrXUtnFEMI y wJalr z wJalrXUtnFEMI", {&b, &a, &empty}), "x **** y **** z ****");
  EXPECT_EQ(Redact("nothing here", {&a}), "nothing here");
  EXPECT_EQ(Redact("aaaa", {&empty}), "aaaa");
}

TEST(SubprocessTest, SubprocessStatusRedactsAndKeepsTheTail) {
  Secret secret("wJalrXUtnFEMI");
  SubprocessResult r;
  r.exit_code = 2;
  r.err = std::string(5000, '.') + "bad key wJalrXUtnFEMI\n";
  Status s = SubprocessStatus("exec:hook", r, kTimeout, {&secret});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("exec:hook exited with status 2: ..."), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bad key ****"), std::string::npos);
  EXPECT_EQ(s.message().find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_LT(s.message().size(), 1200u);

  r.exit_code = 0;
  EXPECT_TRUE(SubprocessStatus("exec:hook", r, kTimeout).ok());
  r.exit_code = -1;
  r.signal = SIGKILL;
  r.timed_out = true;
  EXPECT_TRUE(SubprocessStatus("exec:hook", r, kTimeout).IsUnknownOutcome());
}

// A real child writing past the 64 KiB capture limit with a secret right
// across it: the part that made it into the capture must not show.
TEST(SubprocessTest, ASecretStraddlingTheStderrCaptureLimitIsStillRedacted) {
  const std::string secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY42";
  const size_t limit = SubprocessOptions{}.max_stderr;
  for (size_t inside : {size_t{1}, size_t{4}, size_t{13}, secret.size() - 1}) {
    std::string script = "head -c " + std::to_string(limit - inside) + " /dev/zero | tr '\\0' x >&2; printf '%s' '" +
                         secret + "' >&2; printf 'more after it' >&2; exit 3";
    SubprocessResult r = RunChild({"/bin/sh", "-c", script});
    ASSERT_EQ(r.err.size(), limit);
    EXPECT_TRUE(r.err_cut);
    ASSERT_EQ(r.err.substr(limit - inside), secret.substr(0, inside));  // the premise: the cut splits the secret
    Secret s(secret);
    Status status = SubprocessStatus("exec:hook", r, kTimeout, {&s});
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
    const std::string& m = status.message();
    EXPECT_TRUE(m.ends_with("xxx****")) << inside << ": ..." << m.substr(m.size() - 60);
    if (inside >= 4) {
      EXPECT_EQ(m.find(secret.substr(0, inside)), std::string::npos) << inside;
    }
  }
  // Not cut: a text that merely ends like a secret's beginning stays as is.
  Secret s(secret);
  EXPECT_EQ(Redact("ends with wJal", {&s}), "ends with wJal");
  EXPECT_EQ(Redact("ends with wJal", {&s}, /*cut=*/true), "ends with ****");
}

TEST(SubprocessTest, ChildEnvironmentStripsTheJournalAndConnectionSecrets) {
  EnvMap env = {
      {"PATH", "/usr/bin"},
      {"KEYROTOR_STATE", "postgresql://keyrotor:hunter2@db/keyrotor"},
      {"KEYROTOR_STATE_KEY", "/etc/keyrotor/pg.key"},
      {"PGPASSWORD", "hunter2"},
      {"PGPASSFILE", "/root/.pgpass"},
      {"PGSERVICEFILE", "/root/.pg_service.conf"},
      {"PGSSLKEY", "/root/.postgresql/postgresql.key"},
      {"DATABASE_URL", "postgres://app:pa%2Fss@db/app"},
      {"HTTPS_PROXY", "http://me:pr0xy@proxy:3128"},
      {"LIBPQ_CONN", "host=db password='hunter2'"},
      {"NO_PROXY", "localhost,127.0.0.1"},
      {"PGHOST", "db"},
      {"HTTP_PROXY", "http://proxy:3128"},
  };
  EXPECT_EQ(ChildEnvironment(env), (EnvMap{{"PATH", "/usr/bin"},
                                           {"NO_PROXY", "localhost,127.0.0.1"},
                                           {"PGHOST", "db"},
                                           {"HTTP_PROXY", "http://proxy:3128"}}));
}

}  // namespace
}  // namespace keyrotor
