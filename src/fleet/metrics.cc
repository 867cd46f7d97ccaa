#include "fleet/metrics.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <iterator>

namespace keyrotor::fleet {
namespace {

double Seconds(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// Prometheus label values escape \, " and newline.
std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

uint64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<uint64_t>(resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

void FleetMetrics::RunStarted() {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = true;
  last_run_started_ = clock_->Now();
  ages_in_run_.clear();
}

void FleetMetrics::OnResult(const UserResult& r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++users_by_result_[engine::ResultName(r.outcome.result)];
  notification_failures_ += static_cast<uint64_t>(r.outcome.notification_failures);
  if (r.outcome.oldest_active_key_created) {
    ages_in_run_.push_back(
        std::chrono::duration<double>(clock_->Now() - *r.outcome.oldest_active_key_created).count() / 86400.0);
  }
}

void FleetMetrics::RunFinished(const RunSummary& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  last_run_finished_ = clock_->Now();
  last_summary_ = summary;
  ++runs_by_result_[summary.interrupted ? "interrupted" : summary.ok() ? "ok" : "failed"];
  age_buckets_.assign(std::size(kKeyAgeBucketsDays) + 1, 0);
  age_sum_ = 0;
  age_count_ = ages_in_run_.size();
  for (double age : ages_in_run_) {
    age_sum_ += age;
    for (size_t i = 0; i < std::size(kKeyAgeBucketsDays); ++i) {
      if (age <= kKeyAgeBucketsDays[i]) ++age_buckets_[i];
    }
    ++age_buckets_.back();
  }
  ages_in_run_.clear();
  ages_in_run_.shrink_to_fit();
}

void FleetMetrics::ConfigLoaded(bool ok, const std::string& schedule) {
  std::lock_guard<std::mutex> lock(mu_);
  (ok ? reloads_ok_ : reloads_failed_)++;
  if (ok) schedule_ = schedule;
}

void FleetMetrics::SetNextRun(TimePoint at) {
  std::lock_guard<std::mutex> lock(mu_);
  next_run_ = at;
}

uint64_t FleetMetrics::runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& [k, v] : runs_by_result_) n += v;
  return n;
}

std::string FleetMetrics::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto head = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  head("keyrotor_user_runs_total", "counter", "Users processed by fleet runs, by the engine's outcome.");
  for (const char* r : {"not_due", "progressed", "completed", "deferred", "skipped", "locked", "failed", "rolled_back"}) {
    auto it = users_by_result_.find(r);
    out += fmt::format("keyrotor_user_runs_total{{outcome=\"{}\"}} {}\n", r, it == users_by_result_.end() ? 0 : it->second);
  }
  head("keyrotor_runs_total", "counter", "Fleet runs, by result (ok, failed, interrupted).");
  for (const char* r : {"ok", "failed", "interrupted"}) {
    auto it = runs_by_result_.find(r);
    out += fmt::format("keyrotor_runs_total{{result=\"{}\"}} {}\n", r, it == runs_by_result_.end() ? 0 : it->second);
  }
  head("keyrotor_key_age_days", "histogram",
       "Age of each user's oldest active access key, as the last finished run saw it.");
  if (!age_buckets_.empty()) {
    for (size_t i = 0; i < std::size(kKeyAgeBucketsDays); ++i) {
      out += fmt::format("keyrotor_key_age_days_bucket{{le=\"{}\"}} {}\n", kKeyAgeBucketsDays[i], age_buckets_[i]);
    }
    out += fmt::format("keyrotor_key_age_days_bucket{{le=\"+Inf\"}} {}\n", age_buckets_.back());
  } else {
    out += "keyrotor_key_age_days_bucket{le=\"+Inf\"} 0\n";
  }
  out += fmt::format("keyrotor_key_age_days_sum {}\nkeyrotor_key_age_days_count {}\n", age_sum_, age_count_);
  head("keyrotor_last_run_timestamp_seconds", "gauge", "When the last fleet run finished (Unix time); 0 before the first.");
  out += fmt::format("keyrotor_last_run_timestamp_seconds {:.3f}\n",
                     last_run_finished_ ? Seconds(*last_run_finished_) : 0.0);
  head("keyrotor_last_run_success", "gauge",
       "1 when the last fleet run had no failed user or account and owed no notification, else 0.");
  out += fmt::format("keyrotor_last_run_success {}\n", last_summary_ && last_summary_->ok() ? 1 : 0);
  head("keyrotor_last_run_duration_seconds", "gauge", "Wall time of the last fleet run.");
  out += fmt::format("keyrotor_last_run_duration_seconds {:.3f}\n",
                     last_summary_ ? std::chrono::duration<double>(last_summary_->finished - last_summary_->started).count()
                                   : 0.0);
  head("keyrotor_last_run_failed_users", "gauge", "Users that failed or were rolled back in the last fleet run.");
  out += fmt::format("keyrotor_last_run_failed_users {}\n", last_summary_ ? last_summary_->failed_users : 0);
  head("keyrotor_notifications_owed", "gauge",
       "Notifications the users' rotations still owed after the last fleet run (retried by the next run).");
  out += fmt::format("keyrotor_notifications_owed {}\n", last_summary_ ? last_summary_->notifications_owed : 0);
  head("keyrotor_notification_failures_total", "counter",
       "Notification deliveries that failed (one per event and notifier), over the process's life.");
  out += fmt::format("keyrotor_notification_failures_total {}\n", notification_failures_);
  head("keyrotor_run_in_progress", "gauge", "1 while a fleet run is in progress.");
  out += fmt::format("keyrotor_run_in_progress {}\n", running_ ? 1 : 0);
  head("keyrotor_next_run_timestamp_seconds", "gauge", "When the next scheduled run starts (Unix time).");
  out += fmt::format("keyrotor_next_run_timestamp_seconds {:.3f}\n", next_run_ ? Seconds(*next_run_) : 0.0);
  head("keyrotor_config_loads_total", "counter", "Loads of the config file (at start and on SIGHUP), by result.");
  out += fmt::format("keyrotor_config_loads_total{{result=\"ok\"}} {}\n", reloads_ok_);
  out += fmt::format("keyrotor_config_loads_total{{result=\"failed\"}} {}\n", reloads_failed_);
  head("keyrotor_schedule_info", "gauge", "The schedule in force.");
  out += fmt::format("keyrotor_schedule_info{{schedule=\"{}\"}} 1\n", LabelValue(schedule_));
  head("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out += fmt::format("process_resident_memory_bytes {}\n", ResidentBytes());
  return out;
}

nlohmann::json FleetMetrics::Health() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = {{"status", "ok"}, {"running", running_}, {"schedule", schedule_},
                      {"config_loads_failed", reloads_failed_}};
  if (next_run_) j["next_run"] = FormatIso8601(*next_run_);
  if (last_summary_) {
    j["last_run"] = {{"finished", FormatIso8601(last_summary_->finished)},
                     {"ok", last_summary_->ok()},
                     {"users", last_summary_->users},
                     {"failed_users", last_summary_->failed_users},
                     {"notifications_owed", last_summary_->notifications_owed},
                     {"interrupted", last_summary_->interrupted}};
  }
  return j;
}

}  // namespace keyrotor::fleet
