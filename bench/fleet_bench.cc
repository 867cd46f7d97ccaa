// Fleet benchmarks (issue #7). Each prints its figures and the ratio to a
// baseline measured in the same run, against the same in-process sandbox:
//
// 1. Fleet rotation: N users (1,000 and 10,000) each holding one old key,
//    every response delayed by --latency-ms. keyrotor `run` (staged: create,
//    verify with STS, store in Secrets Manager, notify SNS) against the
//    classic flow (create key, put the secret, publish), run one user after
//    the other with Debian's boto3 (bench/classic_flow.py). Rotations/s and
//    their ratio; then every user is checked.
// 2. Throttled fleet: the sandbox answers at most --throttle-rps requests/s;
//    keyrotor's wall time against the floor the throttle sets (requests the
//    sandbox accepted / rps), and the users that failed.
// 3. Cost: CPU seconds (user+sys, wait4) and peak RSS per 1,000 rotations of
//    keyrotor, the boto3 baseline, and a shell loop of `aws` CLI calls
//    (bench/aws_cli_flow.sh, over a few users: each call starts a Python).
//
// Children get credentials from their environment only, never on a command
// line; every secret the sandbox issued is looked for in everything they and
// this program print, and a leak fails the run.
//
// Usage: fleet_bench [--users 1000,10000] [--baseline-users 1000] [--latency-ms 50] [--concurrency 256]
//                    [--throttle-rps 80] [--throttle-users 300] [--adaptive-users 300] [--cli-users 20]
//                    [--skip-baseline] [--skip-throttle] [--skip-cli] [--timeout 1800] [--journal-dir DIR]
//                    [--keyrotor PATH]
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "aws/clients.h"
#include "aws/curl_transport.h"
#include "base/file_util.h"
#include "net/http_server.h"
#include "sandbox/sandbox.h"

using namespace keyrotor;

namespace {

constexpr char kAccount[] = "123456789012";
constexpr char kDebianBoto3[] = "/usr/lib/python3/dist-packages/boto3/";

struct Options {
  std::vector<int> users{1000, 10000};
  int baseline_users = 1000;
  int latency_ms = 50;
  int concurrency = 256;
  double throttle_rps = 80;
  int throttle_users = 300;
  int adaptive_users = 300;  // the throttled run without a declared rate_limit: the adaptive limiter alone
  int cli_users = 20;
  bool baseline = true;
  bool throttle = true;
  bool cli = true;
  int timeout_s = 1800;  // per child; a run that overruns it is killed and reported
  // Where keyrotor's journal goes; empty: the run's temp dir (on disk). A
  // tmpfs (/dev/shm) shows what the journal's fsyncs cost; it is not a
  // configuration to run in production.
  std::string journal_dir;
  std::string keyrotor = KEYROTOR_BINARY;  // another build, to compare a change
};

// --- Leak guard -----------------------------------------------------------------------------------------------

// Every secret the sandbox issued (the admin's, the seeded keys', the new
// keys' read back from Secrets Manager); Leaks() finds any of them in a text.
class LeakGuard {
 public:
  void Add(const std::string& secret) {
    if (secret.size() < 16) return;
    std::lock_guard<std::mutex> lock(mu_);
    stored_.push_back(secret);
    views_.insert(stored_.back());
    lengths_.insert(secret.size());
  }
  bool Leaks(std::string_view text) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t len : lengths_) {
      for (size_t i = 0; i + len <= text.size(); ++i) {
        if (views_.count(text.substr(i, len))) return true;
      }
    }
    return false;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_.size();
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> stored_;  // a deque: the views stay valid as it grows
  std::unordered_set<std::string_view> views_;
  std::unordered_set<size_t> lengths_;
};

LeakGuard g_secrets;
size_t g_leaks = 0;

// Prints a line of the report, unless it holds a secret.
template <typename... Args>
void Say(fmt::format_string<Args...> format, Args&&... args) {
  std::string line = fmt::format(format, std::forward<Args>(args)...);
  if (g_secrets.Leaks(line)) {
    ++g_leaks;
    fmt::print("  [a report line held a secret: not printed]\n");
    return;
  }
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

// --- Children, measured with wait4 -----------------------------------------------------------------------------

struct ChildRun {
  int exit_code = -1;  // -1: killed by a signal (or the timeout)
  bool timed_out = false;
  double wall_s = 0;
  double cpu_s = 0;  // user + sys, the child and whatever it waited for
  long max_rss_kib = 0;
  std::string out, err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

// Runs argv with exactly `env`, stdin from /dev/null and stdout/stderr to
// files under `dir`, in a process group of its own (a timeout kills all of it).
ChildRun RunChild(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                  const std::string& dir, const std::string& name, int timeout_s) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  auto c_strings = [](std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  };
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> c_argv = c_strings(argv_copy), c_env = c_strings(env_strings);
  const std::string out_path = dir + "/" + name + ".out", err_path = dir + "/" + name + ".err";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  ChildRun run;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));

  auto deadline = start + std::chrono::seconds(timeout_s);
  int status = 0;
  rusage usage{};
  for (;;) {
    pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error("wait4 failed");
    if (!run.timed_out && std::chrono::steady_clock::now() > deadline) {
      run.timed_out = true;
      kill(-pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.cpu_s = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
  run.max_rss_kib = usage.ru_maxrss;
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  if (g_secrets.Leaks(run.out) || g_secrets.Leaks(run.err)) {
    ++g_leaks;
    Say("  LEAK: a secret appeared in the output of {} ({}, {})", name, out_path, err_path);
  }
  return run;
}

std::string Tail(const std::string& text, size_t n = 1500) {
  return text.size() > n ? "..." + text.substr(text.size() - n) : text;
}

// The last line of `out` that parses as a JSON object.
nlohmann::json LastJson(const std::string& out) {
  nlohmann::json last;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) last = std::move(j);
  }
  return last;
}

double CpuSecondsOfThisProcess() {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  return Seconds(self.ru_utime) + Seconds(self.ru_stime);
}

// --- The fleet: a sandbox, its users, and what was asked of it ---------------------------------------------------

std::string UserName(int i) { return fmt::format("svc-{:04d}", i); }
std::string SecretName(const std::string& user) { return fmt::format("Account_{}_User_{}_AccessKey", kAccount, user); }

// The sandbox behind a loopback server, as sandbox::SandboxServer runs it,
// with a count of requests per operation (Action= or X-Amz-Target).
class Fleet {
 public:
  Fleet(sandbox::SandboxOptions options, int users) : sandbox_(std::move(options)) {
    auto server = net::HttpServer::Start({}, [this](const aws::HttpRequest& request, net::ResponseControl& control) {
      Count(request);
      return sandbox_.Handle(request, control);
    });
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    server_ = std::move(server).value();
    admin_ = sandbox_.CreateAdmin("admin");
    g_secrets.Add(admin_.secret.reveal());
    const TimePoint created = Clock::Real()->Now() - std::chrono::hours(24 * 100);
    for (int i = 0; i < users; ++i) {
      auto key = sandbox_.CreateUserWithKey(UserName(i), created);
      if (!key.ok()) throw std::runtime_error(key.status().ToString());
      g_secrets.Add(key->secret.reveal());
      old_keys_.push_back(key->access_key_id);
    }
    auto sns = Clients().Sns();
    auto topic = sns.ok() ? sns->CreateTopic("rotations") : Result<std::string>(sns.status());
    if (!topic.ok()) throw std::runtime_error(topic.status().ToString());
    topic_arn_ = *topic;
    dir_ = (std::filesystem::temp_directory_path() / "keyrotor-fleet-bench-XXXXXX").string();
    if (!mkdtemp(dir_.data())) throw std::runtime_error("mkdtemp failed");
  }
  ~Fleet() {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  sandbox::Sandbox& sandbox() { return sandbox_; }
  std::string endpoint() const { return server_->endpoint(); }
  const std::string& dir() const { return dir_; }
  const std::string& topic_arn() const { return topic_arn_; }
  int users() const { return static_cast<int>(old_keys_.size()); }

  aws::ClientFactory Clients(const std::string& id, const Secret& secret) {
    aws::ClientContext ctx;
    ctx.transport = &transport_;
    ctx.credentials =
        std::make_shared<aws::StaticCredentialsProvider>(aws::Credentials{id, secret.Clone(), Secret(), std::nullopt, "bench"});
    aws::EndpointSettings endpoints;
    endpoints.explicit_url = endpoint();
    return aws::ClientFactory(ctx, "us-east-1", endpoints, {});
  }
  aws::ClientFactory Clients() { return Clients(admin_.access_key_id, admin_.secret); }

  // The environment a child works in: the admin's credentials, nothing of this machine's.
  std::map<std::string, std::string> Env() const {
    return {{"AWS_ACCESS_KEY_ID", admin_.access_key_id},
            {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
            {"AWS_REGION", "us-east-1"},
            {"AWS_DEFAULT_REGION", "us-east-1"},
            {"AWS_CONFIG_FILE", dir_ + "/no-config"},
            {"AWS_SHARED_CREDENTIALS_FILE", dir_ + "/no-credentials"},
            {"AWS_EC2_METADATA_DISABLED", "true"},
            {"AWS_PAGER", ""},
            {"HOME", dir_},
            {"LANG", "C.UTF-8"},
            {"PATH", "/usr/bin:/bin"}};
  }

  std::map<std::string, uint64_t> OpCounts() {
    std::lock_guard<std::mutex> lock(mu_);
    return ops_;
  }

  // After a flow that should have given every user a new key in its secret
  // (the old key kept: staged) and published one message per user: the
  // problems found, empty when every user is right. Checks a sample of the
  // stored keys against STS too.
  std::vector<std::string> Check(size_t sample) {
    std::vector<std::string> problems;
    auto problem = [&](std::string p) {
      if (problems.size() < 10) problems.push_back(std::move(p));
    };
    std::vector<std::pair<std::string, Secret>> stored;
    for (int i = 0; i < users(); ++i) {
      const std::string user = UserName(i);
      std::vector<sandbox::KeyInfo> keys = sandbox_.ListKeys(user);
      std::optional<Secret> value = sandbox_.SecretValue(SecretName(user));
      if (!value) {
        problem(user + ": no secret");
        continue;
      }
      nlohmann::json doc = nlohmann::json::parse(value->reveal(), nullptr, false);
      if (!doc.is_object() || !doc.contains("AccessKey") || !doc.contains("SecretKey")) {
        problem(user + ": the secret is not {AccessKey, SecretKey}");
        continue;
      }
      const std::string held = doc["AccessKey"].get<std::string>();
      Secret held_secret(doc["SecretKey"].get<std::string>());
      g_secrets.Add(held_secret.reveal());
      if (keys.size() != 2 || keys[0].access_key_id != old_keys_[static_cast<size_t>(i)] || !keys[0].active ||
          !keys[1].active) {
        problem(fmt::format("{}: {} keys, expected the old one and a new one, both active", user, keys.size()));
        continue;
      }
      if (held != keys[1].access_key_id) {
        problem(user + ": the secret holds " + held + ", not the new key");
      } else if (stored.size() < sample) {
        stored.emplace_back(held, std::move(held_secret));
      }
    }
    size_t published = sandbox_.PublishedMessages(topic_arn_).size();
    if (published != static_cast<size_t>(users())) {
      problem(fmt::format("{} messages published, expected {}", published, users()));
    }
    for (auto& [key_id, secret] : stored) {
      auto sts = Clients(key_id, secret).Sts();
      auto who = sts.ok() ? sts->GetCallerIdentity() : Result<aws::CallerIdentity>(sts.status());
      if (!who.ok()) problem("the stored key " + key_id + " does not work: " + who.status().ToString());
    }
    return problems;
  }

 private:
  void Count(const aws::HttpRequest& request) {
    std::string op;
    for (const auto& [name, value] : request.headers) {
      if (strcasecmp(name.c_str(), "X-Amz-Target") == 0) op = value.substr(value.find('.') + 1);
    }
    if (op.empty()) {
      std::string_view body = request.body;
      size_t at = body.rfind("Action=", 0) == 0 ? 0 : body.find("&Action=");
      if (at != std::string_view::npos) {
        at = body.find('=', at) + 1;
        op = std::string(body.substr(at, body.find('&', at) - at));
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++ops_[op.empty() ? "other" : op];
  }

  sandbox::Sandbox sandbox_;
  std::unique_ptr<net::HttpServer> server_;
  aws::CurlTransport transport_;
  sandbox::Sandbox::IssuedKey admin_;
  std::vector<std::string> old_keys_;
  std::string topic_arn_;
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, uint64_t> ops_;
};

sandbox::SandboxOptions SandboxOptionsFor(const Options& o, double throttle_rps = 0) {
  sandbox::SandboxOptions s;
  s.latency_ms = o.latency_ms;
  s.throttle_rps = throttle_rps;
  return s;
}

// --- The runs -------------------------------------------------------------------------------------------------

struct Measured {
  std::string what;
  int users = 0;
  ChildRun run;
  double sandbox_cpu_s = 0;  // this process (the sandbox's threads) during the run
  uint64_t requests = 0, throttled = 0, faults = 0;
  std::map<std::string, uint64_t> ops;
  std::vector<double> accepted_per_s;  // requests the sandbox served (not throttled), each second of the run
  bool correct = false;
  double rate() const { return run.wall_s > 0 ? users / run.wall_s : 0; }
};

// Runs a child over `fleet`, with the sandbox's counters and CPU around it.
Measured Measure(Fleet& fleet, const std::string& what, const std::vector<std::string>& argv, const std::string& name,
                 const Options& o) {
  Measured m;
  m.what = what;
  m.users = fleet.users();
  sandbox::Sandbox::Stats before = fleet.sandbox().stats();
  std::map<std::string, uint64_t> ops_before = fleet.OpCounts();
  double cpu_before = CpuSecondsOfThisProcess();
  std::atomic<bool> running{true};
  std::thread sampler([&] {
    auto accepted = [&] {
      sandbox::Sandbox::Stats s = fleet.sandbox().stats();
      return s.requests - s.throttled - s.faults_injected;
    };
    uint64_t last = accepted();
    for (auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1); running;
         next += std::chrono::seconds(1)) {
      while (running && std::chrono::steady_clock::now() < next)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!running) break;
      uint64_t now = accepted();
      m.accepted_per_s.push_back(static_cast<double>(now - last));
      last = now;
    }
  });
  m.run = RunChild(argv, fleet.Env(), fleet.dir(), name, o.timeout_s);
  running = false;
  sampler.join();
  m.sandbox_cpu_s = CpuSecondsOfThisProcess() - cpu_before;
  sandbox::Sandbox::Stats after = fleet.sandbox().stats();
  m.requests = after.requests - before.requests;
  m.throttled = after.throttled - before.throttled;
  m.faults = after.faults_injected - before.faults_injected;
  for (const auto& [op, n] : fleet.OpCounts()) {
    if (n > ops_before[op]) m.ops[op] = n - ops_before[op];
  }
  return m;
}

void ReportChecks(Fleet& fleet, Measured& m, bool exit_ok, const std::string& failures) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> problems = fleet.Check(5);
  m.correct = exit_ok && problems.empty();
  Say("    check: {} of {} users hold a new, active key in their secret (old key kept), {} messages published, "
      "5 stored keys accepted by STS; {}: {}  ({:.1f} s)",
      problems.empty() ? m.users : 0, m.users, fleet.sandbox().PublishedMessages(fleet.topic_arn()).size(), failures,
      m.correct ? "OK" : "FAILED", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  for (const std::string& p : problems) Say("      {}", p);
  if (!exit_ok)
    Say("      exit {}{}; stderr: {}", m.run.exit_code, m.run.timed_out ? " (timed out)" : "", Tail(m.run.err));
}

std::string OpsLine(const Measured& m) {
  std::string s;
  for (const auto& [op, n] : m.ops) s += fmt::format("{} {:.2f}, ", op, static_cast<double>(n) / m.users);
  return s.empty() ? s : s.substr(0, s.size() - 2);
}

Measured RunBaseline(const Options& o, int users) {
  Fleet fleet(SandboxOptionsFor(o), users);
  Measured m = Measure(fleet, "boto3 classic flow",
                       {"/usr/bin/python3", "-E", "-s", "-B", KEYROTOR_BENCH_DIR "/classic_flow.py", "--endpoint-url",
                        fleet.endpoint(), "--topic-arn", fleet.topic_arn(), "--users", std::to_string(users)},
                       "classic_flow", o);
  nlohmann::json result = LastJson(m.run.out);
  std::string client = result.value("client", std::string("?"));
  Say("  baseline: classic flow, boto3, sequential, {} users: {:.1f} s, {:.2f} rotations/s  ({})", users, m.run.wall_s,
      m.rate(), client);
  if (client.find(kDebianBoto3) == std::string::npos) Say("    WARNING: boto3 is not Debian's ({})", kDebianBoto3);
  Say("    calls/rotation {:.2f}: {}", static_cast<double>(m.requests) / users, OpsLine(m));
  ReportChecks(fleet, m, m.run.exit_code == 0 && result.value("failed", -1) == 0,
               fmt::format("{} failed", result.value("failed", -1)));
  return m;
}

std::string JournalDir(const Fleet& fleet, const Options& o) {
  if (o.journal_dir.empty()) return fleet.dir();
  return o.journal_dir + "/" + std::filesystem::path(fleet.dir()).filename().string();
}

std::string WriteConfig(const Fleet& fleet, const Options& o, const std::string& extra_account = "") {
  std::string path = fleet.dir() + "/keyrotor.toml";
  std::string journal_dir = JournalDir(fleet, o);
  std::filesystem::create_directories(journal_dir);
  std::string text = fmt::format(
      "state = \"{}/journal.db\"\n"
      "concurrency = {}\n"
      "[policy]\n"
      "mode = \"staged\"\n"
      "notify = \"sns:{}\"\n"
      "{}"
      "[[selection]]\n"
      "user_regex = \"^svc-\"\n"
      "to = \"secretsmanager:Account_{{account}}_User_{{user}}_AccessKey\"\n",
      journal_dir, o.concurrency, fleet.topic_arn(), extra_account);
  Status s = AtomicWriteFile(path, text, {0600, false});
  if (!s.ok()) throw std::runtime_error(s.ToString());
  return path;
}

Measured RunKeyrotor(Fleet& fleet, const Options& o, const std::string& what, const std::string& extra_account = "") {
  std::string config = WriteConfig(fleet, o, extra_account);
  Measured m = Measure(fleet, what, {o.keyrotor, "run", "--config", config, "--endpoint-url", fleet.endpoint()},
                       "keyrotor_run", o);
  nlohmann::json summary = LastJson(m.run.out).value("summary", nlohmann::json::object());
  Say("  keyrotor run, staged, concurrency {}, {} users: {:.1f} s, {:.1f} rotations/s", o.concurrency, m.users,
      m.run.wall_s, m.rate());
  Say("    calls/rotation {:.2f}: {}", static_cast<double>(m.requests) / m.users, OpsLine(m));
  Say("    keyrotor CPU {:.1f} s, sandbox CPU {:.1f} s (of {:.0f} core-seconds on {} cores)", m.run.cpu_s,
      m.sandbox_cpu_s, m.run.wall_s * std::thread::hardware_concurrency(), std::thread::hardware_concurrency());
  int failed = summary.value("failed_users", -1);
  int progressed = summary.contains("results") ? summary["results"].value("progressed", 0) : 0;
  ReportChecks(fleet, m, m.run.exit_code == 0 && failed == 0 && progressed == m.users,
               fmt::format("{} users progressed, {} failed", progressed, failed));
  if (!o.journal_dir.empty()) std::filesystem::remove_all(JournalDir(fleet, o));
  return m;
}

void FleetRotation(const Options& o, std::vector<Measured>* costs) {
  Say("\n1. fleet rotation: each user holds one 100-day-old key; sandbox latency {} ms per response", o.latency_ms);
  std::optional<Measured> baseline;
  if (o.baseline) baseline = RunBaseline(o, o.baseline_users);
  std::vector<Measured> runs;
  for (int n : o.users) {
    Fleet fleet(SandboxOptionsFor(o), n);
    runs.push_back(RunKeyrotor(fleet, o, fmt::format("keyrotor run ({} users)", n)));
  }
  if (!baseline) {
    costs->insert(costs->end(), runs.begin(), runs.end());
    return;
  }
  Say("\n  {:<44} {:>8} {:>10} {:>13} {:>9}  {}", "", "users", "wall s", "rotations/s", "ratio", "check");
  Say("  {:<44} {:>8} {:>10.1f} {:>13.2f} {:>9}  {}", "baseline: boto3 classic flow (sequential)", baseline->users,
      baseline->run.wall_s, baseline->rate(), "1.0x", baseline->correct ? "OK" : "FAILED");
  for (const Measured& m : runs) {
    Say("  {:<44} {:>8} {:>10.1f} {:>13.2f} {:>8.1f}x  {}", "keyrotor run (staged, verified, journaled)", m.users,
        m.run.wall_s, m.rate(), m.rate() / baseline->rate(), m.correct ? "OK" : "FAILED");
  }
  costs->push_back(*baseline);
  costs->insert(costs->end(), runs.begin(), runs.end());
}

// "median M, max X; N of T seconds below half the throttle": how steadily a run used its allowance.
std::string RateProfile(std::vector<double> per_s, double rps) {
  if (per_s.empty()) return "no full second";
  size_t slow = static_cast<size_t>(std::count_if(per_s.begin(), per_s.end(), [&](double r) { return r < rps / 2; }));
  std::sort(per_s.begin(), per_s.end());
  return fmt::format("median {:.0f}/s, max {:.0f}/s; {} of {} seconds below {:.0f}/s", per_s[per_s.size() / 2],
                     per_s.back(), slow, per_s.size(), rps / 2);
}

void ThrottledFleet(const Options& o) {
  Say("\n2. throttled fleet: sandbox throttle {:.0f} requests/s (burst {:.0f}), latency {} ms", o.throttle_rps,
      o.throttle_rps, o.latency_ms);
  struct Row {
    std::string label;
    Measured m;
    double floor_s;
    int failed;
  };
  std::vector<Row> rows;
  auto run = [&](int users, const std::string& account, const std::string& label) {
    Fleet fleet(SandboxOptionsFor(o, o.throttle_rps), users);
    // The sandbox's bucket refills to its burst; keyrotor has it to itself.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    Measured m = RunKeyrotor(fleet, o, label, account);
    uint64_t accepted = m.requests - m.throttled - m.faults;
    double floor_s = static_cast<double>(accepted) / o.throttle_rps;
    Say("    requests: {} accepted, {} throttled (and retried), {} faults; floor = accepted / rps = {:.1f} s", accepted,
        m.throttled, m.faults, floor_s);
    Say("    accepted requests per second: {}", RateProfile(m.accepted_per_s, o.throttle_rps));
    nlohmann::json summary = LastJson(m.run.out).value("summary", nlohmann::json::object());
    rows.push_back({label, m, floor_s, summary.value("failed_users", -1)});
  };
  run(o.throttle_users, fmt::format("[[accounts]]\nname = \"main\"\nrate_limit = {:.0f}\n", std::floor(o.throttle_rps)),
      fmt::format("rate_limit = {:.0f} (the account's limit, declared)", std::floor(o.throttle_rps)));
  if (o.adaptive_users > 0) run(o.adaptive_users, "", "no rate_limit (adaptive limiter only)");
  Say("\n  {:<48} {:>6} {:>9} {:>9} {:>8} {:>8}", "keyrotor run, throttled", "users", "wall s", "floor s", "ratio",
      "failed");
  for (const Row& r : rows) {
    Say("  {:<48} {:>6} {:>9.1f} {:>9.1f} {:>7.2f}x {:>8}", r.label, r.m.users, r.m.run.wall_s, r.floor_s,
        r.m.run.wall_s / r.floor_s, r.failed);
  }
}

Measured RunCli(const Options& o) {
  Fleet fleet(SandboxOptionsFor(o), o.cli_users);
  Measured m = Measure(fleet, "aws CLI loop",
                       {"/bin/bash", KEYROTOR_BENCH_DIR "/aws_cli_flow.sh", fleet.endpoint(), fleet.topic_arn(), "svc-",
                        std::to_string(o.cli_users)},
                       "aws_cli_flow", o);
  nlohmann::json result = LastJson(m.run.out);
  Say("  aws CLI loop (bench/aws_cli_flow.sh), {} users: {:.1f} s, {:.3f} rotations/s", m.users, m.run.wall_s,
      m.rate());
  ReportChecks(fleet, m, m.run.exit_code == 0 && result.value("failed", -1) == 0,
               fmt::format("{} failed", result.value("failed", -1)));
  return m;
}

void Cost(const Options& o, std::vector<Measured> runs) {
  Say("\n3. cost per 1,000 rotations (wait4: user+sys CPU of the child and what it waited for; peak RSS of its "
      "largest process)");
  if (o.cli) runs.push_back(RunCli(o));
  Say("\n  {:<44} {:>8} {:>16} {:>14} {:>16}", "", "users", "CPU s / 1,000", "peak RSS MiB", "sandbox CPU s/1k");
  for (const Measured& m : runs) {
    double per_k = 1000.0 / m.users;
    Say("  {:<44} {:>8} {:>16.2f} {:>14.1f} {:>16.2f}{}", m.what, m.users, m.run.cpu_s * per_k,
        static_cast<double>(m.run.max_rss_kib) / 1024, m.sandbox_cpu_s * per_k,
        m.users < 1000 ? fmt::format("  (scaled from {} users)", m.users) : "");
  }
}

std::vector<int> IntList(const std::string& s) {
  std::vector<int> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const std::map<std::string, std::function<void(const std::string&)>> valued = {
      {"--users", [&](const std::string& v) { o.users = IntList(v); }},
      {"--baseline-users", [&](const std::string& v) { o.baseline_users = std::stoi(v); }},
      {"--latency-ms", [&](const std::string& v) { o.latency_ms = std::stoi(v); }},
      {"--concurrency", [&](const std::string& v) { o.concurrency = std::stoi(v); }},
      {"--throttle-rps", [&](const std::string& v) { o.throttle_rps = std::stod(v); }},
      {"--throttle-users", [&](const std::string& v) { o.throttle_users = std::stoi(v); }},
      {"--adaptive-users", [&](const std::string& v) { o.adaptive_users = std::stoi(v); }},
      {"--cli-users", [&](const std::string& v) { o.cli_users = std::stoi(v); }},
      {"--timeout", [&](const std::string& v) { o.timeout_s = std::stoi(v); }},
      {"--journal-dir", [&](const std::string& v) { o.journal_dir = v; }},
      {"--keyrotor", [&](const std::string& v) { o.keyrotor = v; }},
  };
  const std::map<std::string, bool*> switches = {
      {"--skip-baseline", &o.baseline}, {"--skip-throttle", &o.throttle}, {"--skip-cli", &o.cli}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (auto s = switches.find(a); s != switches.end()) {
      *s->second = false;
    } else if (auto v = valued.find(a); v != valued.end() && i + 1 < argc) {
      v->second(argv[++i]);
    } else {
      fmt::print(stderr,
                 "usage: fleet_bench [--users 1000,10000] [--baseline-users 1000] [--latency-ms 50] "
                 "[--concurrency 256] [--throttle-rps 80] [--throttle-users 300] [--adaptive-users 300] "
                 "[--cli-users 20] [--skip-baseline] [--skip-throttle] [--skip-cli] [--timeout SECONDS] "
                 "[--journal-dir DIR] [--keyrotor PATH]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  try {
    Say("fleet_bench: {} cores; keyrotor {}; children measured with wait4", std::thread::hardware_concurrency(),
        o.keyrotor);
    std::vector<Measured> costs;
    FleetRotation(o, &costs);
    if (o.throttle) ThrottledFleet(o);
    Cost(o, costs);
  } catch (const std::exception& e) {
    fmt::print(stderr, "fleet_bench: {}\n", e.what());
    return 1;
  }
  Say("\n{} secrets looked for in every output: {}", g_secrets.size(), g_leaks == 0 ? "none leaked" : "LEAKED");
  return g_leaks == 0 ? 0 : 1;
}
