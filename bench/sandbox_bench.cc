// Two measurements for the foundation:
//
// 1. Sandbox throughput: requests/s that keyrotor's own client (curl pool,
//    SigV4 signing) gets from the sandbox at C concurrent requests, against a
//    named baseline measured in the same run: the same client and HTTP server
//    with a handler that returns a canned answer (no SigV4 check, no state).
//    The ratio is what the sandbox's AWS logic costs.
//
// 2. Rotating 3 profiles with IAM eventual consistency (--consistency-ms),
//    keyrotor's `profiles rotate` (through the engine and a journal, profiles
//    of different users concurrently) against two baselines measured here: the
//    same one profile at a time, and the classic script loop it replaces
//    ("create a key, sleep 10 s, delete the oldest").
//
// Usage: sandbox_bench [--concurrency 16] [--seconds 5] [--consistency-ms 2000] [--skip-classic]
#include <fmt/core.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "aws/clients.h"
#include "aws/curl_transport.h"
#include "credentials/profile_writer.h"
#include "engine/profile_rotator.h"
#include "engine/sqlite_journal.h"
#include "net/http_server.h"
#include "sandbox/server.h"

using namespace keyrotor;

namespace {

struct Options {
  int concurrency = 16;
  int seconds = 5;
  int consistency_ms = 2000;
  bool classic = true;
};

aws::ClientFactory Clients(const std::string& endpoint, aws::HttpTransport* transport, const std::string& id,
                           const Secret& secret) {
  aws::ClientContext ctx;
  ctx.transport = transport;
  ctx.credentials =
      std::make_shared<aws::StaticCredentialsProvider>(aws::Credentials{id, secret.Clone(), Secret(), std::nullopt, "bench"});
  aws::EndpointSettings endpoints;
  endpoints.explicit_url = endpoint;
  return aws::ClientFactory(ctx, "us-east-1", endpoints, {});
}

// Runs GetCallerIdentity from `concurrency` threads for `seconds`; returns requests/s.
double Hammer(const aws::ClientFactory& clients, const Options& o, uint64_t* errors) {
  std::atomic<uint64_t> done{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < o.concurrency; ++i) {
    threads.emplace_back([&] {
      auto sts = clients.Sts();
      while (!stop.load(std::memory_order_relaxed)) {
        if (sts->GetCallerIdentity().ok()) {
          done.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *errors = failed.load();
  return static_cast<double>(done.load()) / elapsed;
}

void Throughput(const Options& o) {
  aws::CurlTransportOptions transport_options;
  transport_options.max_idle_handles = 256;
  aws::CurlTransport transport(transport_options);
  auto server = sandbox::SandboxServer::Start({});
  if (!server.ok()) throw std::runtime_error(server.status().ToString());
  auto admin = (*server)->sandbox().CreateAdmin("bench-admin");
  uint64_t sandbox_errors = 0, baseline_errors = 0;
  double sandbox_rps = Hammer(Clients((*server)->endpoint(), &transport, admin.access_key_id, admin.secret), o,
                              &sandbox_errors);
  (*server)->Stop();

  const std::string canned =
      "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
      "<UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/x</Arn>"
      "</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
      "</GetCallerIdentityResponse>";
  auto baseline = net::HttpServer::Start({}, [&](const aws::HttpRequest&, net::ResponseControl&) {
    aws::HttpResponse r;
    r.status = 200;
    r.headers.emplace_back("Content-Type", "text/xml");
    r.body = canned;
    return r;
  });
  if (!baseline.ok()) throw std::runtime_error(baseline.status().ToString());
  double baseline_rps =
      Hammer(Clients((*baseline)->endpoint(), &transport, admin.access_key_id, admin.secret), o, &baseline_errors);
  (*baseline)->Stop();

  fmt::print("sandbox throughput, keyrotor client, {} concurrent requests, {} s each, 2 cores shared by client and server\n",
             o.concurrency, o.seconds);
  fmt::print("  sandbox (SigV4 verified, GetCallerIdentity)   {:>9.0f} req/s  ({} errors)\n", sandbox_rps,
             sandbox_errors);
  fmt::print("  baseline: same server, canned answer          {:>9.0f} req/s  ({} errors)\n", baseline_rps,
             baseline_errors);
  fmt::print("  ratio sandbox/baseline                        {:>9.2f}\n", sandbox_rps / baseline_rps);
}

struct Fleet {
  std::unique_ptr<sandbox::SandboxServer> server;
  std::string dir, path;
  std::vector<std::string> users;
};

Fleet MakeFleet(int consistency_ms) {
  Fleet f;
  sandbox::SandboxOptions options;
  options.consistency_ms = consistency_ms;
  auto server = sandbox::SandboxServer::Start(options);
  if (!server.ok()) throw std::runtime_error(server.status().ToString());
  f.server = std::move(server).value();
  std::string tmpl = (std::filesystem::temp_directory_path() / "keyrotor-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
  f.dir = tmpl;
  f.path = f.dir + "/credentials";
  for (const char* u : {"app1", "app2", "app3"}) {
    auto key = f.server->sandbox().CreateUserWithKey(u, Clock::Real()->Now() - std::chrono::hours(24 * 100));
    if (!key.ok()) throw std::runtime_error(key.status().ToString());
    Status s = credentials::WriteProfile(f.path, u, key->access_key_id, key->secret);
    if (!s.ok()) throw std::runtime_error(s.ToString());
    f.users.push_back(u);
  }
  return f;
}

// One `profiles rotate` over a fresh 3-profile fleet, through the engine and
// a fresh journal, `concurrency` profiles at a time. Returns seconds; *rotated
// gets the count.
double TimeProfilesRotate(aws::HttpTransport* transport, int consistency_ms, int concurrency, int* rotated) {
  Fleet f = MakeFleet(consistency_ms);
  aws::ClientContext ctx;
  ctx.transport = transport;
  aws::EndpointSettings endpoints;
  endpoints.explicit_url = f.server->endpoint();
  engine::ProfileRotationOptions options;
  options.credentials_path = f.path;
  options.concurrency = concurrency;
  auto journal = engine::OpenSqliteJournal(f.dir + "/journal.db");
  if (!journal.ok()) throw std::runtime_error(journal.status().ToString());
  engine::ProfileRotator rotator(aws::ClientFactory(ctx, "us-east-1", endpoints, {}), journal->get(), options);
  auto start = std::chrono::steady_clock::now();
  auto outcomes = rotator.Run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *rotated = 0;
  if (outcomes.ok()) {
    for (const auto& out : *outcomes) *rotated += out.result == engine::ProfileOutcome::Result::kRotated;
  }
  journal->reset();
  f.server->Stop();
  std::filesystem::remove_all(f.dir);
  return seconds;
}

void ProfilesRotate(const Options& o) {
  aws::CurlTransport transport;
  int sequential_rotated = 0, rotated = 0;
  double sequential_s = TimeProfilesRotate(&transport, o.consistency_ms, 1, &sequential_rotated);
  double keyrotor_s = TimeProfilesRotate(&transport, o.consistency_ms, 4, &rotated);

  fmt::print("\nrotating 3 profiles, sandbox --consistency-ms {}\n", o.consistency_ms);
  fmt::print("  keyrotor profiles rotate (verified, old keys deactivated)  {:>6.2f} s  ({}/3 rotated, concurrency 4)\n",
             keyrotor_s, rotated);
  fmt::print("  baseline: the same, one profile at a time (--concurrency 1) {:>6.2f} s  ({}/3 rotated)\n",
             sequential_s, sequential_rotated);
  fmt::print("  ratio one-at-a-time/concurrent                              {:>6.2f}x\n", sequential_s / keyrotor_s);
  if (!o.classic) return;
  // The classic script: per profile, create a key, sleep 10 s "for IAM", delete
  // the oldest key, write the file. No verification; it simply waits.
  Fleet c = MakeFleet(o.consistency_ms);
  auto admin = c.server->sandbox().CreateAdmin("classic-admin");
  std::this_thread::sleep_for(std::chrono::milliseconds(o.consistency_ms + 50));
  auto iam = Clients(c.server->endpoint(), &transport, admin.access_key_id, admin.secret).Iam();
  auto start = std::chrono::steady_clock::now();
  int classic_done = 0;
  for (const auto& u : c.users) {
    auto key = iam->CreateAccessKey(u);
    if (!key.ok()) continue;
    std::this_thread::sleep_for(std::chrono::seconds(10));
    auto keys = iam->ListAccessKeys(u);
    if (!keys.ok() || keys->empty()) continue;
    auto oldest = std::min_element(keys->begin(), keys->end(),
                                   [](const auto& a, const auto& b) { return a.create_date < b.create_date; });
    if (iam->DeleteAccessKey(u, oldest->access_key_id).ok() &&
        credentials::WriteProfile(c.path, u, key->metadata.access_key_id, key->secret_access_key).ok()) {
      ++classic_done;
    }
  }
  double classic_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  c.server->Stop();
  std::filesystem::remove_all(c.dir);
  fmt::print("  baseline: classic loop (create, sleep 10 s, delete oldest)   {:>6.2f} s  ({}/3 rotated, unverified)\n",
             classic_s, classic_done);
  fmt::print("  ratio classic/keyrotor                                      {:>6.2f}x\n", classic_s / keyrotor_s);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::stoi(argv[++i]) : 0; };
    if (a == "--concurrency") o.concurrency = next();
    else if (a == "--seconds") o.seconds = next();
    else if (a == "--consistency-ms") o.consistency_ms = next();
    else if (a == "--skip-classic") o.classic = false;
    else {
      fmt::print(stderr, "usage: sandbox_bench [--concurrency N] [--seconds N] [--consistency-ms N] [--skip-classic]\n");
      return 2;
    }
  }
  Throughput(o);
  ProfilesRotate(o);
  return 0;
}
