// The daemon's metrics as Prometheus reads them: owed notifications and
// failed deliveries.
#include "fleet/metrics.h"

#include <gtest/gtest.h>

namespace keyrotor::fleet {
namespace {

UserResult Finished(engine::UserOutcome::Result result, int failures, std::vector<notify::EventKind> owed) {
  UserResult r;
  r.account_name = "main";
  r.outcome.user = "app";
  r.outcome.result = result;
  r.outcome.notification_failures = failures;
  r.outcome.notifications_owed = std::move(owed);
  return r;
}

// `name value` as one line of the exposition.
bool HasSample(const std::string& text, const std::string& sample) {
  return text.find("\n" + sample + "\n") != std::string::npos;
}

TEST(FleetMetricsTest, OwedNotificationsAreAGaugeAndFailedDeliveriesACounter) {
  FakeClock clock(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
  FleetMetrics metrics(&clock);
  std::string before = metrics.RenderPrometheus();
  EXPECT_TRUE(HasSample(before, "keyrotor_notifications_owed 0")) << before;
  EXPECT_TRUE(HasSample(before, "keyrotor_notification_failures_total 0")) << before;
  EXPECT_NE(before.find("# TYPE keyrotor_notifications_owed gauge"), std::string::npos);
  EXPECT_NE(before.find("# TYPE keyrotor_notification_failures_total counter"), std::string::npos);

  // A run whose topic is down: two users owe three events after four failed deliveries.
  metrics.RunStarted();
  std::vector<UserResult> results = {
      Finished(engine::UserOutcome::Result::kProgressed, 1, {notify::EventKind::kKeyCreated}),
      Finished(engine::UserOutcome::Result::kCompleted, 3,
             {notify::EventKind::kKeyCreated, notify::EventKind::kOldKeyDeleted}),
      Finished(engine::UserOutcome::Result::kNotDue, 0, {}),
  };
  RunSummary summary;
  for (const UserResult& r : results) {
    metrics.OnResult(r);
    ++summary.users;
    summary.notifications_owed += r.outcome.notifications_owed.size();
    summary.notification_failures += static_cast<size_t>(r.outcome.notification_failures);
  }
  // Failed deliveries count as they happen, before the run ends.
  EXPECT_TRUE(HasSample(metrics.RenderPrometheus(), "keyrotor_notification_failures_total 4"));
  metrics.RunFinished(summary);
  std::string owed = metrics.RenderPrometheus();
  EXPECT_TRUE(HasSample(owed, "keyrotor_notifications_owed 3")) << owed;
  EXPECT_TRUE(HasSample(owed, "keyrotor_notification_failures_total 4")) << owed;
  EXPECT_TRUE(HasSample(owed, "keyrotor_last_run_success 0")) << owed;  // owners not told: not a success
  EXPECT_TRUE(HasSample(owed, "keyrotor_runs_total{result=\"failed\"} 1")) << owed;
  EXPECT_EQ(metrics.Health()["last_run"]["notifications_owed"], 3);

  // The next run delivers them: the gauge drops, the counter keeps its count.
  metrics.RunStarted();
  metrics.OnResult(Finished(engine::UserOutcome::Result::kNotDue, 0, {}));
  RunSummary delivered;
  delivered.users = 1;
  metrics.RunFinished(delivered);
  std::string after = metrics.RenderPrometheus();
  EXPECT_TRUE(HasSample(after, "keyrotor_notifications_owed 0")) << after;
  EXPECT_TRUE(HasSample(after, "keyrotor_notification_failures_total 4")) << after;
  EXPECT_TRUE(HasSample(after, "keyrotor_last_run_success 1")) << after;
}

}  // namespace
}  // namespace keyrotor::fleet
