#include "support/pg_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <pqxx/pqxx>

#include "support/process.h"

namespace keyrotor::testing {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<PgServer> instance;

// The port only names the socket file in our private directory, so any
// number works; one free on TCP as well keeps the logs unambiguous.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 54321;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

ProcessResult RunAs(const std::vector<std::string>& run_as, std::vector<std::string> argv) {
  argv.insert(argv.begin(), run_as.begin(), run_as.end());
  return RunProcess(argv, {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"LC_ALL", "C"}}, 120);
}

// Stops the server after the last test (a forked child _exits and never gets here).
class PgServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { PgServer::StopIfStarted(); }
};
[[maybe_unused]] ::testing::Environment* const kPgEnvironment =
    ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

}  // namespace

PgServer* PgServer::Get(std::string* error) {
  static std::string start_error;
  if (!instance && start_error.empty()) {
    auto server = std::unique_ptr<PgServer>(new PgServer);
    start_error = server->Start();
    if (start_error.empty()) instance = std::move(server);
  }
  *error = start_error;
  return instance.get();
}

void PgServer::StopIfStarted() { instance.reset(); }

PgServer::~PgServer() {
  if (started_) RunAs(run_as_, {bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "stop"});
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string PgServer::Url(const std::string& db) const {
  return "postgresql://keyrotor@/" + db + "?host=" + dir_ + "&port=" + std::to_string(port_);
}

std::string PgServer::CreateDatabase() {
  static std::atomic<int> counter{0};
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection admin(Url("postgres"));
  pqxx::nontransaction t(admin);
  t.exec("CREATE DATABASE " + name);
  return name;
}

// initdb refuses to run as root, so as root the server runs as the `postgres`
// user the Debian package creates (or `nobody`), owning the temporary directory.
std::string PgServer::Start() {
  const char* override_dir = std::getenv("KEYROTOR_PG_BINDIR");
  bindir_ = override_dir ? override_dir : "/usr/lib/postgresql/15/bin";
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    if (::access((bindir_ + "/" + tool).c_str(), X_OK) != 0) {
      return bindir_ + "/" + tool +
             " not found: the PostgreSQL journal tests need the PostgreSQL 15 server binaries; run "
             "scripts/install-deps (it installs the postgresql package)";
    }
  }
  dir_ = MakeTempDir("keyrotor-pg");
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) pw = ::getpwnam("nobody");
    if (pw == nullptr) return "running as root, and neither a postgres nor a nobody user exists to run PostgreSQL";
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return dir_ + ": chown failed";
    run_as_ = {"runuser", "-u", pw->pw_name, "--"};
  }
  port_ = FreePort();
  ProcessResult init = RunAs(run_as_, {bindir_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "keyrotor",
                                       "-E", "UTF8", "--locale=C", "--no-sync"});
  if (init.exit_code != 0) return "initdb failed: " + init.out + init.err;
  // fsync off: durability across power loss is PostgreSQL's business, not
  // these tests', and the shared machine's disk is slow.
  std::string options = "-k " + dir_ + " -c listen_addresses='' -p " + std::to_string(port_) +
                        " -c fsync=off -c full_page_writes=off -c max_connections=200";
  ProcessResult start = RunAs(run_as_, {bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w",
                                        "-t", "60", "-o", options, "start"});
  if (start.exit_code != 0) {
    std::ifstream log(dir_ + "/server.log");
    return "pg_ctl start failed: " + start.out + start.err +
           std::string(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
  }
  started_ = true;
  return "";
}

}  // namespace keyrotor::testing
