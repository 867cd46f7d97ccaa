// SNS: just enough for keyrotor's notifications (aws-wire.md §6). Published
// messages are kept so tests can read them back (Sandbox::PublishedMessages).
#include <unordered_map>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/services.h"

namespace keyrotor::sandbox {
namespace {

constexpr size_t kMaxMessageBytes = size_t{256} * 1024;
constexpr size_t kMaxSubjectChars = 100;

Status SnsInvalidParameter(std::string_view what) {
  return ApiError(400, "InvalidParameter", "Invalid parameter: " + std::string(what));
}

bool IsTopicName(std::string_view name) {
  std::string_view base = name.ends_with(".fifo") ? name.substr(0, name.size() - 5) : name;
  if (base.empty() || name.size() > 256) return false;
  for (unsigned char c : base) {
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

Result<Reply> CreateTopic(OpContext& ctx, const RoutedRequest& request) {
  const std::string* name = FindParam(request.params, "Name");
  if (!name) return ApiError(400, "ValidationError", NullValidationMessage("name"));
  if (!IsTopicName(*name)) return SnsInvalidParameter("Topic Name");
  std::string arn = "arn:aws:sns:" + std::string(ctx.region) + ":" + ctx.state.account_id + ":" + *name;
  if (!IsAllowed(ctx.caller, "sns:CreateTopic", "")) {
    return AccessDenied(Service::kSns, ctx.caller, "SNS:CreateTopic", arn);
  }
  ctx.state.topics.try_emplace(arn, Topic{*name, arn});  // idempotent, as in SNS
  XmlWriter xml;
  xml.Leaf("TopicArn", arn);
  return Reply::Xml(xml.Take());
}

Result<Reply> Publish(OpContext& ctx, const RoutedRequest& request) {
  const Params& p = request.params;
  const std::string* topic_arn = FindParam(p, "TopicArn");
  if (!topic_arn) topic_arn = FindParam(p, "TargetArn");
  if (!topic_arn) return SnsInvalidParameter("TopicArn or TargetArn Reason: no value for required parameter");
  const std::string* message = FindParam(p, "Message");
  if (!message) return ApiError(400, "ValidationError", NullValidationMessage("message"));
  if (message->empty()) return SnsInvalidParameter("Empty message");
  if (message->size() > kMaxMessageBytes) return SnsInvalidParameter("Message too long");
  const std::string* subject = FindParam(p, "Subject");
  if (subject && (subject->empty() || subject->size() > kMaxSubjectChars)) return SnsInvalidParameter("Subject");
  if (!IsAllowed(ctx.caller, "sns:Publish", "")) {
    return AccessDenied(Service::kSns, ctx.caller, "SNS:Publish", *topic_arn);
  }
  if (!ctx.state.topics.count(*topic_arn)) return ApiError(404, "NotFound", "Topic does not exist");

  PublishedMessage published;
  published.topic_arn = *topic_arn;
  published.message_id = RandomUuid();
  published.subject = subject ? *subject : "";
  published.message = *message;
  published.published = ctx.now;
  // MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue
  for (size_t i = 1;; ++i) {
    std::string prefix = "MessageAttributes.entry." + std::to_string(i) + ".";
    const std::string* name = FindParam(p, prefix + "Name");
    if (!name) break;
    const std::string* value = FindParam(p, prefix + "Value.StringValue");
    published.attributes[*name] = value ? *value : "";
  }
  XmlWriter xml;
  xml.Leaf("MessageId", published.message_id);
  ctx.state.published.push_back(std::move(published));
  return Reply::Xml(xml.Take());
}

}  // namespace

Operation FindSnsOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"CreateTopic", CreateTopic},
      {"Publish", Publish},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
