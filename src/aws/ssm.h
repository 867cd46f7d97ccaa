// SSM Parameter Store (JSON 1.1, target prefix "AmazonSSM").
#pragma once

#include <string>

#include "aws/client.h"
#include "base/secret.h"

namespace keyrotor::aws {

struct Parameter {
  std::string name;
  std::string type;
  Secret value;
  int64_t version = 0;
};

class SsmClient : public JsonClient {
 public:
  SsmClient(ClientContext context, ServiceEndpoint endpoint);
  // Returns the new version. SecureString encrypts with `kms_key_id` (default alias/aws/ssm).
  Result<int64_t> PutParameter(const std::string& name, const Secret& value, const std::string& type = "SecureString",
                               bool overwrite = true, const std::string& kms_key_id = "");
  Result<Parameter> GetParameter(const std::string& name, bool with_decryption = true);
};

}  // namespace keyrotor::aws
