// What a rotation policy says: when a key is due, how the old key is retired,
// who is exempt. Pure data plus the arithmetic on it, so every rule is
// testable with a fake clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "aws/iam.h"
#include "base/clock.h"
#include "base/status.h"

namespace keyrotor::engine {

using Days = std::chrono::duration<int64_t, std::ratio<86400>>;

enum class RotationMode {
  kStaged,       // new key -> (deactivate_after) old deactivated -> (delete_after) old deleted, one step per run when due
  kImmediate,    // create -> verify -> store -> delete the old key, in one run
  kDeleteFirst,  // delete the old key first (users at the limit who accept a gap), then create
};

std::string ModeName(RotationMode mode);  // "staged" | "immediate" | "delete-first"
Result<RotationMode> ParseMode(std::string_view name);

// How a response to an exposed key orders its steps (docs/leak-response.md).
enum class ExposureOrder {
  kRotateFirst,      // create, verify, hand over, then deactivate the exposed key at once: no outage
  kDeactivateFirst,  // deactivate the exposed key first, then create, verify, hand over: an outage until then
};
std::string ExposureOrderName(ExposureOrder order);  // "rotate-first" | "deactivate-first"
Result<ExposureOrder> ParseExposureOrder(std::string_view name);

struct Policy {
  RotationMode mode = RotationMode::kStaged;
  Duration rotate_after = Days(90);      // an active key this old gets a successor
  Duration deactivate_after = Days(10);  // old key deactivated this long after its successor was created
  Duration delete_after = Days(10);      // old key deleted this long after it was deactivated
  // No active managed key gets older than this (0 = no guarantee beyond the
  // above): rotation starts early enough, and the last-used guard yields to it.
  Duration max_age{0};
  // Last-used guard: the old key is not deactivated while it was used after
  // the new key was handed out, or within this quiet period...
  Duration quiet_period = std::chrono::hours(24);
  // ...unless the successor is this old: then the old key is deactivated anyway.
  Duration force_after = Days(30);
  // Users exempt from rotation: any matching tag (key=value) or group.
  std::vector<aws::Tag> exempt_tags = {{"keyrotor:exempt", "true"}};
  std::vector<std::string> exempt_groups;
  // At the two-key limit, an Inactive key keyrotor did not retire itself is
  // deleted only with this set.
  bool delete_unknown_inactive = false;
  // How long to wait for IAM to accept the new key before giving up on it.
  Duration verify_timeout = std::chrono::seconds(60);

  // Responding to an exposed key (keyrotor respond, AWS Health events).
  ExposureOrder on_exposure = ExposureOrder::kRotateFirst;
  // The exposed key is deleted this long after it was deactivated (kept for
  // an investigator meanwhile); 0 = at once.
  Duration exposed_delete_after = std::chrono::hours(24);
  // What the exposed key did: CloudTrail's events this far back from the report.
  Duration exposure_lookup_window = std::chrono::hours(24);
  // The regions whose CloudTrail history is read; empty: the account's
  // region and us-east-1 (where IAM's events are).
  std::vector<std::string> exposure_lookup_regions;

  // InvalidArgument naming the setting when the numbers contradict each other
  // (e.g. max_age not above deactivate_after).
  Status Validate() const;

  // The key age at which a rotation starts: rotate_after, or earlier when
  // max_age requires the old key to be retired in time.
  Duration RotationThreshold() const;
  // When a key created (or last rotated) at `created` is due for rotation:
  // the one rule both a run's start and a fleet pass's triage apply.
  TimePoint DueAt(TimePoint created) const { return created + RotationThreshold(); }
  // When the old key must be deactivated at the latest, whatever the guard says.
  TimePoint ForcedDeactivationAt(TimePoint new_key_created, TimePoint old_key_created) const;
};

// "90d", "36h", "15m", "30s", "0": a duration for flags and config files.
Result<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);  // "90d", "36h", ...

}  // namespace keyrotor::engine
