// The least-privilege IAM policy keyrotor's admin identity needs for a given
// configuration: `keyrotor policy` prints it, so an operator attaches exactly
// what the configured destinations and notifiers use, and nothing for the
// services they do not.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "engine/rotator.h"

namespace keyrotor::report {

// What the policy depends on. It mirrors engine::EngineOptions (the same
// --to/--notify spec strings) so a config file can feed either.
struct PolicyFeatures {
  std::vector<std::string> destinations;  // --to specs; "{user}"/"{account}" become wildcards
  std::vector<std::string> notify;        // --notify specs; only sns: ones need a permission
  std::vector<std::string> assume_roles;  // role ARNs keyrotor assumes (e.g. one per account)
  // Key ids, key ARNs, alias names or alias ARNs; none: AWS-managed keys only.
  std::vector<std::string> kms_key_ids;
  // [organization]: the caller lists the organization's accounts.
  bool organization_discovery = false;
};

// The features of an engine configuration (its destinations, notifiers and
// --kms-key-id); roles are not part of EngineOptions and are added by the caller.
PolicyFeatures FeaturesFromEngineOptions(const engine::EngineOptions& options);

// Adds `more` to `features`: a fleet config's selections (and its accounts'
// roles) feed one policy.
void MergeFeatures(PolicyFeatures& features, const PolicyFeatures& more);

// InvalidArgument naming the spec for a destination or notifier keyrotor would
// refuse, a role that is not an IAM role ARN, or a topic that is not an ARN.
Status ValidatePolicyFeatures(const PolicyFeatures& features);

// {"Version": "2012-10-17", "Statement": [...]}, two-space indented, with a
// Sid per statement, in a fixed order. Specs that need no AWS permission
// (credentials-file, vault, exec, webhook) contribute nothing.
std::string BuildPolicyJson(const PolicyFeatures& features);

}  // namespace keyrotor::report
