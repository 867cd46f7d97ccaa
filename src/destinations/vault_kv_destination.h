// HashiCorp Vault / OpenBao KV version 2:
//   vault-kv:MOUNT/PATH
// MOUNT is the secrets engine's mount (the first segment), PATH the secret
// under it. The secret gets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or,
// with a value template, the rendered JSON object's fields; any other field
// already in the secret is kept (read, merge, write).
//
// Every write is a check-and-set on the version read ("KV secrets engine -
// version 2 (API)", "Create/Update secret", options.cas; 0 = only if absent),
// so a writer racing us is never overwritten: its version makes ours fail
// with 400 "check-and-set parameter did not match the current version", and
// we read again and merge into its data.
//
// Not to be confused with vault: (keyrotor's own encrypted vault file).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "destinations/destination.h"
#include "destinations/vault_kv_api.h"

namespace keyrotor::destinations {

struct VaultKvTarget {
  std::string mount;  // "secret"
  std::string path;   // "team/app/aws"
  // "MOUNT/data/PATH": the API path of the secret's data, as policies name it.
  std::string DataPath() const { return mount + "/data/" + path; }
};

// Parses what follows "vault-kv:". InvalidArgument with the reason.
Result<VaultKvTarget> ParseVaultKvSpec(std::string_view rest);

class VaultKvDestination : public Destination {
 public:
  VaultKvDestination(std::string spec, VaultKvTarget target, std::unique_ptr<VaultKvApi> api,
                     std::string value_template);

  std::string Describe() const override { return spec_; }
  bool ReadsBack() const override { return true; }
  // The fields keyrotor manages as they are now, the version and whether the
  // secret had live data: {"existed", "version", "fields"} (sealed by the engine).
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  // Read, merge our fields, write with cas = the version read; a cas
  // mismatch reads again (bounded). Nothing is written when the current
  // version already holds this key.
  Status Put(const KeyHandoff& key) override;
  // When the secret still holds this rotation's key: writes the snapshot's
  // fields back (cas), or, when it had no data before, removes our fields
  // and, if nothing else is left, soft-deletes the version we wrote.
  // FailedPrecondition when a different key is there (superseded).
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;
  // sys/capabilities-self on MOUNT/data/PATH: needs create, update and read.
  Result<std::string> CheckAccess() override;

 private:
  struct Current {
    bool exists = false;   // live data (not absent, not soft-deleted)
    int64_t version = 0;   // the secret's current version (0: never written); cas compares with it
    nlohmann::json data;   // the live data, an object (empty when !exists); holds secrets: wiped
    Current() = default;
    Current(Current&&) = default;
    Current& operator=(Current&&) = default;
    ~Current();
  };
  Result<Current> Read();
  // Writes `data` with cas = `version`. The Status of the call; *cas_mismatch
  // set when Vault refused it for the version.
  Status Write(const nlohmann::json& data, int64_t version, bool* cas_mismatch);
  // The fields this rotation writes, as a JSON object (holds the secret).
  Result<nlohmann::json> OurFields(const KeyHandoff& key) const;
  static bool Holds(const nlohmann::json& data, const nlohmann::json& fields);

  std::string spec_;
  VaultKvTarget target_;
  std::unique_ptr<VaultKvApi> api_;
  std::string value_template_;
};

Result<std::unique_ptr<Destination>> MakeVaultKvDestination(std::string_view spec, std::string_view rest,
                                                            const aws::ClientFactory& aws,
                                                            const DestinationOptions& options);

// The Vault policy the credentials need (keyrotor policy).
std::vector<std::string> VaultKvRequirements(const VaultKvTarget& target);

}  // namespace keyrotor::destinations
