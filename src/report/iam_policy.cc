#include "report/iam_policy.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "destinations/destination.h"

namespace keyrotor::report {
namespace {

using Json = nlohmann::ordered_json;

std::string Kind(const std::string& spec) { return spec.substr(0, spec.find(':')); }
std::string Target(const std::string& spec) {
  size_t colon = spec.find(':');
  return colon == std::string::npos ? "" : spec.substr(colon + 1);
}

// "NAME?kms_key_id=K" -> NAME, collecting K (the destination's own key).
std::string StripQuery(const std::string& target, std::vector<std::string>* kms_keys) {
  size_t q = target.find('?');
  if (q == std::string::npos) return target;
  for (const std::string& param : Split(target.substr(q + 1), '&')) {
    size_t eq = param.find('=');
    if (param.substr(0, eq) == "kms_key_id" && eq != std::string::npos) {
      kms_keys->push_back(UriDecode(param.substr(eq + 1)));
    }
  }
  return target.substr(0, q);
}

// The engine fills {user} and {account} per user: in a policy they match anything.
std::string Wildcard(std::string s) {
  for (const char* placeholder : {"{user}", "{account}"}) {
    for (size_t at; (at = s.find(placeholder)) != std::string::npos;)
      s.replace(at, std::string(placeholder).size(), "*");
  }
  return s;
}

void AddUnique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

Json Statement(const std::string& sid, std::vector<std::string> actions, const std::vector<std::string>& resources) {
  std::sort(actions.begin(), actions.end());
  Json resource = resources.size() == 1 ? Json(resources[0]) : Json(resources);
  return {{"Sid", sid}, {"Effect", "Allow"}, {"Action", actions}, {"Resource", resource}};
}

// A KMS key as a policy resource. Cryptographic calls are authorized on the
// key, never on an alias ARN, so an alias becomes "any key" narrowed by the
// kms:ResourceAliases condition (AWS KMS developer guide, "ABAC for AWS KMS").
void AddKmsKey(const std::string& key, std::vector<std::string>* key_arns, std::vector<std::string>* aliases) {
  if (StartsWith(key, "arn:")) {
    size_t alias = key.find(":alias/");
    if (alias == std::string::npos) {
      AddUnique(*key_arns, key);
    } else {
      AddUnique(*aliases, key.substr(alias + 1));
    }
  } else if (StartsWith(key, "alias/")) {
    AddUnique(*aliases, key);
  } else {
    AddUnique(*key_arns, "arn:aws:kms:*:*:key/" + key);
  }
}

}  // namespace

PolicyFeatures FeaturesFromEngineOptions(const engine::EngineOptions& options) {
  PolicyFeatures f;
  f.destinations = options.destinations;
  f.notify = options.notify;
  if (!options.destination_options.kms_key_id.empty()) f.kms_key_ids.push_back(options.destination_options.kms_key_id);
  return f;
}

void MergeFeatures(PolicyFeatures& features, const PolicyFeatures& more) {
  auto append = [](std::vector<std::string>& to, const std::vector<std::string>& from) {
    for (const std::string& item : from) AddUnique(to, item);
  };
  append(features.destinations, more.destinations);
  append(features.notify, more.notify);
  append(features.assume_roles, more.assume_roles);
  features.organization_discovery = features.organization_discovery || more.organization_discovery;
  append(features.kms_key_ids, more.kms_key_ids);
}

Status ValidatePolicyFeatures(const PolicyFeatures& features) {
  for (const std::string& spec : features.destinations) {
    std::string kind = Kind(spec);
    // The destinations layer knows every kind (and what those outside AWS need).
    Result<std::vector<std::string>> known = destinations::TemplateRequirements(spec, {});
    if (!known.ok()) return known.status();
    std::vector<std::string> ignored;
    if ((kind == "secretsmanager" || kind == "ssm") && StripQuery(Target(spec), &ignored).empty()) {
      return Status::InvalidArgument("destination '" + spec + "': the name is empty");
    }
  }
  for (const std::string& spec : features.notify) {
    std::string kind = Kind(spec);
    if (kind != "sns" && kind != "webhook" && kind != "exec") {
      return Status::InvalidArgument("notifier '" + spec + "': expected sns, webhook or exec");
    }
    if (kind == "sns" && !StartsWith(Target(spec), "arn:aws")) {
      return Status::InvalidArgument("notifier '" + spec + "': expected sns:TOPIC_ARN");
    }
  }
  for (const std::string& role : features.assume_roles) {
    if (!StartsWith(role, "arn:aws") || role.find(":role/") == std::string::npos) {
      return Status::InvalidArgument("'" + role + "' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
    }
  }
  return Status::Ok();
}

std::string BuildPolicyJson(const PolicyFeatures& features) {
  std::vector<std::string> secrets, parameters, topics, kms_key_arns, kms_aliases;
  bool uses_secretsmanager = false, uses_ssm = false;
  std::vector<std::string> kms_keys;
  for (const std::string& key : features.kms_key_ids) kms_keys.push_back(key);
  for (const std::string& spec : features.destinations) {
    const std::string kind = Kind(spec);
    if (kind == "secretsmanager") {
      uses_secretsmanager = true;
      std::string name = Wildcard(StripQuery(Target(spec), &kms_keys));
      // Secrets Manager appends "-" and six random characters to a secret's
      // ARN; a name given as an ARN is taken as it is.
      AddUnique(secrets, StartsWith(name, "arn:") ? name : "arn:aws:secretsmanager:*:*:secret:" + name + "-*");
    } else if (kind == "ssm") {
      uses_ssm = true;
      std::string name = Wildcard(StripQuery(Target(spec), &kms_keys));
      // "/app/key" is "parameter/app/key" in its ARN (no doubled slash).
      AddUnique(parameters, "arn:aws:ssm:*:*:parameter/" + (StartsWith(name, "/") ? name.substr(1) : name));
    }
  }
  for (const std::string& spec : features.notify) {
    if (Kind(spec) == "sns") AddUnique(topics, Target(spec));
  }
  for (const std::string& key : kms_keys) AddKmsKey(key, &kms_key_arns, &kms_aliases);

  Json statements = Json::array();
  // ListUsers has no resource type in IAM's Service Authorization Reference:
  // it can only be granted on "*".
  statements.push_back(Statement("KeyrotorListUsers", {"iam:ListUsers"}, {"*"}));
  // A fleet pass reads an account in bulk (docs/fleet.md); none of these
  // actions has a resource type either.
  statements.push_back(Statement(
      "KeyrotorAccountReports",
      {"iam:GetAccountAuthorizationDetails", "iam:GenerateCredentialReport", "iam:GetCredentialReport"}, {"*"}));
  statements.push_back(
      Statement("KeyrotorUserAccessKeys",
                {"iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey",
                 "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:ListGroupsForUser", "iam:GetUser",
                 "iam:ListAttachedUserPolicies"},
                {"arn:aws:iam::*:user/*"}));
  // Exempt groups are read with GetGroup.
  statements.push_back(Statement("KeyrotorReadGroups", {"iam:GetGroup"}, {"arn:aws:iam::*:group/*"}));
  // keyrotor respond tells what an exposed key did from CloudTrail's event
  // history (docs/leak-response.md); LookupEvents has no resource type.
  statements.push_back(Statement("KeyrotorExposureActivity", {"cloudtrail:LookupEvents"}, {"*"}));
  // sts:GetCallerIdentity (key verification, the account id) needs no
  // permission: AWS answers it for any valid credentials, and an explicit
  // Deny cannot stop it (STS API reference, GetCallerIdentity).
  if (uses_secretsmanager) {
    statements.push_back(
        Statement("KeyrotorSecretsManager",
                  {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                   "secretsmanager:CreateSecret", "secretsmanager:UpdateSecretVersionStage"},
                  secrets));
  }
  if (uses_ssm)
    statements.push_back(Statement("KeyrotorSsmParameters", {"ssm:PutParameter", "ssm:GetParameter"}, parameters));
  // Secrets Manager and SSM call KMS on keyrotor's behalf with a customer
  // managed key; kms:ViaService keeps the grant to those calls.
  const std::vector<std::string> kms_actions = {"kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"};
  const Json via_service = {{"kms:ViaService", Json::array({"secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"})}};
  if (!kms_key_arns.empty()) {
    Json s = Statement("KeyrotorKmsKeys", kms_actions, kms_key_arns);
    s["Condition"] = {{"StringLike", via_service}};
    statements.push_back(s);
  }
  if (!kms_aliases.empty()) {
    Json s = Statement("KeyrotorKmsAliases", kms_actions, {"arn:aws:kms:*:*:key/*"});
    s["Condition"] = {{"StringLike", via_service},
                      {"ForAnyValue:StringEquals", {{"kms:ResourceAliases", kms_aliases}}}};
    statements.push_back(s);
  }
  if (!topics.empty()) statements.push_back(Statement("KeyrotorSnsPublish", {"sns:Publish"}, topics));
  if (features.organization_discovery) {
    // Organizations' List* and Describe* actions take no resource but "*"
    // (Service Authorization Reference, AWS Organizations).
    statements.push_back(Statement("KeyrotorOrganizationsDiscovery",
                                   {"organizations:DescribeOrganization", "organizations:ListRoots",
                                    "organizations:ListOrganizationalUnitsForParent",
                                    "organizations:ListAccountsForParent"},
                                   {"*"}));
  }
  if (!features.assume_roles.empty()) {
    std::vector<std::string> roles;
    for (const std::string& r : features.assume_roles) AddUnique(roles, r);
    statements.push_back(Statement("KeyrotorAssumeRoles", {"sts:AssumeRole"}, roles));
  }
  Json policy = {{"Version", "2012-10-17"}, {"Statement", statements}};
  return policy.dump(2) + "\n";
}

}  // namespace keyrotor::report
