// `keyrotor profiles rotate`: rotate the key of every static profile in a
// shared credentials file, each with its own key (the job of the hand-written
// "create, sleep 10 s, delete the oldest" loops), but safely:
//   create -> write into the file -> verify with STS (waiting out IAM
//   propagation) -> retire the old key signed with the new one.
// If the new key cannot be verified it is deleted and the file restored, so
// nothing changed. The two-key limit is handled explicitly: the other key is
// deleted only if it is Inactive.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "base/clock.h"

namespace keyrotor::engine {

struct ProfileRotationOptions {
  std::string credentials_path;
  std::vector<std::string> profiles;  // empty: every profile in the file
  bool delete_old = false;            // --remove: delete instead of deactivate
  Duration verify_timeout{30000};     // how long to wait for IAM to accept the new key
  bool keep_backup = true;            // keep the file as it was before this run as PATH.bak
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
  std::string message;  // never holds a secret
};

// Called as each profile finishes, for progress output.
using ProfileReporter = std::function<void(const ProfileOutcome&)>;

class ProfileRotator {
 public:
  // `factory` carries transport, clock, retry settings and endpoints; each
  // profile's clients are derived from it with that profile's own key.
  ProfileRotator(aws::ClientFactory factory, ProfileRotationOptions options);

  // Errors only for the file as a whole (missing, malformed, unknown profile
  // named): then nothing was changed. Per-profile failures are outcomes.
  Result<std::vector<ProfileOutcome>> Run(const ProfileReporter& report = nullptr);

 private:
  ProfileOutcome RotateOne(const std::string& profile);
  Clock* clock() const { return factory_.context().clock; }

  aws::ClientFactory factory_;
  ProfileRotationOptions options_;
  bool backup_taken_ = false;  // .bak holds the file as it was before the run, not before the last profile
};

}  // namespace keyrotor::engine
