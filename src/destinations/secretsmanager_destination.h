// secretsmanager:NAME[?kms_key_id=K] — the key as a new version of a Secrets
// Manager secret (AWSCURRENT moves to it, AWSPREVIOUS to the version before),
// the secret created on first use.
#pragma once

#include <string>
#include <utility>

#include "aws/clients.h"
#include "destinations/destination.h"

namespace keyrotor::destinations {

class SecretsManagerDestination : public Destination {
 public:
  SecretsManagerDestination(std::string spec, aws::ClientFactory aws, std::string name, std::string value_template,
                            std::string kms_key_id);

  std::string Describe() const override { return spec_; }
  // {"AWSCURRENT": version id, "AWSPREVIOUS": version id} (no secret value);
  // empty when the secret does not exist.
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  Status Put(const KeyHandoff& key) override;
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;

 private:
  std::string spec_;
  aws::ClientFactory aws_;
  std::string name_;
  std::string value_template_;
  std::string kms_key_id_;
};

// The ClientRequestToken, and so the VersionId, a rotation's value is written
// under: a UUID-shaped digest of the rotation id, so a retry after a crash
// sends the same token and Secrets Manager treats it as a no-op.
std::string SecretVersionIdFor(const std::string& rotation_id);

// (version id, access key id) of the version of `secret_id` labelled `stage`
// (AWSCURRENT, AWSPREVIOUS, ...). The value is read as JSON: the default
// format's "AccessKey" member, else the first string anywhere in the document
// shaped like an access key id (AKIA/ASIA + 16 upper-case letters or digits),
// which covers custom templates. ParseError (never quoting the value) when
// neither is there.
Result<std::pair<std::string, std::string>> ReadKeyIdFromSecret(aws::SecretsManagerClient& client,
                                                                const std::string& secret_id,
                                                                const std::string& stage = "AWSCURRENT");

}  // namespace keyrotor::destinations
