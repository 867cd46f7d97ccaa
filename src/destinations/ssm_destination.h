// ssm:NAME[?kms_key_id=K] — the key as a SecureString parameter in SSM
// Parameter Store, overwritten on every rotation.
#pragma once

#include <string>

#include "aws/clients.h"
#include "destinations/destination.h"

namespace keyrotor::destinations {

class SsmDestination : public Destination {
 public:
  SsmDestination(std::string spec, aws::ClientFactory aws, std::string name, std::string value_template,
                 std::string kms_key_id);

  std::string Describe() const override { return spec_; }
  // {"type": ..., "value": ...} of the parameter's latest version; empty when
  // it does not exist.
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

// SSM's parameter name rules, loosely (the service has the last word): 1–2048
// characters of [A-Za-z0-9_.-/], a path starts with '/', and no "aws" or "ssm"
// prefix. InvalidArgument saying which rule the name breaks.
Status ValidateParameterName(const std::string& name);

}  // namespace keyrotor::destinations
