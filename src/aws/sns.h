// SNS (query protocol, API 2010-03-31): publishing notifications.
#pragma once

#include <string>

#include "aws/client.h"

namespace keyrotor::aws {

class SnsClient : public QueryClient {
 public:
  SnsClient(ClientContext context, ServiceEndpoint endpoint);
  // Returns the MessageId. Subject is at most 100 characters (SNS limit).
  Result<std::string> Publish(const std::string& topic_arn, const std::string& message, const std::string& subject = "");
  Result<std::string> CreateTopic(const std::string& name);  // returns the TopicArn
};

}  // namespace keyrotor::aws
