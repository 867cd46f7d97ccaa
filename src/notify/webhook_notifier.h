// webhook:URL: POSTs each event's JSON to a URL. Receivers dedupe on
// X-Keyrotor-Delivery and, when a webhook secret is set, check
// X-Keyrotor-Signature-256 and that X-Keyrotor-Timestamp is recent
// (docs/notifications.md), so a captured delivery cannot be replayed later.
#pragma once

#include <memory>
#include <string_view>

#include "notify/notifier.h"

namespace keyrotor::notify {

// https, or plain http only to loopback (the transport's own rule,
// aws::CheckUrlIsSafe). Needs options.transport.
Result<std::unique_ptr<Notifier>> MakeWebhookNotifier(std::string_view url, const NotifierOptions& options);

// "sha256=" + lower-case hex HMAC-SHA256, keyed with `secret`, of
// "<timestamp>.<delivery>.<body>": the X-Keyrotor-Timestamp value (Unix
// seconds), the X-Keyrotor-Delivery id and the raw body.
std::string WebhookSignature(const Secret& secret, std::string_view timestamp, std::string_view delivery,
                             std::string_view body);

}  // namespace keyrotor::notify
