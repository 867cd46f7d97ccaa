// Rotation records for the journal tests (the contract suite over both
// stores, and each store's own tests).
#pragma once

#include <chrono>
#include <string>

#include "engine/journal.h"

namespace keyrotor::testing {

inline TimePoint At(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

// Every field set to something distinguishable, timestamps in whole
// milliseconds (the journal's resolution).
inline engine::RotationRecord FullRecord(const std::string& id, const std::string& user, int64_t started_ms) {
  using engine::DestinationProgress;
  engine::RotationRecord r;
  r.id = id;
  r.account = "123456789012";
  r.user = user;
  r.mode = engine::RotationMode::kImmediate;
  r.state = engine::RotationState::kStored;
  r.old_key_id = "AKIAOLD";
  r.old_key_created = At(1'600'000'000'001);
  r.keys_before = {"AKIAOLD", "AKIAINACTIVE"};
  r.new_key_id = "AKIANEW";
  r.started = At(started_ms);
  r.updated = At(started_ms + 7);
  r.new_key_created = At(started_ms + 1);
  r.handed_out = At(started_ms + 2);
  r.old_deactivated = At(started_ms + 3);
  r.deferred_since = At(started_ms + 4);
  r.last_error = "Throttling: rate exceeded";
  r.destinations = {{"secretsmanager:app/key", DestinationProgress::Step::kWritten},
                    {"credentials-file:default", DestinationProgress::Step::kSnapshotted}};
  r.notify = {"sns:arn:aws:sns:us-east-1:123456789012:rotations"};
  r.pending_events = {notify::EventKind::kKeyCreated, notify::EventKind::kOldKeyDeleted};
  return r;
}

}  // namespace keyrotor::testing
