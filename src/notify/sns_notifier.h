// sns:TOPIC_ARN: publishes each event to an SNS topic, for people (email and
// chat subscribers read the subject and text) and for programs (the event
// JSON follows the text).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "notify/notifier.h"

namespace keyrotor::notify {

// `topic_arn` is arn:PARTITION:sns:REGION:ACCOUNT:NAME; calls go to REGION,
// signed by `aws`'s credentials. InvalidArgument for anything else.
Result<std::unique_ptr<Notifier>> MakeSnsNotifier(std::string_view topic_arn, const aws::ClientFactory& aws);

// "keyrotor: new access key for bob": at most 100 printable ASCII characters (SNS's limit for email subjects).
std::string EventSubject(const Event& event);
// What happened, in a sentence or two, followed by event.message when set.
std::string EventText(const Event& event);

}  // namespace keyrotor::notify
