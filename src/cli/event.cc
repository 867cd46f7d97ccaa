// keyrotor event '{"action": "create"|"deactivate"|"delete", "username": U}'
//
// The classic Secrets Manager rotation Lambda's three scheduled events, with
// their semantics (the secret named after the user holds {"AccessKey",
// "SecretKey"}; create puts the new key at AWSCURRENT and the old at
// AWSPREVIOUS and publishes to SNS; deactivate makes the AWSPREVIOUS key
// Inactive; delete deletes it if Inactive), run through the engine so the
// two-key limit, verification, the last-used guard and the journal apply.
#include <fmt/core.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/engine_flags.h"

namespace keyrotor::cli {
namespace {

struct EventFlags {
  GlobalFlags global;
  EngineFlags engine;
  std::string event;  // JSON, or "-" for stdin
  std::string sns_topic;
  std::string secret_name = "{user}";
};

struct ClassicEvent {
  std::string action;
  std::string user;
};

Result<ClassicEvent> ParseEvent(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("event: not a JSON object");
  if (!j.contains("action") || !j["action"].is_string()) return Status::InvalidArgument("event: \"action\" missing");
  if (!j.contains("username") || !j["username"].is_string()) {
    return Status::InvalidArgument("event: \"username\" missing");
  }
  ClassicEvent e{j["action"].get<std::string>(), j["username"].get<std::string>()};
  if (e.action != "create" && e.action != "deactivate" && e.action != "delete") {
    return Status::InvalidArgument("event: \"action\" must be create, deactivate or delete");
  }
  if (!aws::IsValidUserName(e.user)) return Status::InvalidArgument("event: \"username\" is not a valid IAM user name");
  return e;
}

// The access key id the secret holds at `stage`, or empty when the secret or
// the stage does not exist.
Result<std::string> KeyIdAtStage(aws::SecretsManagerClient& sm, const std::string& name, const std::string& stage) {
  Result<aws::SecretValue> value = sm.GetSecretValue(name, stage);
  if (!value.ok()) {
    if (value.status().IsAws("ResourceNotFoundException")) return std::string();
    return value.status();
  }
  nlohmann::json j = nlohmann::json::parse(value->secret_string.reveal(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("AccessKey") || !j["AccessKey"].is_string()) {
    return Status::ParseError("secret " + name + " (" + stage + ") does not hold {\"AccessKey\", \"SecretKey\"}");
  }
  return j["AccessKey"].get<std::string>();
}

int RunEvent(EventFlags flags) {
  EnvMap env = ProcessEnvironment();
  std::string text = flags.event;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  Result<ClassicEvent> event = ParseEvent(text);
  if (!event.ok()) {
    PrintError(event.status());
    return kExitUsage;
  }
  Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true);
  if (!factory.ok()) {
    PrintError(factory.status());
    return kExitUsage;
  }
  std::string secret_name = flags.secret_name;
  if (size_t at = secret_name.find("{user}"); at != std::string::npos) secret_name.replace(at, 6, event->user);
  flags.engine.to = {"secretsmanager:" + secret_name};
  if (!flags.sns_topic.empty()) flags.engine.notify = {"sns:" + flags.sns_topic};
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
  Result<aws::SecretsManagerClient> sm = factory->SecretsManager();
  if (!sm.ok()) {
    PrintError(sm.status());
    return kExitUsage;
  }
  Result<std::string> previous = KeyIdAtStage(*sm, secret_name, "AWSPREVIOUS");
  Result<std::string> current = previous.ok() ? KeyIdAtStage(*sm, secret_name, "AWSCURRENT") : previous;
  if (!current.ok()) {
    PrintError(current.status().WithContext("reading secret " + secret_name));
    return kExitPartialFailure;
  }

  engine::StepOverrides overrides;
  if (event->action == "create") {
    overrides.force_rotate = true;
    overrides.stop_after_store = true;
    overrides.known_retired_key_id = *previous;
  } else {
    if (previous->empty()) {
      fmt::print("{}\n", nlohmann::json{{"action", event->action},
                                        {"user", event->user},
                                        {"result", "skipped"},
                                        {"message", "secret " + secret_name + " has no AWSPREVIOUS key"}}
                             .dump());
      return kExitOk;
    }
    overrides.adopt_old_key_id = *previous;
    overrides.adopt_new_key_id = *current;
    overrides.deactivate_now = event->action == "deactivate";
    overrides.delete_now = event->action == "delete";
  }
  engine::Rotator rotator(*factory, journal->get(), *options);
  engine::UserOutcome outcome = rotator.RotateUser(event->user, overrides);
  PrintOutcome(outcome, /*json=*/true);
  return outcome.failed() || outcome.result == engine::UserOutcome::Result::kLocked ? kExitPartialFailure : kExitOk;
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
