// keyrotor lambda: the AWS Lambda custom runtime. Installed as `bootstrap`
// in a deployment package (the `lambda-package` build target), the same
// binary serves the classic rotation events {"action", "username"}.
//
// Settings come from the function's environment: KEYROTOR_STATE (the
// journal; default /tmp/keyrotor/journal.db, which lives only as long as the
// execution environment: use a postgresql:// state for crash safety across
// environments), KEYROTOR_SNS_TOPIC, KEYROTOR_SECRET_NAME (default {user}).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/engine_flags.h"
#include "engine/classic_event.h"
#include "lambda/runtime.h"

namespace keyrotor::cli {
namespace {

struct LambdaFlags {
  GlobalFlags global;
  EngineFlags engine;
  size_t max_invocations = 0;
};

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
  std::string state = flags.engine.state;
  if (state.empty()) state = EnvValue(env, "KEYROTOR_STATE").value_or("/tmp/keyrotor/journal.db");
  Result<std::unique_ptr<engine::Journal>> journal = OpenJournal(state, env);
  if (!journal.ok()) return init_failed(journal.status());
  engine::ClassicEventOptions event_options;
  event_options.sns_topic = EnvValue(env, "KEYROTOR_SNS_TOPIC").value_or("");
  event_options.secret_name = EnvValue(env, "KEYROTOR_SECRET_NAME").value_or("{user}");

  Status served = lambda::ServeInvocations(
      runtime,
      [&](const lambda::Invocation& inv) -> Result<std::string> {
        nlohmann::json event = nlohmann::json::parse(inv.body, nullptr, /*allow_exceptions=*/false);
        if (event.is_object() && event.value("source", "") == "aws.events") {
          return Status::InvalidArgument("scheduled fleet runs are not supported by this build; send "
                                         "{\"action\", \"username\"} events");
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
      "{\"action\": \"create\"|\"deactivate\"|\"delete\", \"username\": U} from AWS_LAMBDA_RUNTIME_API");
  // Tests stop the loop after a few events; in Lambda it runs until the environment is shut down.
  cmd->add_option("--max-invocations", flags->max_invocations)->group("");
  AddEngineFlags(*cmd, flags->engine, /*with_handover=*/false);
  AddGlobalFlags(*cmd, flags->global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunLambda(*flags)); });
}

}  // namespace keyrotor::cli
