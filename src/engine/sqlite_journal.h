// The journal in a SQLite file: WAL, synchronous=FULL, secure_delete=ON (a
// wiped sealed box is overwritten, not just unlinked from the b-tree).
// Beside the database: PATH.key (the sealing key, 0600, created on first use)
// and PATH.locks/ (one flock-ed file per user, so a dead process never holds a
// user). Safe for several processes and threads sharing one file.
//
// The SQLite code is a store only (journal_store.h): it keeps the boxes that
// sealing_journal.h seals, and never sees a plaintext secret.
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "engine/journal.h"
#include "engine/journal_store.h"

namespace keyrotor::engine {

// Creates the database (mode 0600) and its schema when missing. A file that
// is not a keyrotor journal, or of a newer schema, is an error naming it.
// The journal is this store under the sealing journal, with the key in PATH.key.
Result<std::unique_ptr<Journal>> OpenSqliteJournal(const std::string& path);
// The store alone (for tests of what it stores, and of the journal above).
Result<std::unique_ptr<JournalStore>> OpenSqliteStore(const std::string& path);

// The SQLite library this process runs with, e.g. "3.40.1".
std::string SqliteVersion();

}  // namespace keyrotor::engine
