// The journal in PostgreSQL, so that several keyrotor daemons (on one host or
// many) share rotations, locks and the audit trail.
//
// Everything lives in the database schema `keyrotor` (created when missing,
// with a schema_version table; a newer version is refused). The PostgreSQL
// code is a store only (journal_store.h): secrets reach it sealed, by
// sealing_journal.h, with a key from a local file, which every daemon sharing
// the database must have with the same contents: distribute it like any other
// secret. The database keeps a key-check box sealed with that key, so a daemon
// holding a different key is refused before it seals anything.
//
// Per-user locks are PostgreSQL session-level advisory locks, each on a
// connection of its own that the UserLock owns: the server drops the lock when
// that session ends, including when the process holding it dies.
#pragma once

#include <memory>
#include <string>

#include "engine/journal.h"
#include "engine/journal_store.h"

namespace keyrotor::engine {

// True for a `--state` value naming a PostgreSQL database rather than a file:
// "postgresql://..." or "postgres://...".
bool IsPostgresUrl(const std::string& state);

// `url` is handed to libpq as is (e.g.
// "postgresql://keyrotor@db.internal:5432/keyrotor?sslmode=verify-full" or
// "postgresql://keyrotor@/keyrotor?host=/run/postgresql"). The sealing key is
// read from `sealing_key_file`, or created there (0600) on first use when the
// database holds no box sealed with another key yet. Errors name the URL with
// any password removed.
Result<std::unique_ptr<Journal>> OpenPostgresJournal(const std::string& url, const std::string& sealing_key_file);
// The store alone (for tests of what it stores, and of the journal above).
Result<std::unique_ptr<JournalStore>> OpenPostgresStore(const std::string& url);

// The URL with its user info (user:PASSWORD@) and password=... values
// replaced by **** (base/conninfo_redact.h), for messages.
std::string RedactPostgresUrl(const std::string& url);

// The libpq this process runs with, e.g. "15.14", and the libpqxx it was built with.
std::string LibpqVersion();

}  // namespace keyrotor::engine
