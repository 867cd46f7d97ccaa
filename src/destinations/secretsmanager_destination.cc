#include "destinations/secretsmanager_destination.h"

#include <cctype>

#include "base/crypto.h"
#include "base/wipe_json.h"
#include "destinations/destination_util.h"

namespace keyrotor::destinations {
namespace {

constexpr char kCurrent[] = "AWSCURRENT";
constexpr char kPrevious[] = "AWSPREVIOUS";

bool IsNotFound(const Status& s) { return s.IsAws("ResourceNotFoundException"); }

// Moves `stage` to `to` (empty: only takes it off `from`), telling Secrets
// Manager which version holds it now, as it requires (aws-wire.md §4).
Status MoveStage(aws::SecretsManagerClient& sm, const std::string& name, const aws::SecretDescription& now,
                 const std::string& stage, const std::string& to) {
  std::string from = now.VersionWithStage(stage);
  if (from == to) return Status::Ok();
  if (to.empty() && from.empty()) return Status::Ok();
  return sm.UpdateSecretVersionStage(name, stage, to, from);
}

bool LooksLikeAccessKeyId(const std::string& s) {
  if (s.size() != 20 || (s.rfind("AKIA", 0) != 0 && s.rfind("ASIA", 0) != 0)) return false;
  for (char c : s) {
    if (!std::isupper(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

const nlohmann::json* FindAccessKeyId(const nlohmann::json& j) {
  if (j.is_string()) return LooksLikeAccessKeyId(j.get_ref<const std::string&>()) ? &j : nullptr;
  if (j.is_structured()) {
    for (const auto& child : j) {
      if (const nlohmann::json* found = FindAccessKeyId(child)) return found;
    }
  }
  return nullptr;
}

}  // namespace

std::string SecretVersionIdFor(const std::string& rotation_id) {
  // 36 characters, inside Secrets Manager's 32–64; the prefix keeps tokens of
  // other tools (and of other keyrotor stores) from ever colliding.
  std::string hex = HexSha256("keyrotor/secretsmanager/" + rotation_id);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

SecretsManagerDestination::SecretsManagerDestination(std::string spec, aws::ClientFactory aws, std::string name,
                                                     std::string value_template, std::string kms_key_id)
    : spec_(std::move(spec)),
      aws_(std::move(aws)),
      name_(std::move(name)),
      value_template_(std::move(value_template)),
      kms_key_id_(std::move(kms_key_id)) {}

Result<Secret> SecretsManagerDestination::Snapshot(const KeyHandoff& key) {
  KR_ASSIGN_OR_RETURN(aws::SecretsManagerClient sm, aws_.SecretsManager());
  Result<aws::SecretDescription> described = sm.DescribeSecret(name_);
  if (!described.ok()) {
    if (IsNotFound(described.status())) return Secret();
    return described.status().WithContext(spec_);
  }
  std::string current = described->VersionWithStage(kCurrent);
  std::string previous = described->VersionWithStage(kPrevious);
  // Taken again after a crash that followed Put: AWSCURRENT is already this
  // rotation's version, and what it replaced is what AWSPREVIOUS holds.
  if (!key.rotation_id.empty() && current == SecretVersionIdFor(key.rotation_id)) {
    current = previous;
    previous.clear();
    if (current.empty()) return Secret();  // the secret was created by this rotation
  }
  return SnapshotOf({{kCurrent, current}, {kPrevious, previous}});
}

Status SecretsManagerDestination::Put(const KeyHandoff& key) {
  if (key.rotation_id.empty()) return Status::InvalidArgument(spec_ + ": a rotation id is required");
  KR_ASSIGN_OR_RETURN(Secret value, RenderValue(value_template_, key));
  KR_ASSIGN_OR_RETURN(aws::SecretsManagerClient sm, aws_.SecretsManager());
  const std::string token = SecretVersionIdFor(key.rotation_id);
  // Without VersionStages, AWSCURRENT moves to the new version and AWSPREVIOUS
  // to the one it left. The same token with the same value is a no-op, so a
  // retry after a crash changes nothing.
  Result<aws::SecretWrite> put = sm.PutSecretValue(name_, value, token);
  if (put.ok()) return Status::Ok();
  if (put.status().IsAws("ResourceExistsException")) {
    return Status::FailedPrecondition(spec_ + ": version " + token +
                                      " already holds a different value (a rotation id used twice?)");
  }
  if (!IsNotFound(put.status())) return put.status().WithContext(spec_);
  // First use: create the secret with the same token, so a retry of this
  // branch is a no-op too. kms_key_id only matters here: a secret's key is
  // chosen when it is created.
  Result<aws::SecretWrite> created = sm.CreateSecret(
      name_, value, token, "AWS access key of IAM user " + key.user + " (rotated by keyrotor)", kms_key_id_);
  if (created.ok()) return Status::Ok();
  // Created by someone else between our two calls: put the version as usual.
  if (created.status().IsAws("ResourceExistsException")) {
    Result<aws::SecretWrite> again = sm.PutSecretValue(name_, value, token);
    if (again.ok()) return Status::Ok();
    return again.status().WithContext(spec_);
  }
  return created.status().WithContext(spec_);
}

// Restore puts AWSCURRENT (and AWSPREVIOUS) back on the versions the snapshot
// names; the abandoned version stays, unlabelled, like any deprecated version.
//
// An empty snapshot means the secret did not exist before this rotation
// created it. Restore then deletes nothing and returns OK: deleting a secret
// is a scheduled, recoverable deletion in AWS and may break readers that
// expect the name to exist, while a secret holding a key that was never
// handed over (and will be deleted or deactivated) is harmless only as long as
// nothing reads it — and nothing could have read it before it existed.
Status SecretsManagerDestination::Restore(const KeyHandoff& key, const Secret& snapshot) {
  if (snapshot.empty()) return Status::Ok();
  KR_ASSIGN_OR_RETURN(nlohmann::json doc, ParseSnapshot(snapshot, spec_));
  const std::string want_current = doc.value(kCurrent, "");
  const std::string want_previous = doc.value(kPrevious, "");
  if (want_current.empty()) return Status::ParseError(spec_ + ": snapshot names no AWSCURRENT version");
  const std::string ours = SecretVersionIdFor(key.rotation_id);

  KR_ASSIGN_OR_RETURN(aws::SecretsManagerClient sm, aws_.SecretsManager());
  Result<aws::SecretDescription> described = sm.DescribeSecret(name_);
  if (!described.ok()) return described.status().WithContext(spec_ + ": restoring");
  const std::string current = described->VersionWithStage(kCurrent);
  if (current != ours && current != want_current) {
    return Status::FailedPrecondition(spec_ + ": AWSCURRENT is on version " + current +
                                      ", neither this rotation's nor the one before it: changed by someone else, "
                                      "not restored");
  }
  KR_RETURN_IF_ERROR(MoveStage(sm, name_, *described, kCurrent, want_current).WithContext(spec_ + ": restoring"));
  // Moving AWSCURRENT back put AWSPREVIOUS on our version; look again and
  // give AWSPREVIOUS back to the version that had it (or to none).
  KR_ASSIGN_OR_RETURN(aws::SecretDescription after, sm.DescribeSecret(name_));
  const std::string previous_now = after.VersionWithStage(kPrevious);
  if (previous_now == want_previous) return Status::Ok();
  if (!previous_now.empty() && previous_now != ours) return Status::Ok();  // someone else's label: leave it
  return MoveStage(sm, name_, after, kPrevious, want_previous).WithContext(spec_ + ": restoring AWSPREVIOUS");
}

Result<std::pair<std::string, std::string>> ReadKeyIdFromSecret(aws::SecretsManagerClient& client,
                                                                const std::string& secret_id,
                                                                const std::string& stage) {
  KR_ASSIGN_OR_RETURN(aws::SecretValue value, client.GetSecretValue(secret_id, stage));
  nlohmann::json doc = nlohmann::json::parse(value.secret_string.reveal(), nullptr, /*allow_exceptions=*/false);
  std::string key_id;
  if (doc.is_object()) {
    if (auto it = doc.find("AccessKey"); it != doc.end() && it->is_string()) key_id = it->get<std::string>();
  }
  if (key_id.empty()) {
    if (const nlohmann::json* found = FindAccessKeyId(doc)) key_id = found->get<std::string>();
  }
  WipeJson(doc);  // the document holds the secret key
  if (key_id.empty()) {
    return Status::ParseError(secret_id + " (" + stage + ", version " + value.version_id +
                              "): no access key id in the value (expected JSON with \"AccessKey\")");
  }
  return std::make_pair(value.version_id, key_id);
}

}  // namespace keyrotor::destinations
