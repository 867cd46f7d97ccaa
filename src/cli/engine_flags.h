// What the engine commands (rotate, event) share: the policy and hand-over
// flags, the journal's location, and printing an outcome.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "engine/journal.h"
#include "engine/rotator.h"
#include "engine/settings.h"

namespace keyrotor::cli {

// The engine settings (shared with keyrotor.toml's [policy]) plus what only
// the command line has.
struct EngineFlags : engine::EngineSettings {
  std::string state;  // journal path; default DefaultStatePath()
  bool json = false;
};

// Registers the flags; `with_handover` adds --to/--notify and their options.
void AddEngineFlags(CLI::App& app, EngineFlags& flags, bool with_handover = true);

// Parses and validates every flag, destination and notifier spec
// (InvalidArgument naming the flag or spec), before anything changes.
Result<engine::EngineOptions> BuildEngineOptions(const EngineFlags& flags, const EnvMap& env,
                                                 const aws::ClientFactory& admin);

// KEYROTOR_STATE, else $XDG_STATE_HOME/keyrotor/journal.db, else
// ~/.local/state/keyrotor/journal.db.
using engine::DefaultStatePath;
// Opens (creating its directory, mode 0700) the journal at `path`.
Result<std::unique_ptr<engine::Journal>> OpenJournal(const std::string& path);

// One line per outcome (or a JSON object with --json), on stdout.
void PrintOutcome(const engine::UserOutcome& outcome, bool json);

}  // namespace keyrotor::cli
