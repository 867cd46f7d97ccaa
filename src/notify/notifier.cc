#include "notify/notifier.h"

#include <array>
#include <utility>

#include "notify/exec_notifier.h"
#include "notify/sns_notifier.h"
#include "notify/webhook_notifier.h"

namespace keyrotor::notify {
namespace {

constexpr std::array<std::pair<EventKind, const char*>, 6> kEventNames = {{
    {EventKind::kKeyCreated, "key_created"},
    {EventKind::kOldKeyDeactivated, "old_key_deactivated"},
    {EventKind::kOldKeyDeleted, "old_key_deleted"},
    {EventKind::kStepDeferred, "step_deferred"},
    {EventKind::kRotationFailed, "rotation_failed"},
    {EventKind::kKeyExposed, "key_exposed"},
}};

}  // namespace

std::string EventName(EventKind kind) {
  for (const auto& [k, name] : kEventNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

Result<EventKind> ParseEventName(std::string_view name) {
  for (const auto& [kind, n] : kEventNames) {
    if (name == n) return kind;
  }
  return Status::InvalidArgument("unknown notification event '" + std::string(name) +
                                 "' (expected key_created, old_key_deactivated, old_key_deleted, step_deferred or "
                                 "rotation_failed, key_exposed)");
}

nlohmann::json EventToJson(const Event& event) {
  nlohmann::json j = {{"event", EventName(event.kind)},
          {"time", FormatIso8601(event.time)},
          {"rotation_id", event.rotation_id},
          {"account", event.account},
          {"user", event.user},
          {"new_access_key_id", event.new_access_key_id},
          {"old_access_key_id", event.old_access_key_id},
          {"message", event.message}};
  if (!event.details.is_null()) j["details"] = event.details;
  return j;
}

Result<std::unique_ptr<Notifier>> MakeNotifier(std::string_view spec, const aws::ClientFactory& aws,
                                               const NotifierOptions& options) {
  size_t colon = spec.find(':');
  std::string_view kind = spec.substr(0, colon);
  std::string_view rest = colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  if (colon != std::string_view::npos) {
    if (kind == "sns") return MakeSnsNotifier(rest, aws);
    if (kind == "webhook") return MakeWebhookNotifier(rest, options);
    if (kind == "exec") return MakeExecNotifier(rest, options);
  }
  // Quote only the kind: the rest may be a webhook URL whose path is a credential.
  return Status::InvalidArgument("--notify '" + std::string(kind) + (colon == std::string_view::npos ? "" : ":...") +
                                 "': expected sns:TOPIC_ARN, webhook:URL or exec:PROGRAM [ARGS...]");
}

}  // namespace keyrotor::notify
