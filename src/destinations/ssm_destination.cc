#include "destinations/ssm_destination.h"

#include <cctype>

#include "base/strings.h"
#include "destinations/destination_util.h"

namespace keyrotor::destinations {
namespace {

constexpr char kSecureString[] = "SecureString";

}  // namespace

Status ValidateParameterName(const std::string& name) {
  if (name.empty() || name.size() > 2048) return Status::InvalidArgument("a parameter name has 1 to 2048 characters");
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-' && c != '/') {
      return Status::InvalidArgument("a parameter name may hold only letters, digits and _.-/");
    }
  }
  if (name.find('/') != std::string::npos && name[0] != '/') {
    return Status::InvalidArgument("a parameter path must start with '/' (ssm:/app/key)");
  }
  if (name.find("//") != std::string::npos || (name.size() > 1 && name.back() == '/') || name == "/") {
    return Status::InvalidArgument("a parameter path has no empty parts");
  }
  std::string lower = ToLower(name[0] == '/' ? name.substr(1) : name);
  if (StartsWith(lower, "aws") || StartsWith(lower, "ssm")) {
    return Status::InvalidArgument("a parameter name cannot start with \"aws\" or \"ssm\"");
  }
  return Status::Ok();
}

SsmDestination::SsmDestination(std::string spec, aws::ClientFactory aws, std::string name, std::string value_template,
                               std::string kms_key_id)
    : spec_(std::move(spec)),
      aws_(std::move(aws)),
      name_(std::move(name)),
      value_template_(std::move(value_template)),
      kms_key_id_(std::move(kms_key_id)) {}

Result<Secret> SsmDestination::Snapshot(const KeyHandoff&) {
  KR_ASSIGN_OR_RETURN(aws::SsmClient ssm, aws_.Ssm());
  Result<aws::Parameter> current = ssm.GetParameter(name_, /*with_decryption=*/true);
  if (!current.ok()) {
    if (current.status().IsAws("ParameterNotFound")) return Secret();
    return current.status().WithContext(spec_);
  }
  nlohmann::json doc = {{"type", current->type}, {"value", current->value.reveal()}};
  Secret out = SnapshotOf(doc);
  WipeString(doc["value"].get_ref<std::string&>());
  return out;
}

Status SsmDestination::Put(const KeyHandoff& key) {
  KR_ASSIGN_OR_RETURN(Secret value, RenderValue(value_template_, key));
  KR_ASSIGN_OR_RETURN(aws::SsmClient ssm, aws_.Ssm());
  // Overwriting with the same value would still add a parameter version (and
  // SSM keeps only 100): a retry that finds the value in place does nothing.
  Result<aws::Parameter> current = ssm.GetParameter(name_, /*with_decryption=*/true);
  if (current.ok() && current->type == kSecureString && current->value == value) return Status::Ok();
  if (!current.ok() && !current.status().IsAws("ParameterNotFound")) return current.status().WithContext(spec_);
  Result<int64_t> put = ssm.PutParameter(name_, value, kSecureString, /*overwrite=*/true, kms_key_id_);
  if (!put.ok()) return put.status().WithContext(spec_);
  return Status::Ok();
}

// Restore writes the snapshot's value back as a new parameter version (SSM
// has no labels to move). An empty snapshot means the parameter did not
// exist before; it is left holding the abandoned key and Restore returns OK:
// the SSM client here has no DeleteParameter, and nothing could have read the
// parameter before this rotation created it.
Status SsmDestination::Restore(const KeyHandoff& key, const Secret& snapshot) {
  if (snapshot.empty()) return Status::Ok();
  KR_ASSIGN_OR_RETURN(nlohmann::json doc, ParseSnapshot(snapshot, spec_));
  auto value_it = doc.find("value");
  if (value_it == doc.end() || !value_it->is_string()) {
    return Status::ParseError(spec_ + ": snapshot is not one keyrotor wrote");
  }
  const Secret before(value_it->get<std::string>());
  WipeString(value_it->get_ref<std::string&>());
  const std::string type = doc.value("type", kSecureString);

  KR_ASSIGN_OR_RETURN(aws::SsmClient ssm, aws_.Ssm());
  KR_ASSIGN_OR_RETURN(aws::Parameter current, ssm.GetParameter(name_, /*with_decryption=*/true));
  if (current.value == before && current.type == type) return Status::Ok();  // already restored
  KR_ASSIGN_OR_RETURN(Secret ours, RenderValue(value_template_, key));
  if (current.value != ours) {
    return Status::FailedPrecondition(spec_ +
                                      ": the parameter holds neither this rotation's value nor the one "
                                      "before it: changed by someone else, not restored");
  }
  Result<int64_t> put =
      ssm.PutParameter(name_, before, type, /*overwrite=*/true, type == kSecureString ? kms_key_id_ : "");
  if (!put.ok()) return put.status().WithContext(spec_ + ": restoring");
  return Status::Ok();
}

}  // namespace keyrotor::destinations
