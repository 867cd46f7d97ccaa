#include "aws/ssm.h"

#include "base/wipe_json.h"

namespace keyrotor::aws {

SsmClient::SsmClient(ClientContext context, ServiceEndpoint endpoint)
    : JsonClient(std::move(context), std::move(endpoint), "AmazonSSM") {}

Result<int64_t> SsmClient::PutParameter(const std::string& name, const Secret& value, const std::string& type,
                                        bool overwrite, const std::string& kms_key_id) {
  nlohmann::json body{{"Name", name}, {"Value", value.reveal()}, {"Type", type}, {"Overwrite", overwrite}};
  if (!kms_key_id.empty()) body["KeyId"] = kms_key_id;
  Result<nlohmann::json> reply = Call("PutParameter", body);
  WipeString(body["Value"].get_ref<std::string&>());
  if (!reply.ok()) return reply.status();
  auto it = reply->find("Version");
  if (it == reply->end() || !it->is_number_integer()) return Status::ParseError("PutParameter: response lacks Version");
  return it->get<int64_t>();
}

Result<Parameter> SsmClient::GetParameter(const std::string& name, bool with_decryption) {
  KR_ASSIGN_OR_RETURN(nlohmann::json reply, Call("GetParameter", {{"Name", name}, {"WithDecryption", with_decryption}}));
  WipeJsonOnExit wipe(reply);  // Parameter.Value
  auto p = reply.find("Parameter");
  if (p == reply.end() || !p->is_object() || !p->contains("Value") || !(*p)["Value"].is_string()) {
    return Status::ParseError("GetParameter: response lacks Parameter.Value");
  }
  Parameter out;
  out.name = p->value("Name", "");
  out.type = p->value("Type", "");
  out.version = p->value("Version", int64_t{0});
  out.value = Secret((*p)["Value"].get<std::string>());
  return out;
}

}  // namespace keyrotor::aws
