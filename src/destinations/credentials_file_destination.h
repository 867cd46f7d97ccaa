// credentials-file:PATH#PROFILE — the key written into a shared credentials
// file (~/.aws/credentials) as the profile's aws_access_key_id and
// aws_secret_access_key, editing the file as IniFile does: everything else in
// it (comments, other profiles, spacing) stays byte for byte.
//
// Put and Restore are read-modify-writes of a file other writers share (the
// threads of a fleet run writing PATH#{user}, other keyrotor processes, and
// `profiles rotate`): each holds LockForUpdate(PATH) (base/file_lock.h, the
// side file PATH.lock) from its read to its rename, so no writer's profile is
// lost to another's replacement of the file.
#pragma once

#include <string>

#include "base/file_system.h"
#include "destinations/destination.h"

namespace keyrotor::destinations {

class CredentialsFileDestination : public Destination {
 public:
  // `fs`: the file system calls writes go through; null: the real ones.
  CredentialsFileDestination(std::string spec, std::string path, std::string profile, FileSystem* fs = nullptr,
                             bool keep_backup = true);

  std::string Describe() const override { return spec_; }
  // {"aws_access_key_id": ..., ...} of the keys the profile sets itself;
  // empty when the file or the profile does not exist. Takes no lock: the
  // file is only ever replaced by rename, so a reader sees one whole version.
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  // Sets both keys (creating the file or profile when missing), drops a
  // session token (it belongs to other credentials) and writes it (a new file
  // 0600; an existing one keeps its owner, group, mode and ACL), keeping the
  // previous file as PATH.bak (unless keep_backup is false). Writes nothing when the profile
  // already holds the key, so a retry does not replace the .bak with the new key.
  Status Put(const KeyHandoff& key) override;
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;

 private:
  std::string spec_;
  std::string path_;
  std::string profile_;
  FileSystem* fs_;
  bool keep_backup_;
};

}  // namespace keyrotor::destinations
