// Secrets Manager (JSON 1.1, target prefix "secretsmanager").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.h"
#include "base/secret.h"

namespace keyrotor::aws {

struct SecretDescription {
  std::string arn;
  std::string name;
  std::map<std::string, std::vector<std::string>> version_ids_to_stages;
  // The version holding `stage`, or empty.
  std::string VersionWithStage(const std::string& stage) const;
};

struct SecretValue {
  std::string arn;
  std::string name;
  std::string version_id;
  std::vector<std::string> version_stages;
  Secret secret_string;
};

struct SecretWrite {
  std::string arn;
  std::string name;
  std::string version_id;
};

class SecretsManagerClient : public JsonClient {
 public:
  SecretsManagerClient(ClientContext context, ServiceEndpoint endpoint);

  // `client_request_token` (32–64 chars, becomes the VersionId) makes retries
  // idempotent: the same token with the same value is a no-op.
  Result<SecretWrite> CreateSecret(const std::string& name, const Secret& value, const std::string& client_request_token,
                                   const std::string& description = "", const std::string& kms_key_id = "");
  Result<SecretDescription> DescribeSecret(const std::string& secret_id);
  // stage defaults to AWSCURRENT; always sent explicitly (aws-wire.md §4 notes
  // a server that answers the previous version when it is omitted).
  Result<SecretValue> GetSecretValue(const std::string& secret_id, const std::string& version_stage = "AWSCURRENT",
                                     const std::string& version_id = "");
  // Without stages, AWSCURRENT moves to the new version and AWSPREVIOUS to the old.
  Result<SecretWrite> PutSecretValue(const std::string& secret_id, const Secret& value,
                                     const std::string& client_request_token,
                                     const std::vector<std::string>& version_stages = {});
  Status UpdateSecretVersionStage(const std::string& secret_id, const std::string& stage,
                                  const std::string& move_to_version_id, const std::string& remove_from_version_id);
};

}  // namespace keyrotor::aws
