// The classic Secrets Manager rotation Lambda's events,
// {"action": "create" | "deactivate" | "delete", "username": U}, with their
// meaning (the secret named after the user holds {"AccessKey", "SecretKey"};
// create puts a new key at AWSCURRENT, the old at AWSPREVIOUS, and notifies;
// deactivate makes the AWSPREVIOUS key Inactive; delete deletes it if
// Inactive), run through the engine so its guards and journal apply. Shared
// by `keyrotor event` and the Lambda runtime.
#pragma once

#include <string>
#include <string_view>

#include "engine/rotator.h"

namespace keyrotor::engine {

struct ClassicEvent {
  std::string action;  // "create" | "deactivate" | "delete"
  std::string user;
};

// InvalidArgument (never quoting the document) when it is not such an event.
Result<ClassicEvent> ParseClassicEvent(std::string_view json);

struct ClassicEventOptions {
  std::string secret_name = "{user}";  // the secret holding the user's key
  std::string sns_topic;               // notify here; empty: no notification
};

// `base` holds the policy and destination/notifier options; the secret and
// the topic are added here. The outcome says what happened (skipped when the
// secret has no AWSPREVIOUS key to retire); an error only when the secret
// could not be read or the options are invalid.
Result<UserOutcome> HandleClassicEvent(const ClassicEvent& event, const aws::ClientFactory& admin, Journal* journal,
                                       EngineOptions base, const ClassicEventOptions& options);

}  // namespace keyrotor::engine
