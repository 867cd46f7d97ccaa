#include "fleet/daemon.h"

#include <algorithm>

namespace keyrotor::fleet {

Daemon::Daemon(FleetLoader loader, Clock* clock, FleetMetrics* metrics, DaemonOptions options)
    : loader_(std::move(loader)), clock_(clock), metrics_(metrics), options_(std::move(options)) {}

Daemon::~Daemon() = default;

bool Daemon::Reload(bool first) {
  Result<LoadedFleet> loaded = loader_();
  if (!loaded.ok()) {
    metrics_->ConfigLoaded(false, "");
    if (first) {
      first_load_ = loaded.status();
    } else {
      Log("config reload failed; keeping the config in force: " + loaded.status().ToString());
    }
    return false;
  }
  // The runner refers to the config and journal it replaces: drop it first.
  runner_.reset();
  fleet_ = std::make_unique<LoadedFleet>(std::move(loaded).value());
  runner_ = std::make_unique<FleetRunner>(fleet_->config, *fleet_->admin, fleet_->journal.get());
  metrics_->ConfigLoaded(true, fleet_->config.schedule.text());
  Log(std::string(first ? "config loaded" : "config reloaded") + ": " + fleet_->config.path + ", schedule " +
      fleet_->config.schedule.text() + " (UTC)");
  return true;
}

Status Daemon::Serve(const std::atomic<bool>& stop, std::atomic<bool>& reload) {
  reload.store(false);
  if (!Reload(/*first=*/true)) return first_load_;
  int runs = 0;
  bool run_now = options_.run_at_start;
  while (!stop.load()) {
    TimePoint next = run_now ? clock_->Now() : fleet_->config.schedule.NextRun(clock_->Now());
    metrics_->SetNextRun(next);
    if (!run_now) Log("next run at " + FormatIso8601(next));
    run_now = false;
    bool reloaded = false;
    while (!stop.load() && clock_->Now() < next) {
      if (reload.exchange(false)) {
        Reload(/*first=*/false);
        reloaded = true;  // the schedule may have changed
        break;
      }
      Duration left = std::chrono::duration_cast<Duration>(next - clock_->Now());
      clock_->SleepFor(std::max(Duration(1), std::min(options_.poll, left)));
    }
    if (stop.load()) break;
    if (reloaded) continue;

    metrics_->RunStarted();
    RunOptions ro;
    ro.concurrency = options_.concurrency;
    ro.stop = &stop;
    ro.on_result = [&](const UserResult& r) {
      metrics_->OnResult(r);
      if (options_.on_result) options_.on_result(r);
    };
    RunSummary summary = runner_->Run(ro);
    metrics_->RunFinished(summary);
    if (options_.on_run) options_.on_run(summary);
    ++runs;
    if (options_.max_runs > 0 && runs >= options_.max_runs) break;
    // A SIGHUP during the run takes effect now, before the next wait.
    if (reload.exchange(false)) Reload(/*first=*/false);
  }
  return Status::Ok();
}

}  // namespace keyrotor::fleet
