// `keyrotor profiles rotate`: rotate the key of every static profile in a
// shared credentials file, each with its own key (the job of the hand-written
// "create, sleep 10 s, delete the oldest" loops), through the one rotation
// engine: for each profile, one Rotator run for the key's IAM user, signed by
// the profile's own key, with the profile as its only destination
// (credentials-file:PATH#PROFILE), in the same journal as every other
// rotation. So a profile rotation is crash-safe (a killed run is finished by
// the next one, no orphan key, no lost secret), follows the engine's two-key
// rules, and shows in `keyrotor history`.
//
// Policy: the rotation is forced (the command means "now"); the new key is
// verified with STS, written into the file, then the old key is deactivated
// at once (staged mode with no wait; the key deactivates itself, so no other
// permission than managing one's own keys is needed) or, with delete_old,
// deleted (immediate mode). A deactivated key stays Inactive, for a person to
// re-enable in an emergency, until the next `profiles rotate` of that profile
// deletes it to make room (or `delete_after` passes).
//
// Profiles of different users rotate concurrently (up to `concurrency`);
// profiles of one user one after the other.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "base/clock.h"
#include "engine/journal.h"

namespace keyrotor::engine {

struct ProfileRotationOptions {
  std::string credentials_path;
  std::vector<std::string> profiles;  // empty: every profile in the file
  bool delete_old = false;            // --remove: delete instead of deactivate
  Duration verify_timeout{30000};     // how long to wait for IAM to accept the new key
  bool keep_backup = true;            // keep the file as it was before this run as PATH.bak
  // At the two-key limit an Inactive key keyrotor did not retire itself is
  // deleted only with this set (as for `keyrotor rotate`).
  bool delete_unknown_inactive = false;
  int concurrency = 4;                // profiles of different users rotated at once
  // An inactive old key from an earlier `profiles rotate` is deleted this
  // long after its deactivation, even when the profile is not rotated again.
  Duration delete_after = std::chrono::hours(24 * 10);
  Duration orphan_settle{5000};       // see EngineOptions::orphan_settle
};

struct ProfileOutcome {
  enum class Result { kRotated, kSkipped, kFailed };
  std::string profile;
  Result result = Result::kFailed;
  std::string user;
  std::string old_key_id;
  std::string new_key_id;
  std::string removed_inactive_key_id;  // an Inactive second key deleted to make room
  TimePoint old_key_created{};
  std::string rotation_id;  // the journal's rotation, for `keyrotor history`
  std::string message;      // never holds a secret
};

// Called as each profile finishes, for progress output (from one thread at a
// time, in the order profiles finish).
using ProfileReporter = std::function<void(const ProfileOutcome&)>;

class ProfileRotator {
 public:
  // `factory` carries transport, clock, retry settings and endpoints; each
  // profile's clients are derived from it with that profile's own key.
  // `journal` outlives the ProfileRotator.
  ProfileRotator(aws::ClientFactory factory, Journal* journal, ProfileRotationOptions options);

  // Errors only for the file as a whole (missing, malformed, unknown profile
  // named): then nothing was changed. Per-profile failures are outcomes, in
  // the file's order.
  Result<std::vector<ProfileOutcome>> Run(const ProfileReporter& report = nullptr);

 private:
  ProfileOutcome RotateOne(const std::string& profile);

  aws::ClientFactory factory_;
  Journal* journal_;
  ProfileRotationOptions options_;
};

}  // namespace keyrotor::engine
