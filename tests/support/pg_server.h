// A throwaway PostgreSQL 15 server for the journal tests, started by the
// tests themselves in a temporary directory (UNIX socket only, no TCP port),
// once for the whole test binary and only when a test asks for it; stopped
// after the last test.
//
// Missing server binaries fail the tests that need it (they do not skip): run
// scripts/install-deps. KEYROTOR_PG_BINDIR overrides where they are looked for.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace keyrotor::testing {

class PgServer {
 public:
  // The running server, started on first use; nullptr with `*error` set when
  // it cannot be started.
  static PgServer* Get(std::string* error);
  static void StopIfStarted();

  ~PgServer();

  // libpq URL of database `db` on this server, as user keyrotor (trusted).
  std::string Url(const std::string& db) const;
  // The server's directory (data, socket, log): every file it writes.
  const std::string& dir() const { return dir_; }

  // A fresh, empty database for one test; returns its name.
  std::string CreateDatabase();

 private:
  PgServer() = default;
  std::string Start();  // empty on success, else what went wrong

  std::string bindir_;
  std::string dir_;
  std::vector<std::string> run_as_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace keyrotor::testing
