// The journal in a SQLite file: WAL, synchronous=FULL, secure_delete=ON (a
// wiped sealed secret is overwritten, not just unlinked from the b-tree).
// Beside the database: PATH.key (the sealing key, 0600, created on first use)
// and PATH.locks/ (one flock-ed file per user, so a dead process never holds a
// user). Safe for several processes and threads sharing one file.
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "engine/journal.h"

namespace keyrotor::engine {

// Creates the database (mode 0600) and its schema when missing. A file that
// is not a keyrotor journal, or of a newer schema, is an error naming it.
Result<std::unique_ptr<Journal>> OpenSqliteJournal(const std::string& path);

}  // namespace keyrotor::engine
