// credentials-file:PATH#PROFILE — the key written into a shared credentials
// file (~/.aws/credentials) as the profile's aws_access_key_id and
// aws_secret_access_key, editing the file as IniFile does: everything else in
// it (comments, other profiles, spacing) stays byte for byte.
#pragma once

#include <string>

#include "destinations/destination.h"

namespace keyrotor::destinations {

class CredentialsFileDestination : public Destination {
 public:
  CredentialsFileDestination(std::string spec, std::string path, std::string profile, bool keep_backup = true);

  std::string Describe() const override { return spec_; }
  // {"aws_access_key_id": ..., ...} of the keys the profile sets itself;
  // empty when the file or the profile does not exist.
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  // Sets both keys (creating the file or profile when missing), drops a
  // session token (it belongs to other credentials) and writes with mode 0600,
  // keeping the previous file as PATH.bak (unless keep_backup is false). Writes nothing when the profile
  // already holds the key, so a retry does not replace the .bak with the new key.
  Status Put(const KeyHandoff& key) override;
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;

 private:
  std::string spec_;
  std::string path_;
  std::string profile_;
  bool keep_backup_;
};

}  // namespace keyrotor::destinations
