// Deterministic crash injection for the crash-safety tests: a Journal
// decorator that kills the process (SIGKILL, no cleanup, exactly as the OOM
// killer or a power cut would) right before or right after the Nth Save.
// Every side effect of the engine sits between two Saves, so killing at each
// point in turn covers every window. Enabled only by the CLI when
// KEYROTOR_CRASH_POINT is set ("before-save:N" or "after-save:N").
#pragma once

#include <memory>
#include <string>

#include "engine/journal.h"

namespace keyrotor::engine {

struct CrashPoint {
  bool after = false;  // after the Save committed, rather than before it started
  int save_number = 0; // 1-based
};

Result<CrashPoint> ParseCrashPoint(std::string_view text);

std::unique_ptr<Journal> WithCrashPoint(std::unique_ptr<Journal> journal, CrashPoint point);

}  // namespace keyrotor::engine
