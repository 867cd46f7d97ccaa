// webhook:URL: POSTs each event's JSON to a URL. Receivers dedupe on
// X-Keyrotor-Delivery and, when a webhook secret is set, check
// X-Keyrotor-Signature-256 (docs/notifications.md).
#pragma once

#include <memory>
#include <string_view>

#include "notify/notifier.h"

namespace keyrotor::notify {

// https, or plain http only to loopback (the transport's own rule,
// aws::CheckUrlIsSafe). Needs options.transport.
Result<std::unique_ptr<Notifier>> MakeWebhookNotifier(std::string_view url, const NotifierOptions& options);

// "sha256=" + lower-case hex HMAC-SHA256 of `body` keyed with `secret`.
std::string WebhookSignature(const Secret& secret, std::string_view body);

}  // namespace keyrotor::notify
