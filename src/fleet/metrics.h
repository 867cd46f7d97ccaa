// What `keyrotor daemon` exposes on /metrics (Prometheus text format 0.0.4)
// and /healthz: rotations by outcome, the key-age histogram of the last run,
// when the last run happened and how it ended, notifications owed and failed
// deliveries, the next run, reloads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "fleet/runner.h"

namespace keyrotor::fleet {

// Upper bounds (days) of the key-age histogram's buckets, then +Inf. The CIS
// limit (90 days) is a bucket edge, so "keys over 90 days" is one subtraction.
inline constexpr double kKeyAgeBucketsDays[] = {1, 7, 30, 45, 60, 75, 90, 120, 180, 365};

class FleetMetrics {
 public:
  explicit FleetMetrics(Clock* clock) : clock_(clock) {}

  void RunStarted();
  // Each user as it finishes (counters move during a run, not only after).
  void OnResult(const UserResult& result);
  void RunFinished(const RunSummary& summary);
  void ConfigLoaded(bool ok, const std::string& schedule);
  void SetNextRun(TimePoint at);

  std::string RenderPrometheus() const;
  // {"status":"ok","running","last_run":{...}?,"next_run","config_reloads_failed"}
  nlohmann::json Health() const;

  uint64_t runs() const;

 private:
  Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> users_by_result_;  // counter, over the process's life
  std::map<std::string, uint64_t> runs_by_result_;   // "ok" / "failed" / "interrupted"
  uint64_t notification_failures_ = 0;               // counter: failed deliveries, over the process's life
  // Key ages seen by the run in progress, and the histogram of the last finished run.
  std::vector<double> ages_in_run_;
  std::vector<uint64_t> age_buckets_;  // cumulative counts per kKeyAgeBucketsDays, then +Inf
  double age_sum_ = 0;
  uint64_t age_count_ = 0;
  bool running_ = false;
  std::optional<TimePoint> last_run_started_, last_run_finished_;
  std::optional<RunSummary> last_summary_;
  std::optional<TimePoint> next_run_;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::string schedule_;
};

// The resident set size of this process, in bytes (0 when unknown).
uint64_t ResidentBytes();

}  // namespace keyrotor::fleet
