#include "destinations/vault.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "base/file_lock.h"
#include "base/file_util.h"
#include "base/seal.h"
#include "base/wipe_json.h"
#include "destinations/destination_util.h"

namespace keyrotor::destinations {
namespace {

constexpr std::string_view kHeader = "KRVAULT1\n";
// Bound to the box: a sealed journal slot cannot be passed off as a vault.
constexpr std::string_view kSealContext = "keyrotor vault v1";

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}


std::string Field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<VaultEntries> DecodeVaultEntries(const Secret& plain, const std::string& path) {
  nlohmann::json doc = nlohmann::json::parse(plain.reveal(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Status::ParseError(path + ": vault content is not a JSON object");
  VaultEntries out;
  for (auto& [name, value] : doc.items()) {
    if (!value.is_object()) {
      WipeJson(doc);
      return Status::ParseError(path + ": vault entry '" + name + "' is not an object");
    }
    VaultEntry e;
    e.access_key_id = Field(value, "access_key_id");
    e.secret_access_key = Secret(Field(value, "secret_access_key"));
    e.user = Field(value, "user");
    e.account = Field(value, "account");
    e.rotation_id = Field(value, "rotation_id");
    e.previous_access_key_id = Field(value, "previous_access_key_id");
    std::string created = Field(value, "created");
    if (!created.empty()) {
      Result<TimePoint> t = ParseIso8601(created);
      if (t.ok()) e.created = *t;
    }
    out.emplace(name, std::move(e));
  }
  WipeJson(doc);
  return out;
}

Secret EncodeVaultEntries(const VaultEntries& entries) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [name, e] : entries) {
    doc[name] = {{"access_key_id", e.access_key_id},
                 {"secret_access_key", e.secret_access_key.reveal()},
                 {"user", e.user},
                 {"account", e.account},
                 {"created", e.created == TimePoint{} ? "" : FormatIso8601(e.created)},
                 {"rotation_id", e.rotation_id},
                 {"previous_access_key_id", e.previous_access_key_id}};
  }
  Secret out = SnapshotOf(doc);
  WipeJson(doc);
  return out;
}

Result<Vault> Vault::Open(std::string path, std::string key_file) {
  if (path.empty()) return Status::InvalidArgument("vault path is empty");
  if (key_file.empty()) key_file = path + ".key";
  if (Exists(path) && !Exists(key_file)) {
    return Status::NotFound(path + ": the vault's key file " + key_file +
                            " does not exist (pass --key-file, or restore it from your backup)");
  }
  return Vault(std::move(path), std::move(key_file));
}

Result<VaultEntries> Vault::ReadAll() const {
  Result<std::string> raw = ReadFile(path_);
  if (!raw.ok()) {
    if (raw.status().IsNotFound()) return VaultEntries{};
    return raw.status();
  }
  if (raw->compare(0, kHeader.size(), kHeader) != 0) {
    return Status::ParseError(path_ + ": not a keyrotor vault (or one written by a newer keyrotor)");
  }
  if (!Exists(key_file_)) return Status::NotFound(path_ + ": the vault's key file " + key_file_ + " does not exist");
  KR_ASSIGN_OR_RETURN(SealingKey key, SealingKey::LoadOrCreate(key_file_));
  Result<Secret> plain = key.Open(std::string_view(*raw).substr(kHeader.size()), kSealContext);
  if (!plain.ok()) return plain.status().WithContext(path_ + " (key " + key_file_ + ")");
  return DecodeVaultEntries(*plain, path_);
}

Result<VaultEntry> Vault::Get(const std::string& entry) const {
  KR_ASSIGN_OR_RETURN(VaultEntries all, ReadAll());
  auto it = all.find(entry);
  if (it == all.end()) return Status::NotFound(path_ + ": no entry '" + entry + "'");
  return std::move(it->second);
}

Result<std::vector<VaultListing>> Vault::List() const {
  KR_ASSIGN_OR_RETURN(VaultEntries all, ReadAll());
  std::vector<VaultListing> out;
  for (const auto& [name, e] : all) out.push_back({name, e.access_key_id, e.user, e.account, e.created});
  return out;
}

Status Vault::Update(const std::function<Result<bool>(VaultEntries&)>& edit) {
  KR_RETURN_IF_ERROR(EnsureParentDirectory(path_));
  KR_ASSIGN_OR_RETURN(FileLock lock, LockForUpdate(path_));
  KR_ASSIGN_OR_RETURN(VaultEntries entries, ReadAll());
  KR_ASSIGN_OR_RETURN(bool changed, edit(entries));
  if (!changed) return Status::Ok();
  // Created under the lock, so two first writers cannot make two keys.
  KR_ASSIGN_OR_RETURN(SealingKey key, SealingKey::LoadOrCreate(key_file_));
  Secret plain = EncodeVaultEntries(entries);
  std::string contents(kHeader);
  contents += key.Seal(plain.reveal(), kSealContext);
  // No .bak: the vault is not edited by hand, and a backup would be one more
  // copy of old secrets; ENTRY.previous inside it is what Restore needs.
  return AtomicWriteFile(path_, contents, {0600, /*keep_backup=*/false});
}

Status Vault::Put(const std::string& entry, const VaultEntry& value) {
  if (entry.empty()) return Status::InvalidArgument(path_ + ": an entry name is required");
  return Update([&](VaultEntries& entries) -> Result<bool> {
    entries[entry] = value.Clone();
    return true;
  });
}

Status Vault::Remove(const std::string& entry) {
  return Update([&](VaultEntries& entries) -> Result<bool> {
    if (entries.erase(entry) == 0) return Status::NotFound(path_ + ": no entry '" + entry + "'");
    return true;
  });
}

}  // namespace keyrotor::destinations
