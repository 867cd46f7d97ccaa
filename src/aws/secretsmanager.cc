#include "aws/secretsmanager.h"

#include "base/wipe_json.h"

namespace keyrotor::aws {
namespace {

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

SecretWrite ParseWrite(const nlohmann::json& j) {
  return {StringField(j, "ARN"), StringField(j, "Name"), StringField(j, "VersionId")};
}

}  // namespace

std::string SecretDescription::VersionWithStage(const std::string& stage) const {
  for (const auto& [version, stages] : version_ids_to_stages) {
    for (const auto& s : stages) {
      if (s == stage) return version;
    }
  }
  return "";
}

SecretsManagerClient::SecretsManagerClient(ClientContext context, ServiceEndpoint endpoint)
    : JsonClient(std::move(context), std::move(endpoint), "secretsmanager") {}

Result<SecretWrite> SecretsManagerClient::CreateSecret(const std::string& name, const Secret& value,
                                                       const std::string& client_request_token,
                                                       const std::string& description, const std::string& kms_key_id) {
  nlohmann::json body{{"Name", name}, {"SecretString", value.reveal()}, {"ClientRequestToken", client_request_token}};
  if (!description.empty()) body["Description"] = description;
  if (!kms_key_id.empty()) body["KmsKeyId"] = kms_key_id;
  Result<nlohmann::json> reply = Call("CreateSecret", body);
  WipeString(body["SecretString"].get_ref<std::string&>());
  if (!reply.ok()) return reply.status();
  return ParseWrite(*reply);
}

Result<SecretDescription> SecretsManagerClient::DescribeSecret(const std::string& secret_id) {
  KR_ASSIGN_OR_RETURN(nlohmann::json reply, Call("DescribeSecret", {{"SecretId", secret_id}}));
  SecretDescription out{StringField(reply, "ARN"), StringField(reply, "Name"), {}};
  auto it = reply.find("VersionIdsToStages");
  if (it != reply.end() && it->is_object()) {
    for (const auto& [version, stages] : it->items()) {
      if (!stages.is_array()) return Status::ParseError("DescribeSecret: VersionIdsToStages is malformed");
      for (const auto& s : stages) {
        if (s.is_string()) out.version_ids_to_stages[version].push_back(s.get<std::string>());
      }
    }
  }
  return out;
}

Result<SecretValue> SecretsManagerClient::GetSecretValue(const std::string& secret_id, const std::string& version_stage,
                                                         const std::string& version_id) {
  nlohmann::json body{{"SecretId", secret_id}};
  if (!version_id.empty()) body["VersionId"] = version_id;
  if (!version_stage.empty()) body["VersionStage"] = version_stage;
  KR_ASSIGN_OR_RETURN(nlohmann::json reply, Call("GetSecretValue", body));
  WipeJsonOnExit wipe(reply);  // SecretString (or SecretBinary)
  SecretValue out;
  out.arn = StringField(reply, "ARN");
  out.name = StringField(reply, "Name");
  out.version_id = StringField(reply, "VersionId");
  if (auto it = reply.find("VersionStages"); it != reply.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (s.is_string()) out.version_stages.push_back(s.get<std::string>());
    }
  }
  auto it = reply.find("SecretString");
  if (it == reply.end() || !it->is_string()) return Status::ParseError("GetSecretValue: response lacks SecretString");
  out.secret_string = Secret(it->get<std::string>());
  return out;
}

Result<SecretWrite> SecretsManagerClient::PutSecretValue(const std::string& secret_id, const Secret& value,
                                                         const std::string& client_request_token,
                                                         const std::vector<std::string>& version_stages) {
  nlohmann::json body{{"SecretId", secret_id}, {"SecretString", value.reveal()},
                      {"ClientRequestToken", client_request_token}};
  if (!version_stages.empty()) body["VersionStages"] = version_stages;
  Result<nlohmann::json> reply = Call("PutSecretValue", body);
  WipeString(body["SecretString"].get_ref<std::string&>());
  if (!reply.ok()) return reply.status();
  return ParseWrite(*reply);
}

Status SecretsManagerClient::UpdateSecretVersionStage(const std::string& secret_id, const std::string& stage,
                                                      const std::string& move_to_version_id,
                                                      const std::string& remove_from_version_id) {
  nlohmann::json body{{"SecretId", secret_id}, {"VersionStage", stage}};
  if (!move_to_version_id.empty()) body["MoveToVersionId"] = move_to_version_id;
  if (!remove_from_version_id.empty()) body["RemoveFromVersionId"] = remove_from_version_id;
  return Call("UpdateSecretVersionStage", body).status();
}

}  // namespace keyrotor::aws
