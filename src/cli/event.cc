// keyrotor event '{"action": "create"|"deactivate"|"delete", "username": U}'
// (engine/classic_event.h has the semantics).
#include <fmt/core.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/engine_flags.h"
#include "engine/classic_event.h"

namespace keyrotor::cli {
namespace {

struct EventFlags {
  GlobalFlags global;
  EngineFlags engine;
  std::string event;  // JSON, or "-" for stdin
  std::string sns_topic;
  std::string secret_name = "{user}";
};

int RunEvent(EventFlags flags) {
  EnvMap env = ProcessEnvironment();
  std::string text = flags.event;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  Result<engine::ClassicEvent> event = engine::ParseClassicEvent(text);
  if (!event.ok()) {
    PrintError(event.status());
    return kExitUsage;
  }
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  Result<engine::EngineOptions> options = BuildEngineOptions(flags.engine, env, *factory);
  if (!options.ok()) {
    PrintError(options.status());
    return kExitUsage;
  }
  std::string state = flags.engine.state.empty() ? DefaultStatePath(env) : flags.engine.state;
  Result<std::unique_ptr<engine::Journal>> journal = OpenJournal(state, env);
  if (!journal.ok()) {
    PrintError(journal.status());
    return kExitUsage;
  }
  engine::ClassicEventOptions event_options;
  event_options.secret_name = flags.secret_name;
  event_options.sns_topic = flags.sns_topic;
  Result<engine::UserOutcome> outcome =
      engine::HandleClassicEvent(*event, *factory, journal->get(), *options, event_options);
  if (!outcome.ok()) {
    PrintError(outcome.status());
    return outcome.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitPartialFailure;
  }
  PrintOutcome(*outcome, /*json=*/true);
  return outcome->failed() || outcome->result == engine::UserOutcome::Result::kLocked ||
                 !outcome->notifications_owed.empty()
             ? kExitPartialFailure
             : kExitOk;
}

}  // namespace

void RegisterEventCommand(CLI::App& app) {
  auto flags = std::make_shared<EventFlags>();
  auto* cmd = app.add_subcommand(
      "event",
      "Handle a classic rotation-Lambda event {\"action\": \"create\"|\"deactivate\"|\"delete\", \"username\": U} "
      "safely: create stores the new key in the secret named after the user (AWSCURRENT, old key AWSPREVIOUS) and "
      "notifies; deactivate and delete retire the AWSPREVIOUS key");
  cmd->add_option("event", flags->event, "The event JSON, or - to read it from stdin")->required();
  cmd->add_option("--sns-topic", flags->sns_topic, "Publish key-created (and later) notifications to this topic");
  cmd->add_option("--secret-name", flags->secret_name, "Secret holding the user's key ({user} is replaced)")
      ->capture_default_str();
  AddEngineFlags(*cmd, flags->engine, /*with_handover=*/false);
  AddGlobalFlags(*cmd, flags->global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunEvent(*flags)); });
}

}  // namespace keyrotor::cli
