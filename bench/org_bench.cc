// Organization-scale passes (issue #14). IAM calls per pass, counted by the
// sandbox per account and action, for the same fleet planned two ways in
// the same process:
//
//   baseline  planning = "per-user": ListUsers, then per user ListAccessKeys
//             and ListUserTags (what every pass cost before bulk planning);
//   bulk      planning = "bulk" (the default): GetAccountAuthorizationDetails,
//             the credential report, and calls only for users with something
//             due.
//
// 1. A pass with nothing due, and a pass with --due-percent of the keys past
//    rotate_after (staged mode: create, verify with STS, journal), over
//    --accounts member accounts of --users users each, discovered through
//    the sandbox's Organization. Prints IAM calls per account by action, the
//    ratio, and the target (<= 20 per account; <= 20 + 2 x due).
// 2. A bulk pass under IAM's per-account throttle (--throttle-rps requests/s
//    per account, over --throttle-users users each, --due-percent due): wall
//    time against the floor, the largest account's accepted IAM calls / rps,
//    with the limit declared (rate_limit) and with the adaptive limiter alone.
//
// Every pass checks what it did: each due user holds a new key verified with
// STS and journaled (state "stored"), no user failed.
//
// Usage: org_bench [--accounts 10] [--users 10000] [--due-percent 1] [--concurrency 16]
//                  [--throttle-rps 10] [--throttle-users 10000] [--skip-baseline] [--skip-throttle]
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "aws/clients.h"
#include "engine/sqlite_journal.h"
#include "fleet/config.h"
#include "fleet/runner.h"
#include "sandbox/sandbox.h"
#include "sandbox/seed.h"

using namespace keyrotor;

namespace {

struct Flags {
  int accounts = 10;
  int users = 10000;
  double due_percent = 1;
  int concurrency = 16;
  double throttle_rps = 10;
  int throttle_users = 10000;
  bool skip_baseline = false;
  bool skip_throttle = false;
};

// Hands requests straight to the sandbox: the bench counts calls, not sockets.
class DirectTransport : public aws::HttpTransport {
 public:
  explicit DirectTransport(sandbox::Sandbox* sandbox) : sandbox_(sandbox) {}
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions&) override {
    net::ResponseControl control;
    aws::HttpResponse response = sandbox_->Handle(request, control);
    if (control.reset_connection) return Status::UnknownOutcome("connection reset (injected)");
    return response;
  }

 private:
  sandbox::Sandbox* sandbox_;
};

// An Organization of `accounts` members with `users` users each; the first
// `due` of each account hold a key past rotate_after.
struct World {
  World(int accounts, int users, int due, double iam_rps) {
    sandbox::SandboxOptions options;
    options.iam_rps_per_account = iam_rps;
    sb = std::make_unique<sandbox::Sandbox>(options);
    transport = std::make_unique<DirectTransport>(sb.get());
    admin = sb->CreateAdmin("admin");
    layout = sandbox::SeedOrganization(*sb, accounts).value();
    TimePoint now = Clock::Real()->Now();
    for (const std::string& id : layout.members) {
      for (int i = 0; i < users; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "svc-%05d", i);
        auto age = std::chrono::hours(24 * (i < due ? 100 : 10));
        if (!sb->CreateUserWithKeyIn(id, name, now - age).ok()) throw std::runtime_error("seeding failed");
      }
    }
    dir = std::filesystem::temp_directory_path() / ("keyrotor-org-bench-" + std::to_string(::getpid()) + "-" +
                                                    std::to_string(serial++));
    std::filesystem::create_directories(dir);
    journal = std::move(engine::OpenSqliteJournal(dir + "/journal.db")).value();
  }
  ~World() {
    journal.reset();
    std::filesystem::remove_all(dir);
  }

  aws::ClientFactory Clients() {
    aws::ClientContext ctx;
    ctx.transport = transport.get();
    ctx.retry.max_attempts = 10;
    ctx.credentials = std::make_shared<aws::StaticCredentialsProvider>(
        aws::Credentials{admin.access_key_id, admin.secret.Clone(), Secret(), std::nullopt, "bench"});
    aws::EndpointSettings endpoints;
    endpoints.explicit_url = "http://127.0.0.1:4566/";
    return aws::ClientFactory(ctx, "us-east-1", endpoints, {});
  }

  static inline int serial = 0;
  std::unique_ptr<sandbox::Sandbox> sb;
  std::unique_ptr<DirectTransport> transport;
  sandbox::Sandbox::IssuedKey admin;
  sandbox::OrganizationLayout layout;
  std::string dir;
  std::unique_ptr<engine::Journal> journal;
};

struct Pass {
  fleet::RunSummary summary;
  double seconds = 0;
  std::map<std::string, double> per_account;  // IAM action -> mean calls per member account
  double iam_per_account = 0;                 // mean
  double iam_max_account = 0;                 // the largest account's IAM calls
  double accepted_max_account = 0;            // ... less those IAM throttled
  double throttled = 0;
  std::string first_failure;  // never a secret: the engine's messages hold none
};

Pass RunPass(World& w, bool bulk, int concurrency, double rate_limit) {
  std::string text = "planning = \"" + std::string(bulk ? "bulk" : "per-user") + "\"\nconcurrency = " +
                     std::to_string(concurrency) + "\n[organization]\nrole_name = \"OrganizationAccountAccessRole\"\n" +
                     (rate_limit > 0 ? "rate_limit = " + std::to_string(rate_limit) + "\n" : "") +
                     "[[selection]]\nall_users = true\n";
  fleet::FleetConfig config = fleet::ParseFleetConfig(text, w.dir + "/keyrotor.toml", {}).value();
  fleet::FleetRunner runner(config, w.Clients(), w.journal.get());
  w.sb->ResetCallCounts();
  Pass p;
  fleet::RunOptions options;
  options.on_result = [&](const fleet::UserResult& r) {
    if (r.outcome.failed() && p.first_failure.empty()) p.first_failure = r.account_name + "/" + r.outcome.user + ": " + r.outcome.message;
  };
  auto start = std::chrono::steady_clock::now();
  p.summary = runner.Run(options);
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto counts = w.sb->call_counts();
  for (const std::string& id : w.layout.members) {
    double iam = 0;
    for (const auto& [action, n] : counts[id]) {
      if (action.rfind("iam:", 0) != 0) continue;
      p.per_account[action] += static_cast<double>(n) / w.layout.members.size();
      iam += static_cast<double>(n);
    }
    double throttled = static_cast<double>(counts[id]["throttled"]);
    p.iam_per_account += iam / w.layout.members.size();
    p.iam_max_account = std::max(p.iam_max_account, iam);
    p.accepted_max_account = std::max(p.accepted_max_account, iam - throttled);
    p.throttled += throttled;
  }
  return p;
}

// Every due user of every account: two keys, the new one journaled as stored.
bool Check(World& w, const Pass& p, int due, const char* what) {
  bool ok = p.summary.failed_users == 0 && p.summary.failed_accounts() == 0;
  size_t rotated = 0;
  for (const std::string& id : w.layout.members) {
    for (int i = 0; i < due; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "svc-%05d", i);
      rotated += w.sb->ListKeysIn(id, name).size() == 2;
    }
  }
  auto open = w.journal->OpenRotations();
  size_t stored = 0;
  if (open.ok()) {
    for (const auto& r : *open) stored += r.state == engine::RotationState::kStored;
  }
  size_t expected = static_cast<size_t>(due) * w.layout.members.size();
  ok = ok && rotated == expected && stored == expected;
  fmt::print("  check {}: {} failed users, {} failed accounts, {}/{} due users hold a new key, {} journaled as stored: {}\n",
             what, p.summary.failed_users, p.summary.failed_accounts(), rotated, expected, stored, ok ? "ok" : "FAILED");
  if (!p.first_failure.empty()) fmt::print("    first failure: {}\n", p.first_failure);
  return ok;
}

void PrintCounts(const char* title, const Pass* baseline, const Pass& bulk, double target) {
  fmt::print("\n{}\n", title);
  fmt::print("  {:<36} {:>12} {:>12}\n", "IAM calls per account", baseline ? "per-user" : "", "bulk");
  std::map<std::string, bool> actions;
  if (baseline) {
    for (const auto& [a, n] : baseline->per_account) actions[a] = true;
  }
  for (const auto& [a, n] : bulk.per_account) actions[a] = true;
  for (const auto& [a, unused] : actions) {
    auto get = [&](const Pass* p) {
      if (!p) return std::string();
      auto it = p->per_account.find(a);
      return fmt::format("{:.1f}", it == p->per_account.end() ? 0.0 : it->second);
    };
    fmt::print("  {:<36} {:>12} {:>12}\n", a, get(baseline), get(&bulk));
  }
  fmt::print("  {:<36} {:>12} {:>12}\n", "total", baseline ? fmt::format("{:.1f}", baseline->iam_per_account) : "",
             fmt::format("{:.1f}", bulk.iam_per_account));
  if (baseline) {
    fmt::print("  ratio per-user / bulk: {:.0f}x fewer IAM calls; pass wall time {:.2f} s vs {:.2f} s\n",
               baseline->iam_per_account / std::max(1.0, bulk.iam_per_account), baseline->seconds, bulk.seconds);
  }
  fmt::print("  target: <= {:.0f} IAM calls per account; largest account {:.0f}: {}\n", target, bulk.iam_max_account,
             bulk.iam_max_account <= target ? "met" : "MISSED");
}

int Main(const Flags& f) {
  bool ok = true;
  const int due = static_cast<int>(f.users * f.due_percent / 100.0);
  fmt::print("org_bench: {} member accounts x {} users; {}% due = {} per account; concurrency {}\n", f.accounts,
             f.users, f.due_percent, due, f.concurrency);

  // 1a. Nothing due.
  {
    std::unique_ptr<Pass> baseline;
    if (!f.skip_baseline) {
      World w(f.accounts, f.users, 0, 0);
      baseline = std::make_unique<Pass>(RunPass(w, false, f.concurrency, 0));
      ok = Check(w, *baseline, 0, "per-user, nothing due") && ok;
    }
    World w(f.accounts, f.users, 0, 0);
    Pass bulk = RunPass(w, true, f.concurrency, 0);
    ok = Check(w, bulk, 0, "bulk, nothing due") && ok;
    PrintCounts("1a. a pass with nothing due", baseline.get(), bulk, 20);
    ok = bulk.iam_max_account <= 20 && ok;
  }
  // 1b. due_percent due.
  {
    std::unique_ptr<Pass> baseline;
    if (!f.skip_baseline) {
      World w(f.accounts, f.users, due, 0);
      baseline = std::make_unique<Pass>(RunPass(w, false, f.concurrency, 0));
      ok = Check(w, *baseline, due, "per-user, due") && ok;
    }
    World w(f.accounts, f.users, due, 0);
    Pass bulk = RunPass(w, true, f.concurrency, 0);
    ok = Check(w, bulk, due, "bulk, due") && ok;
    double target = 20 + 2.0 * due;
    PrintCounts(fmt::format("1b. a pass with {}% due ({} rotations per account)", f.due_percent, due).c_str(),
                baseline.get(), bulk, target);
    ok = bulk.iam_max_account <= target && ok;
  }
  // 2. Under IAM's per-account throttle.
  if (!f.skip_throttle) {
    const int tdue = static_cast<int>(f.throttle_users * f.due_percent / 100.0);
    fmt::print("\n2. bulk pass under an IAM limit of {} requests/s per account ({} users, {} due per account)\n",
               f.throttle_rps, f.throttle_users, tdue);
    for (bool declared : {true, false}) {
      World w(f.accounts, f.throttle_users, tdue, f.throttle_rps);
      Pass p = RunPass(w, true, f.concurrency, declared ? f.throttle_rps : 0);
      ok = Check(w, p, tdue, declared ? "throttled, rate_limit declared" : "throttled, adaptive") && ok;
      double floor = p.accepted_max_account / f.throttle_rps;
      double over = floor > 0 ? (p.seconds / floor - 1) * 100 : 0;
      fmt::print("  {:<28} wall {:.2f} s, floor {:.2f} s (largest account: {:.0f} accepted IAM calls / {} per s): "
                 "{:+.1f}%; {:.0f} throttled IAM calls; {} failed users\n",
                 declared ? "rate_limit declared:" : "adaptive limiter alone:", p.seconds, floor,
                 p.accepted_max_account, f.throttle_rps, over, p.throttled, p.summary.failed_users);
      if (declared) ok = over <= 10 && ok;
    }
  }
  fmt::print("\n{}\n", ok ? "org_bench: every check and target met" : "org_bench: a check or target FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--accounts") f.accounts = std::stoi(next());
      else if (a == "--users") f.users = std::stoi(next());
      else if (a == "--due-percent") f.due_percent = std::stod(next());
      else if (a == "--concurrency") f.concurrency = std::stoi(next());
      else if (a == "--throttle-rps") f.throttle_rps = std::stod(next());
      else if (a == "--throttle-users") f.throttle_users = std::stoi(next());
      else if (a == "--skip-baseline") f.skip_baseline = true;
      else if (a == "--skip-throttle") f.skip_throttle = true;
      else throw std::runtime_error("unknown flag " + a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "org_bench: %s\n", e.what());
      return 2;
    }
  }
  return Main(f);
}
