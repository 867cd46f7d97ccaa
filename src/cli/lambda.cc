// keyrotor lambda: the AWS Lambda custom runtime. Installed as `bootstrap`
// in a deployment package (the `lambda-package` build target), the same
// binary serves the classic rotation events {"action", "username"},
// scheduled events (EventBridge's {"source": "aws.events", ...}, or
// {"action": "run"}), which run one pass over the bundled fleet config, and
// AWS Health events reporting an exposed key ({"source": "aws.health"}),
// answered as `keyrotor respond --event` does.
//
// Settings come from the function's environment: KEYROTOR_STATE (the
// journal; default /tmp/keyrotor/journal.db, which lives only as long as the
// execution environment: use a postgresql:// state for crash safety across
// environments), KEYROTOR_SNS_TOPIC, KEYROTOR_SECRET_NAME (default {user}),
// KEYROTOR_CONFIG (the fleet config; default keyrotor.toml beside the
// function's code, in $LAMBDA_TASK_ROOT).
#include <fmt/core.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/common.h"
#include "cli/engine_flags.h"
#include "cli/fleet.h"
#include "engine/classic_event.h"
#include "engine/exposure.h"
#include "lambda/runtime.h"

namespace keyrotor::cli {
namespace {

struct LambdaFlags {
  GlobalFlags global;
  EngineFlags engine;
  size_t max_invocations = 0;
};

constexpr char kDefaultState[] = "/tmp/keyrotor/journal.db";

// A scheduled run: an EventBridge rule's event, or {"action": "run"} (what an
// EventBridge Scheduler target or a person invoking the function sends).
bool IsScheduledRun(const nlohmann::json& event) {
  if (!event.is_object()) return false;
  auto is = [&](const char* key, const char* value) {
    auto it = event.find(key);
    return it != event.end() && it->is_string() && it->get<std::string>() == value;
  };
  return is("source", "aws.events") || is("action", "run");
}

// The fleet config scheduled runs use: KEYROTOR_CONFIG, else keyrotor.toml
// in the deployment package, if it holds one. Empty: none.
std::string FleetConfigPath(const EnvMap& env) {
  if (auto path = EnvValue(env, "KEYROTOR_CONFIG"); path && !path->empty()) return *path;
  if (auto root = EnvValue(env, "LAMBDA_TASK_ROOT"); root && !root->empty()) {
    std::string bundled = *root + "/keyrotor.toml";
    std::error_code ec;
    if (std::filesystem::exists(bundled, ec)) return bundled;
  }
  return "";
}

// When a scheduled run stops starting users: early enough before Lambda's
// deadline that the steps in flight (a propagation wait is the longest) end
// inside it; the users left over are the next run's. A quarter of the time
// left, at most a minute.
TimePoint StopStartingAt(TimePoint deadline, TimePoint now) {
  if (deadline <= now) return now;
  auto left = deadline - now;
  auto reserve = std::min<decltype(left)>(std::chrono::minutes(1), left / 4);
  return deadline - reserve;
}

// One pass over the fleet, stopped in time for the invocation's deadline.
// The response is the run's summary; a run with a failed user or account is
// an error (keyrotor.RotationFailed), so Lambda's error metric counts it.
Result<std::string> RunScheduled(fleet::FleetRunner& runner, const lambda::Invocation& inv) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  const TimePoint stop_at = StopStartingAt(inv.deadline, Clock::Real()->Now());
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_until(lock, stop_at, [&] { return finished; })) stop.store(true);
  });
  fleet::RunOptions options;
  options.stop = &stop;
  options.on_result = PrintUserResultLine;  // CloudWatch Logs

  fleet::RunSummary summary = runner.Run(options);
  {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
  }
  cv.notify_all();
  watchdog.join();
  std::string doc = SummaryLine(summary);
  fmt::print("{}\n", doc);
  std::fflush(stdout);
  if (!summary.ok()) {
    return Status::FailedPrecondition(fmt::format(
        "fleet run: {} of {} users failed, {} accounts failed, {} notifications owed{}", summary.failed_users,
        summary.users, summary.failed_accounts(), summary.notifications_owed,
        summary.interrupted ? " (stopped before the deadline)" : ""));
  }
  return doc;
}

int RunLambda(const LambdaFlags& flags) {
  EnvMap env = ProcessEnvironment();
  std::optional<std::string> api = EnvValue(env, "AWS_LAMBDA_RUNTIME_API");
  if (!api) {
    PrintError(Status::FailedPrecondition("AWS_LAMBDA_RUNTIME_API is not set: `keyrotor lambda` runs inside AWS Lambda"));
    return kExitUsage;
  }
  lambda::RuntimeApiClient runtime(SharedTransport(""), *api);
  // Set-up errors go to Lambda's init/error, so they show in the function's logs and metrics.
  auto init_failed = [&](const Status& s) {
    PrintError(s);
    (void)runtime.InitError("keyrotor.InitError", s.ToString());
    return kExitUsage;
  };
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true);
  if (!factory.ok()) return init_failed(factory.status());
  Result<engine::EngineOptions> options = BuildEngineOptions(flags.engine, env, *factory);
  if (!options.ok()) return init_failed(options.status());
  // In Lambda only /tmp is writable: the journal defaults there, for the
  // classic events and for a fleet config that names no state.
  if (!EnvValue(env, "KEYROTOR_STATE")) env["KEYROTOR_STATE"] = kDefaultState;
  std::string state = flags.engine.state;
  if (state.empty()) state = *EnvValue(env, "KEYROTOR_STATE");
  Result<std::unique_ptr<engine::Journal>> journal = OpenJournal(state, env);
  if (!journal.ok()) return init_failed(journal.status());
  engine::ClassicEventOptions event_options;
  event_options.sns_topic = EnvValue(env, "KEYROTOR_SNS_TOPIC").value_or("");
  event_options.secret_name = EnvValue(env, "KEYROTOR_SECRET_NAME").value_or("{user}");

  // The fleet config is checked at init, so a broken one fails the
  // deployment loudly instead of the first scheduled run.
  const std::string config_path = FleetConfigPath(env);
  std::optional<Fleet> scheduled_fleet;
  std::unique_ptr<fleet::FleetRunner> runner;
  if (!config_path.empty()) {
    Result<Fleet> loaded = LoadFleet(flags.global, config_path, env);
    if (!loaded.ok()) {
      PrintFleetError(loaded.status(), config_path);
      (void)runtime.InitError("keyrotor.InitError", loaded.status().WithContext(config_path).ToString());
      return kExitUsage;
    }
    scheduled_fleet.emplace(std::move(loaded).value());
    runner = std::make_unique<fleet::FleetRunner>(scheduled_fleet->config, *scheduled_fleet->admin,
                                                    scheduled_fleet->journal.get());
  }

  // Exposed keys: the fleet config's accounts and selections when there is
  // one, else the function's own account with the function's options.
  fleet::Responder responder(scheduled_fleet ? &scheduled_fleet->config : nullptr,
                             scheduled_fleet ? *scheduled_fleet->admin : *factory,
                             scheduled_fleet ? scheduled_fleet->journal.get() : journal->get(), *options, {});

  Status served = lambda::ServeInvocations(
      runtime,
      [&](const lambda::Invocation& inv) -> Result<std::string> {
        nlohmann::json event = nlohmann::json::parse(inv.body, nullptr, /*allow_exceptions=*/false);
        if (IsScheduledRun(event)) {
          if (!runner) {
            return Status::FailedPrecondition(
                "a scheduled run needs a fleet config: bundle keyrotor.toml with the function or set KEYROTOR_CONFIG");
          }
          return RunScheduled(*runner, inv);
        }
        if (engine::IsHealthEvent(event)) {
          KR_ASSIGN_OR_RETURN(engine::ExposureEvent exposure, engine::ParseExposureEvent(inv.body));
          engine::ExposureRequest request;
          request.trigger = exposure.event_type;
          request.event_id = exposure.event_arn;
          request.reported = Clock::Real()->Now();
          ResponseBatch batch = RespondToKeys(responder, exposure.access_key_ids, exposure.account, request);
          nlohmann::json doc = nlohmann::json::array();
          for (const fleet::ResponseResult& r : batch.results) {
            fmt::print("{}\n", r.ToJson().dump());  // CloudWatch Logs
            doc.push_back(r.ToJson());
          }
          std::fflush(stdout);
          for (const Status& s : batch.errors) PrintError(s);
          if (batch.failed) {
            std::string why = batch.errors.empty() ? "a response failed or owes a notification" : batch.errors[0].ToString();
            return Status::FailedPrecondition("exposed key response: " + why);
          }
          return doc.dump();
        }
        KR_ASSIGN_OR_RETURN(engine::ClassicEvent classic, engine::ParseClassicEvent(inv.body));
        KR_ASSIGN_OR_RETURN(engine::UserOutcome outcome, engine::HandleClassicEvent(classic, *factory, journal->get(),
                                                                                    *options, event_options));
        std::string line = engine::OutcomeToJson(outcome).dump();
        fmt::print("{}\n", line);  // CloudWatch Logs
        std::fflush(stdout);
        if (outcome.failed() || outcome.result == engine::UserOutcome::Result::kLocked) {
          return Status::FailedPrecondition(outcome.user + ": " + engine::ResultName(outcome.result) + ": " +
                                            outcome.message);
        }
        if (!outcome.notifications_owed.empty()) {
          return Status::FailedPrecondition(outcome.user + ": " + engine::ResultName(outcome.result) +
                                            ", but a notification is owed: " + outcome.notification_error);
        }
        return line;
      },
      flags.max_invocations);
  if (!served.ok()) {
    PrintError(served);
    return kExitPartialFailure;
  }
  return kExitOk;
}

}  // namespace

void RegisterLambdaCommand(CLI::App& app) {
  auto flags = std::make_shared<LambdaFlags>();
  auto* cmd = app.add_subcommand(
      "lambda",
      "Run as an AWS Lambda custom runtime (also when invoked as `bootstrap`): serve the classic rotation events "
      "{\"action\": \"create\"|\"deactivate\"|\"delete\", \"username\": U} from AWS_LAMBDA_RUNTIME_API, "
      "scheduled events (EventBridge, or {\"action\": \"run\"}) as one `run` over the fleet config in "
      "KEYROTOR_CONFIG (default: keyrotor.toml in LAMBDA_TASK_ROOT), and AWS Health events reporting an exposed "
      "key (as `keyrotor respond --event`)");
  // Tests stop the loop after a few events; in Lambda it runs until the environment is shut down.
  cmd->add_option("--max-invocations", flags->max_invocations)->group("");
  AddEngineFlags(*cmd, flags->engine, /*with_handover=*/false);
  AddGlobalFlags(*cmd, flags->global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunLambda(*flags)); });
}

}  // namespace keyrotor::cli
