#include "aws/sns.h"

namespace keyrotor::aws {

SnsClient::SnsClient(ClientContext context, ServiceEndpoint endpoint)
    : QueryClient(std::move(context), std::move(endpoint), "2010-03-31") {}

Result<std::string> SnsClient::Publish(const std::string& topic_arn, const std::string& message,
                                       const std::string& subject) {
  QueryParams params{{"TopicArn", topic_arn}, {"Message", message}};
  if (!subject.empty()) params.emplace_back("Subject", subject.substr(0, 100));
  // Not idempotent for standard topics: a resend after a lost answer may
  // deliver twice, which is better than losing a rotation notice; SNS itself
  // offers no dedup outside FIFO topics.
  KR_ASSIGN_OR_RETURN(Reply reply, Call("Publish", params));
  std::string id = ChildText(reply.result, "MessageId");
  if (id.empty()) return Status::ParseError("Publish: response lacks MessageId");
  return id;
}

Result<std::string> SnsClient::CreateTopic(const std::string& name) {
  KR_ASSIGN_OR_RETURN(Reply reply, Call("CreateTopic", {{"Name", name}}));
  std::string arn = ChildText(reply.result, "TopicArn");
  if (arn.empty()) return Status::ParseError("CreateTopic: response lacks TopicArn");
  return arn;
}

}  // namespace keyrotor::aws
