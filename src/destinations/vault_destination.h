// vault:PATH[#ENTRY] — the key in keyrotor's local encrypted vault (vault.h),
// under ENTRY (default: the IAM user's name); the entry it replaces stays
// readable as ENTRY.previous.
#pragma once

#include <string>

#include "destinations/destination.h"

namespace keyrotor::destinations {

class VaultDestination : public Destination {
 public:
  // `entry` empty: the user name of each KeyHandoff. `key_file` empty: PATH.key.
  VaultDestination(std::string spec, std::string path, std::string entry, std::string key_file);

  std::string Describe() const override { return spec_; }
  // {"entry": {...} | null, "previous": {...} | null}; empty when neither exists.
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  Status Put(const KeyHandoff& key) override;
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;

 private:
  std::string EntryFor(const KeyHandoff& key) const { return entry_.empty() ? key.user : entry_; }

  std::string spec_;
  std::string path_;
  std::string entry_;
  std::string key_file_;
};

}  // namespace keyrotor::destinations
