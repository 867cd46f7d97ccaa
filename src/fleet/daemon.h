// The daemon's loop: load the fleet config, run it on its schedule, reload it
// when asked (SIGHUP), and stop when asked (SIGTERM) once the steps in flight
// are done. Time comes from a Clock, so tests run weeks of schedule at once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "aws/clients.h"
#include "base/clock.h"
#include "engine/journal.h"
#include "fleet/config.h"
#include "fleet/metrics.h"
#include "fleet/runner.h"

namespace keyrotor::fleet {

// A config with what runs it: the admin clients and the config's journal.
struct LoadedFleet {
  FleetConfig config;
  std::unique_ptr<aws::ClientFactory> admin;
  std::unique_ptr<engine::Journal> journal;
};
using FleetLoader = std::function<Result<LoadedFleet>()>;

struct DaemonOptions {
  bool run_at_start = false;  // a run at once, then the schedule
  int max_runs = 0;           // stop after this many runs; 0: until asked
  int concurrency = 0;        // 0: the config's
  Duration poll{200};         // how often a wait looks at the stop and reload flags
  std::function<void(const UserResult&)> on_result;
  std::function<void(const RunSummary&)> on_run;
  std::function<void(const std::string&)> log;  // one line per event worth telling
};

class Daemon {
 public:
  Daemon(FleetLoader loader, Clock* clock, FleetMetrics* metrics, DaemonOptions options);
  ~Daemon();

  // Loads the config (its error, when the first load fails), then runs the
  // schedule until `stop` is set or max_runs are done. `reload` (cleared
  // here) reloads the config between runs; a config that no longer loads is
  // logged and the one in force kept.
  Status Serve(const std::atomic<bool>& stop, std::atomic<bool>& reload);

 private:
  bool Reload(bool first);
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  FleetLoader loader_;
  Clock* clock_;
  FleetMetrics* metrics_;
  DaemonOptions options_;
  std::unique_ptr<LoadedFleet> fleet_;
  std::unique_ptr<FleetRunner> runner_;
  Status first_load_;
};

}  // namespace keyrotor::fleet
