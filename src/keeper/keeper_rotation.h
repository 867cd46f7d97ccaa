// keyrotor keeper: one Keeper PAM post-rotation run. Keeper decides when; the
// engine (engine/rotator.h) does the rotation in immediate mode, with the
// record writer as its one destination, so:
//   - the new key is verified with STS before the writer sees it;
//   - the writer gets it before the old key is deleted, and a writer that
//     fails abandons the rotation: the new key is deleted, the old one kept;
//   - a key the writer accepted is never deleted by keyrotor.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "aws/credentials.h"
#include "engine/journal.h"
#include "engine/rotator.h"
#include "keeper/payload.h"

namespace keyrotor::keeper {

// Field labels read from the attached records.
inline constexpr char kAccessKeyIdField[] = "aws_access_key_id";
inline constexpr char kSecretAccessKeyField[] = "aws_secret_access_key";
inline constexpr char kSessionTokenField[] = "aws_session_token";
inline constexpr char kDeleteAllKeysField[] = "delete_all_keys_before_rotating";

// The admin credentials attached to the script: the first record, in
// Keeper's order, with both aws_access_key_id and aws_secret_access_key
// (aws_session_token too when present), skipping the rotated user's own
// record (userRecordUid): that one holds the key being replaced, not an
// admin's. Nullopt when no record has them (the caller falls back on the
// default provider chain). InvalidArgument when a record has only one of the
// two, or one in a shape that cannot be read.
struct RecordCredentials {
  std::string record_uid;
  aws::Credentials credentials;
};
Result<std::optional<RecordCredentials>> AdminCredentialsFromRecords(const KeeperPayload& payload);

// delete_all_keys_before_rotating, from the first record that has the field.
bool DeleteAllKeysRequested(const KeeperPayload& payload);

struct KeeperOptions {
  std::string destination;  // a keeper-writer: or keeper-stdout: spec (keeper_destination.h)
  Duration verify_timeout = std::chrono::seconds(60);
  Duration writer_timeout = std::chrono::seconds(60);
  EnvMap exec_env;  // the writer's environment (stripped of credentials again before use)
  bool delete_all_keys = false;
  std::FILE* fields_out = stdout;  // keeper-stdout:
  // Keep the old key, deactivated, instead of deleting it, so that the
  // caller can still take the rotation back (RevertForKeeper): Keeper's SaaS
  // plugins roll back when the record update after them fails. The rotation
  // stays open until the next one, which deletes that key first.
  bool keep_old_key = false;
};

struct KeeperOutcome {
  std::string user;
  std::string account;
  std::string result;  // the engine's result name, or "failed" before the engine ran
  std::string new_key_id;
  std::vector<std::string> removed_key_ids;
  std::string message;  // never a secret
  bool ok = false;      // the rotation completed: the writer holds the new key and the old ones are gone
                        // (keep_old_key: the writer holds it; the old key is kept for a rollback)
  std::string kept_key_id;  // keep_old_key: the old key, kept (inactive, unless still in use) for a rollback
};

// One rotation of `user`. `journal` holds the audit trail (and any rotation a
// killed run left open: it is finished first, not started anew).
KeeperOutcome RotateForKeeper(const std::string& user, const aws::ClientFactory& admin, engine::Journal* journal,
                              const KeeperOptions& options);

// Takes back the rotation a keep_old_key run made, whose new key is
// `new_key_id`: the old key re-activated, the new one deleted (through the
// engine and its journal: StepOverrides::revert_new_key_id). ok when rolled
// back; refused when the old key no longer exists.
KeeperOutcome RevertForKeeper(const std::string& user, const std::string& new_key_id, const aws::ClientFactory& admin,
                              engine::Journal* journal, const KeeperOptions& options);

}  // namespace keyrotor::keeper
