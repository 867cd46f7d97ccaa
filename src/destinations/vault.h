// keyrotor's local vault: one file holding named access keys, for machines
// without Secrets Manager. The whole content — a JSON object
// {ENTRY: {access_key_id, secret_access_key, user, account, created,
// rotation_id, previous_access_key_id}} — is sealed with a SealingKey
// (base/seal.h) and stored as "KRVAULT1\n" + box, so no secret is ever on
// disk in plain text. The key lives in its own 0600 file (default PATH.key),
// created on the first write.
//
// Every change is a read-modify-write under LockForUpdate(PATH) (an flock
// on PATH.lock, base/file_lock.h), and the file is replaced atomically
// (AtomicWriteFile, 0600):
// two processes writing different entries both keep theirs, and a reader
// never sees half a vault.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::destinations {

struct VaultEntry {
  std::string access_key_id;
  Secret secret_access_key;
  std::string user;
  std::string account;
  TimePoint created{};
  std::string rotation_id;
  std::string previous_access_key_id;
  // A copy, made on purpose (Secret is move-only).
  VaultEntry Clone() const {
    return {access_key_id, secret_access_key.Clone(), user, account, created, rotation_id, previous_access_key_id};
  }
};

using VaultEntries = std::map<std::string, VaultEntry>;

// What `vault list` shows: no secret.
struct VaultListing {
  std::string name;
  std::string access_key_id;
  std::string user;
  std::string account;
  TimePoint created{};
};

// The vault's plaintext JSON format, also used for the vault destination's
// snapshots. `what` names the source in errors (never the content).
Secret EncodeVaultEntries(const VaultEntries& entries);
Result<VaultEntries> DecodeVaultEntries(const Secret& plain, const std::string& what);

class Vault {
 public:
  // `key_file` empty: path + ".key". Opening reads nothing yet; it fails only
  // when the vault exists and its key file does not (a new key could not
  // open it, and must not replace the lost one silently).
  static Result<Vault> Open(std::string path, std::string key_file = "");

  // NotFound naming the entry when it is not there.
  Result<VaultEntry> Get(const std::string& entry) const;
  // Every entry, sorted by name; an absent vault is empty.
  Result<VaultEntries> ReadAll() const;
  Result<std::vector<VaultListing>> List() const;

  Status Put(const std::string& entry, const VaultEntry& value);
  // NotFound when the entry is not there.
  Status Remove(const std::string& entry);

  // The read-modify-write every change goes through: `edit` gets the current
  // entries under the lock and returns whether it changed them (false: nothing
  // is written). Its error aborts the update with nothing written.
  Status Update(const std::function<Result<bool>(VaultEntries&)>& edit);

  const std::string& path() const { return path_; }
  const std::string& key_file() const { return key_file_; }

 private:
  Vault(std::string path, std::string key_file) : path_(std::move(path)), key_file_(std::move(key_file)) {}

  std::string path_;
  std::string key_file_;
};

}  // namespace keyrotor::destinations
