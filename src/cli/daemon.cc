// keyrotor daemon: runs the fleet config on its schedule.
//
//   SIGTERM / SIGINT  the users in flight finish their step; then exit 0
//   SIGHUP            reload the config (a broken one is logged and ignored)
//
// Prometheus metrics on http://HOST:PORT/metrics and a health document on
// /healthz, on a loopback address only (they name users and accounts).
// Each user's outcome is a JSON line on stdout; events go to stderr.
#include <fmt/core.h>
#include <signal.h>

#include <atomic>
#include <optional>
#include <thread>

#include "cli/fleet.h"
#include "fleet/daemon.h"
#include "fleet/metrics.h"
#include "net/http_server.h"

namespace keyrotor::cli {
namespace {

struct DaemonFlags {
  FleetFlags fleet;
  std::string metrics_listen = "127.0.0.1:9464";
  bool run_at_start = false;
  bool once = false;
};

// The metrics name users and accounts: loopback only, said plainly (the
// server would refuse another host too, less helpfully).
Result<std::pair<std::string, int>> ParseMetricsListen(const std::string& text) {
  KR_ASSIGN_OR_RETURN(auto listen, ParseListenAddress("--metrics-listen", text));
  auto& [host, port] = listen;
  if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
    return Status::InvalidArgument("--metrics-listen: " + host +
                                   " is not a loopback address; metrics name users and accounts, so they are served on "
                                   "loopback only (put a proxy in front to publish them)");
  }
  if (host == "localhost") host = "127.0.0.1";
  return listen;
}

void Log(const std::string& line) {
  fmt::print(stderr, "{} keyrotor daemon: {}\n", FormatIso8601(Clock::Real()->Now()), line);
  std::fflush(stderr);
}

int RunDaemon(const DaemonFlags& flags) {
  EnvMap env = ProcessEnvironment();
  // Signals go to one thread, which only sets flags the loop looks at. They
  // are blocked before any thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::unique_ptr<net::HttpServer> server;
  fleet::FleetMetrics metrics(Clock::Real());
  if (flags.metrics_listen != "off") {
    auto listen = ParseMetricsListen(flags.metrics_listen);
    if (!listen.ok()) {
      PrintError(listen.status());
      return kExitUsage;
    }
    net::ServerOptions so;
    so.host = listen->first;
    so.port = listen->second;
    so.max_connections = 64;
    so.max_body = 64 << 10;
    auto started = net::HttpServer::Start(so, [&metrics](const aws::HttpRequest& req, net::ResponseControl&) {
      aws::HttpResponse resp;
      std::string path = req.url.substr(0, req.url.find('?'));
      if (size_t scheme = path.find("://"); scheme != std::string::npos) {
        size_t slash = path.find('/', scheme + 3);
        path = slash == std::string::npos ? "/" : path.substr(slash);
      }
      if (req.method != "GET" && req.method != "HEAD") {
        resp.status = 405;
        resp.body = "method not allowed\n";
      } else if (path == "/metrics") {
        resp.status = 200;
        resp.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        resp.body = metrics.RenderPrometheus();
      } else if (path == "/healthz") {
        resp.status = 200;
        resp.headers.emplace_back("Content-Type", "application/json");
        resp.body = metrics.Health().dump() + "\n";
      } else {
        resp.status = 404;
        resp.body = "not found: /metrics and /healthz are served here\n";
      }
      return resp;
    });
    if (!started.ok()) {
      PrintError(started.status().WithContext("--metrics-listen " + flags.metrics_listen));
      return kExitUsage;
    }
    server = std::move(started).value();
    Log("metrics on " + server->endpoint() + "/metrics, health on " + server->endpoint() + "/healthz");
  }

  std::atomic<bool> stop{false}, reload{false}, done{false};
  std::thread signal_thread([&] {
    while (!done.load()) {
      timespec wait{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGHUP) {
        Log("SIGHUP: reloading the config");
        reload.store(true);
      } else if (sig == SIGTERM || sig == SIGINT) {
        Log(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": finishing the steps in flight, then exiting");
        stop.store(true);
      }
    }
  });

  fleet::DaemonOptions options;
  options.run_at_start = flags.run_at_start || flags.once;
  options.max_runs = flags.once ? 1 : 0;
  options.concurrency = flags.fleet.concurrency;
  options.log = Log;
  options.on_result = PrintUserResultLine;

  std::optional<fleet::RunSummary> last_run;
  options.on_run = [&last_run](const fleet::RunSummary& s) {
    last_run = s;
    fmt::print("{}\n", SummaryLine(s));
    std::fflush(stdout);
    Log(fmt::format("run {}: {} users, {} failed, {:.1f} s", s.interrupted ? "interrupted" : s.ok() ? "ok" : "failed",
                    s.users, s.failed_users, std::chrono::duration<double>(s.finished - s.started).count()));
  };
  const FleetFlags& ff = flags.fleet;
  fleet::Daemon daemon(
      [&]() -> Result<Fleet> {
        KR_ASSIGN_OR_RETURN(Fleet f, LoadFleet(ff.global, ff.config, env));
        KR_RETURN_IF_ERROR(CheckRunFilters(ff, f.config));
        return f;
      },
      Clock::Real(), &metrics, options);
  Status served = daemon.Serve(stop, reload);
  done.store(true);
  signal_thread.join();
  if (server) server->Stop();
  if (!served.ok()) {
    PrintFleetError(served, ff.config);
    return kExitUsage;
  }
  Log("stopped");
  // --once reports its run as `run` would; a daemon stopped by a signal exits 0.
  if (flags.once && last_run) return RunExitStatus(*last_run);
  return kExitOk;
}

}  // namespace

void RegisterDaemonCommand(CLI::App& app) {
  auto flags = std::make_shared<DaemonFlags>();
  auto* cmd = app.add_subcommand(
      "daemon",
      "Run the fleet config on its schedule: SIGTERM finishes the steps in flight and exits, SIGHUP reloads the "
      "config; Prometheus metrics on /metrics and health on /healthz (loopback only)");
  cmd->add_option("--config", flags->fleet.config, "The fleet config file, e.g. /etc/keyrotor/keyrotor.toml")
      ->required();
  cmd->add_option("--concurrency", flags->fleet.concurrency, "Users processed at once (default: the config's)");
  cmd->add_option("--metrics-listen", flags->metrics_listen,
                  "HOST:PORT for /metrics and /healthz, a loopback address; port 0 picks one; 'off' serves none")
      ->capture_default_str();
  cmd->add_flag("--run-at-start", flags->run_at_start, "Run once at start, then follow the schedule");
  cmd->add_flag("--once", flags->once, "Run once at start and exit, with the exit status of `run`");
  AddGlobalFlags(*cmd, flags->fleet.global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunDaemon(*flags)); });
}

}  // namespace keyrotor::cli
