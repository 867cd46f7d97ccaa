// Telling owners what happened: SNS, a webhook, or a program. Events carry
// key ids, never a secret. Delivery is at least once: the engine records an
// owed notification in the journal with the transition and retries it on the
// next run until it is sent.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "aws/clients.h"
#include "aws/http.h"
#include "base/clock.h"
#include "base/environment.h"
#include "base/status.h"

namespace keyrotor::notify {

enum class EventKind {
  kKeyCreated,         // new key created, verified and handed to every destination
  kOldKeyDeactivated,
  kOldKeyDeleted,
  kStepDeferred,       // the old key is still in use: deactivation waits
  kRotationFailed,     // the rotation was abandoned or a step failed
  kKeyExposed,         // a response to an exposed key: what the key did and what keyrotor did about it
};
std::string EventName(EventKind kind);  // "key_created", "old_key_deactivated", ...
Result<EventKind> ParseEventName(std::string_view name);

struct Event {
  EventKind kind = EventKind::kKeyCreated;
  TimePoint time{};
  std::string rotation_id;
  std::string account;
  std::string user;
  std::string new_access_key_id;
  std::string old_access_key_id;
  std::string message;  // for people; never a secret
  // key_exposed: {"exposed_access_key_id", "trigger", "on_exposure", "actions", "quarantine_policies",
  // "activity": {...}}; null for the other events. Never a secret.
  nlohmann::json details;
};
// {"event": "key_created", "time": "...", "rotation_id": ..., "account": ..., "user": ...,
//  "new_access_key_id": ..., "old_access_key_id": ..., "message": ..., "details"?: {...}}
nlohmann::json EventToJson(const Event& event);

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual std::string Describe() const = 0;  // the spec, never a secret
  virtual Status Notify(const Event& event) = 0;
};

struct NotifierOptions {
  aws::HttpTransport* transport = nullptr;  // webhook
  Clock* clock = Clock::Real();
  SharedSecret webhook_secret;              // HMAC-SHA256 key for webhooks; empty: unsigned
  int webhook_attempts = 3;
  Duration exec_timeout{30000};
  EnvMap exec_env;                          // already stripped of secrets
};

// Parses one --notify spec: sns:TOPIC_ARN, webhook:URL, exec:PROGRAM [ARGS...].
// `aws` signs SNS calls.
Result<std::unique_ptr<Notifier>> MakeNotifier(std::string_view spec, const aws::ClientFactory& aws,
                                               const NotifierOptions& options);

}  // namespace keyrotor::notify
