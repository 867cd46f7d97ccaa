#include "notify/sns_notifier.h"

#include <regex>

namespace keyrotor::notify {
namespace {

// A standard topic's ARN. FIFO topics (NAME.fifo) need a MessageGroupId on
// every Publish, which the SNS client does not send: refused here rather
// than failing at the first rotation.
const std::regex& TopicArnPattern() {
  static const std::regex pattern(
      R"(arn:aws(-[a-z]+)*:sns:([a-z]{2}(-[a-z]+)+-[0-9]+):[0-9]{12}:[A-Za-z0-9_-]{1,256})");
  return pattern;
}

class SnsNotifier : public Notifier {
 public:
  SnsNotifier(std::string topic_arn, aws::SnsClient client)
      : topic_arn_(std::move(topic_arn)), client_(std::move(client)) {}

  std::string Describe() const override { return "sns:" + topic_arn_; }

  Status Notify(const Event& event) override {
    std::string message = EventText(event) + "\n\n" + EventToJson(event).dump(2);
    Result<std::string> id = client_.Publish(topic_arn_, message, EventSubject(event));
    if (!id.ok()) return id.status().WithContext(Describe());
    return Status::Ok();
  }

 private:
  const std::string topic_arn_;
  aws::SnsClient client_;
};

std::string KeyOrUnknown(const std::string& id) { return id.empty() ? "(unknown)" : id; }

}  // namespace

Result<std::unique_ptr<Notifier>> MakeSnsNotifier(std::string_view topic_arn, const aws::ClientFactory& aws) {
  std::string arn(topic_arn);
  std::smatch match;
  if (!std::regex_match(arn, match, TopicArnPattern())) {
    return Status::InvalidArgument("--notify 'sns:" + arn +
                                   "': expected the ARN of a standard topic, arn:aws:sns:REGION:ACCOUNT:NAME");
  }
  Result<aws::SnsClient> client = aws.WithRegion(match[2].str()).Sns();
  if (!client.ok()) return client.status().WithContext("sns:" + arn);
  return std::unique_ptr<Notifier>(std::make_unique<SnsNotifier>(std::move(arn), std::move(client).value()));
}

std::string EventSubject(const Event& event) {
  std::string what;
  switch (event.kind) {
    case EventKind::kKeyCreated:
      what = "new access key for ";
      break;
    case EventKind::kOldKeyDeactivated:
      what = "old access key deactivated for ";
      break;
    case EventKind::kOldKeyDeleted:
      what = "old access key deleted for ";
      break;
    case EventKind::kStepDeferred:
      what = "old key still in use, deactivation deferred for ";
      break;
    case EventKind::kRotationFailed:
      what = "key rotation failed for ";
      break;
    case EventKind::kKeyExposed:
      what = "EXPOSED access key of ";
      break;
  }
  std::string subject = "keyrotor: " + what + event.user;
  // SNS rejects a subject with control or non-ASCII characters, or over 100.
  for (char& c : subject) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  if (subject.size() > 100) subject.resize(100);
  return subject;
}

std::string EventText(const Event& event) {
  const std::string who = "IAM user " + event.user + (event.account.empty() ? "" : " in account " + event.account);
  std::string text;
  switch (event.kind) {
    case EventKind::kKeyCreated:
      text = "keyrotor created access key " + KeyOrUnknown(event.new_access_key_id) + " for " + who +
             ", verified it and handed it to every destination.";
      if (!event.old_access_key_id.empty()) {
        text += " The old key " + event.old_access_key_id +
                " stays active until nothing uses it any more; then it is deactivated, and later deleted.";
      }
      break;
    case EventKind::kOldKeyDeactivated:
      text = "keyrotor deactivated the old access key " + KeyOrUnknown(event.old_access_key_id) + " of " + who + ".";
      if (!event.new_access_key_id.empty()) text += " The current key is " + event.new_access_key_id + ".";
      break;
    case EventKind::kOldKeyDeleted:
      text = "keyrotor deleted the old access key " + KeyOrUnknown(event.old_access_key_id) + " of " + who + ".";
      if (!event.new_access_key_id.empty()) text += " The current key is " + event.new_access_key_id + ".";
      break;
    case EventKind::kStepDeferred:
      text = "keyrotor has not deactivated the old access key " + KeyOrUnknown(event.old_access_key_id) + " of " + who +
             ": it is still in use. keyrotor will try again on its next run.";
      break;
    case EventKind::kRotationFailed:
      text = "keyrotor could not rotate the access key of " + who + ".";
      break;
    case EventKind::kKeyExposed:
      text = "The access key " + KeyOrUnknown(event.old_access_key_id) + " of " + who +
             " was reported exposed. keyrotor responded: " +
             (event.new_access_key_id.empty() ? std::string("no new key") : "new key " + event.new_access_key_id) + ".";
      break;
  }
  if (!event.rotation_id.empty()) text += " (rotation " + event.rotation_id + ")";
  if (!event.message.empty()) text += "\n\n" + event.message;
  return text;
}

}  // namespace keyrotor::notify
