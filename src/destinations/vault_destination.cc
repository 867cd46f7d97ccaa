#include "destinations/vault_destination.h"

#include "destinations/vault.h"

namespace keyrotor::destinations {
namespace {

constexpr char kPreviousSuffix[] = ".previous";
// Snapshot documents use the vault's own format, with these two names.
constexpr char kSnapEntry[] = "entry";
constexpr char kSnapPrevious[] = "previous";

const VaultEntry* Find(const VaultEntries& entries, const std::string& name) {
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

void SetOrErase(VaultEntries& entries, const std::string& name, const VaultEntry* value) {
  if (value) {
    entries[name] = value->Clone();
  } else {
    entries.erase(name);
  }
}

}  // namespace

VaultDestination::VaultDestination(std::string spec, std::string path, std::string entry, std::string key_file)
    : spec_(std::move(spec)), path_(std::move(path)), entry_(std::move(entry)), key_file_(std::move(key_file)) {}

Result<Secret> VaultDestination::Snapshot(const KeyHandoff& key) {
  const std::string name = EntryFor(key);
  Result<Vault> vault = Vault::Open(path_, key_file_);
  if (!vault.ok()) return vault.status().WithContext(spec_);
  Result<VaultEntries> all = vault->ReadAll();
  if (!all.ok()) return all.status().WithContext(spec_);
  const VaultEntry* entry = Find(*all, name);
  const VaultEntry* previous = Find(*all, name + kPreviousSuffix);
  // Taken again after a crash that followed Put: the entry is already this
  // rotation's key, and what it replaced is in ENTRY.previous.
  if (entry && entry->access_key_id == key.access_key_id) {
    entry = previous;
    previous = nullptr;
  }
  VaultEntries snap;
  if (entry) snap[kSnapEntry] = entry->Clone();
  if (previous) snap[kSnapPrevious] = previous->Clone();
  if (snap.empty()) return Secret();
  return EncodeVaultEntries(snap);
}

Status VaultDestination::Put(const KeyHandoff& key) {
  const std::string name = EntryFor(key);
  if (name.empty()) return Status::InvalidArgument(spec_ + ": no entry name and no user name to use instead");
  Result<Vault> vault = Vault::Open(path_, key_file_);
  if (!vault.ok()) return vault.status().WithContext(spec_);
  Status updated = vault->Update([&](VaultEntries& entries) -> Result<bool> {
    const VaultEntry* current = Find(entries, name);
    if (current && current->access_key_id == key.access_key_id) return false;  // a retry: already there
    if (current) entries[name + kPreviousSuffix] = current->Clone();
    VaultEntry& e = entries[name];
    e.access_key_id = key.access_key_id;
    e.secret_access_key = key.secret_access_key.Clone();
    e.user = key.user;
    e.account = key.account;
    e.created = key.created;
    e.rotation_id = key.rotation_id;
    e.previous_access_key_id = key.previous_access_key_id;
    return true;
  });
  return updated.WithContext(spec_);
}

// Puts back the entry and ENTRY.previous the snapshot saw; an empty snapshot
// removes both (neither existed). Only when the entry still holds this
// rotation's key: a newer key someone stored since is not overwritten.
Status VaultDestination::Restore(const KeyHandoff& key, const Secret& snapshot) {
  const std::string name = EntryFor(key);
  VaultEntries snap;
  if (!snapshot.empty()) {
    KR_ASSIGN_OR_RETURN(snap, DecodeVaultEntries(snapshot, spec_ + " snapshot"));
  }
  const VaultEntry* want_entry = Find(snap, kSnapEntry);
  const VaultEntry* want_previous = Find(snap, kSnapPrevious);
  Result<Vault> vault = Vault::Open(path_, key_file_);
  if (!vault.ok()) return vault.status().WithContext(spec_);
  Status updated = vault->Update([&](VaultEntries& entries) -> Result<bool> {
    const VaultEntry* current = Find(entries, name);
    if (!current || current->access_key_id != key.access_key_id) {
      const bool restored = want_entry ? current && current->access_key_id == want_entry->access_key_id : !current;
      if (restored) return false;
      return Status::FailedPrecondition("entry '" + name + "' holds " +
                                        (current ? "key " + current->access_key_id : std::string("nothing")) +
                                        ", neither this rotation's key nor the one before it: not restored");
    }
    SetOrErase(entries, name, want_entry);
    SetOrErase(entries, name + kPreviousSuffix, want_previous);
    return true;
  });
  return updated.WithContext(spec_);
}

}  // namespace keyrotor::destinations
