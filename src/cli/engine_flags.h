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
  std::string state;  // journal path or postgresql:// URL; default DefaultStatePath()
  bool json = false;
};

// The destinations' settings (engine::DestinationSettings()) as flags:
// --github-token-file, --gitlab-api-url, --vault-kv-addr...
void AddDestinationSettingFlags(CLI::App& app, engine::EngineSettings& settings);

// Registers the flags; `with_handover` adds --to/--notify and their options.
void AddEngineFlags(CLI::App& app, EngineFlags& flags, bool with_handover = true);

// Parses and validates every flag, destination and notifier spec
// (InvalidArgument naming the flag or spec), before anything changes.
Result<engine::EngineOptions> BuildEngineOptions(const EngineFlags& flags, const EnvMap& env,
                                                 const aws::ClientFactory& admin);

// KEYROTOR_STATE, else $XDG_STATE_HOME/keyrotor/journal.db, else
// ~/.local/state/keyrotor/journal.db.
using engine::DefaultStatePath;
// KEYROTOR_STATE_KEY, else $XDG_STATE_HOME/keyrotor/pg.key, else
// ~/.local/state/keyrotor/pg.key: the sealing key of a PostgreSQL journal.
// Every instance sharing the database needs a copy of the same file.
std::string DefaultStateKeyPath(const EnvMap& env);
// Opens the journal `state` names: a postgresql:// or postgres:// URL (sealing
// key DefaultStateKeyPath) or a SQLite file (its directory created, mode
// 0700, when missing). KEYROTOR_CRASH_POINT in `env` wraps it for the
// crash-safety tests.
Result<std::unique_ptr<engine::Journal>> OpenJournal(const std::string& state, const EnvMap& env);

// One line per outcome (or a JSON object with --json), on stdout.
void PrintOutcome(const engine::UserOutcome& outcome, bool json);

}  // namespace keyrotor::cli
