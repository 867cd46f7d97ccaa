#include "engine/classic_event.h"

#include <nlohmann/json.hpp>

#include "destinations/destination_util.h"
#include "base/wipe_json.h"

namespace keyrotor::engine {
namespace {

// The access key id the secret holds at `stage`, or empty when the secret or
// the stage does not exist.
Result<std::string> KeyIdAtStage(aws::SecretsManagerClient& sm, const std::string& name, const std::string& stage) {
  Result<aws::SecretValue> value = sm.GetSecretValue(name, stage);
  if (!value.ok()) {
    if (value.status().IsAws("ResourceNotFoundException")) return std::string();
    return value.status();
  }
  nlohmann::json j = nlohmann::json::parse(value->secret_string.reveal(), nullptr, /*allow_exceptions=*/false);
  WipeJsonOnExit wipe(j);  // the document holds the SecretKey too
  if (!j.is_object() || !j.contains("AccessKey") || !j["AccessKey"].is_string()) {
    return Status::ParseError("secret " + name + " (" + stage + ") does not hold {\"AccessKey\", \"SecretKey\"}");
  }
  return j["AccessKey"].get<std::string>();
}

}  // namespace

Result<ClassicEvent> ParseClassicEvent(std::string_view text) {
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

Result<UserOutcome> HandleClassicEvent(const ClassicEvent& event, const aws::ClientFactory& admin, Journal* journal,
                                       EngineOptions base, const ClassicEventOptions& options) {
  // The classic flow names the secret after the user only; {account} is
  // left as written (and refused as a secret name).
  KR_ASSIGN_OR_RETURN(std::string secret_name, destinations::ExpandSpec(options.secret_name, event.user, "{account}"));
  base.destinations = {"secretsmanager:" + secret_name};
  base.notify.clear();
  if (!options.sns_topic.empty()) base.notify.push_back("sns:" + options.sns_topic);
  KR_RETURN_IF_ERROR(ValidateEngineOptions(base, admin));

  KR_ASSIGN_OR_RETURN(aws::SecretsManagerClient sm, admin.SecretsManager());
  Result<std::string> previous = KeyIdAtStage(sm, secret_name, "AWSPREVIOUS");
  if (!previous.ok()) return previous.status().WithContext("reading secret " + secret_name);
  Result<std::string> current = KeyIdAtStage(sm, secret_name, "AWSCURRENT");
  if (!current.ok()) return current.status().WithContext("reading secret " + secret_name);

  StepOverrides overrides;
  if (event.action == "create") {
    overrides.force_rotate = true;
    overrides.stop_after_store = true;
    // The classic flow's previous key is the managed previous key: at the
    // two-key limit it may make room if it is Inactive.
    overrides.known_retired_key_id = *previous;
  } else {
    if (previous->empty()) {
      UserOutcome skipped;
      skipped.user = event.user;
      skipped.result = UserOutcome::Result::kSkipped;
      skipped.message = "secret " + secret_name + " has no AWSPREVIOUS key";
      return skipped;
    }
    overrides.adopt_old_key_id = *previous;
    overrides.adopt_new_key_id = *current;
    overrides.deactivate_now = event.action == "deactivate";
    overrides.delete_now = event.action == "delete";
  }
  Rotator rotator(admin, journal, std::move(base));
  return rotator.RotateUser(event.user, overrides);
}

}  // namespace keyrotor::engine
