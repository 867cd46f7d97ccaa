// The PostgreSQL journal's password never shows: libpq's errors quote the
// connection URI, whole or in pieces, and every one of them becomes a
// message. No server is needed: a closed port and malformed URIs make libpq
// fail with every kind of message, and each message (and everything the
// keyrotor binary prints for such a --state) is scanned for the password,
// percent-decoded too, and for every piece of it libpq could have split off.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/strings.h"
#include "engine/pg_journal.h"
#include "support/process.h"

namespace keyrotor::engine {
namespace {

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct LeakCase {
  std::string url;
  std::string password;  // as written in the URL
};

std::vector<LeakCase> Cases() {
  const std::string port = std::to_string(ClosedPort());
  const std::string host = "127.0.0.1:" + port;
  std::vector<LeakCase> cases;
  // libpq reads a password up to the '@': '?', '#' are part of it.
  for (std::string pw : {"Qz7?Kx#Vw4", "QzKxVw41", "Qz%2FKx%40Vw%3F42"}) {
    cases.push_back({"postgresql://keyrotor:" + pw + "@" + host + "/keyrotor", pw});
  }
  // A raw '/' or '@' makes libpq split the URI elsewhere and quote a piece.
  cases.push_back({"postgresql://keyrotor:Qz/Kx9Vw43@" + host + "/keyrotor", "Qz/Kx9Vw43"});
  cases.push_back({"postgresql://keyrotor:Qz@Kx9Vw44@" + host + "/keyrotor", "Qz@Kx9Vw44"});
  cases.push_back({"postgres://keyrotor:Qz/Kx@Vw45@" + host + "/keyrotor", "Qz/Kx@Vw45"});
  // A bad percent-escape is quoted as a token; an unterminated IPv6 host quotes the whole URI.
  cases.push_back({"postgresql://keyrotor:QzKx%zzVw46@" + host + "/keyrotor", "QzKx%zzVw46"});
  cases.push_back({"postgresql://keyrotor:QzKxVw47@[::1/keyrotor", "QzKxVw47"});
  cases.push_back({"postgresql://keyrotor:QzKxVw48@" + host + ":xx/keyrotor", "QzKxVw48"});
  // In the query, and libpq's keyword form inside it.
  cases.push_back({"postgresql://keyrotor@" + host + "/keyrotor?password=QzKxVw49&connect_timeout=5", "QzKxVw49"});
  cases.push_back({"postgresql://keyrotor@" + host + "/keyrotor?sslpassword=QzKxVw50&sslmode=bogus", "QzKxVw50"});
  cases.push_back({"postgresql://keyrotor@" + host + "/keyrotor?password=QzKxVw51&bogus=1", "QzKxVw51"});
  return cases;
}

// The password, decoded, and each piece libpq may split off at / @ ? # % :.
std::vector<std::string> Needles(const std::string& password) {
  std::vector<std::string> needles = {password, UriDecode(password)};
  std::string piece;
  for (char c : password + "/") {
    if (std::string_view("/@?#%:").find(c) != std::string_view::npos) {
      if (piece.size() >= 2) needles.push_back(piece);
      piece.clear();
    } else {
      piece += c;
    }
  }
  return needles;
}

void ExpectNoPassword(const std::string& text, const LeakCase& c) {
  for (const std::string& needle : Needles(c.password)) {
    EXPECT_EQ(text.find(needle), std::string::npos) << "'" << needle << "' of " << c.url << " in:\n" << text;
  }
}

TEST(PgRedactionTest, LibpqErrorsNeverShowThePassword) {
  std::string dir = testing::MakeTempDir("keyrotor-pg-redaction");
  for (const LeakCase& c : Cases()) {
    auto journal = OpenPostgresJournal(c.url, dir + "/pg.key");
    ASSERT_FALSE(journal.ok()) << c.url;
    const std::string message = journal.status().ToString();
    EXPECT_NE(message.find("postgres"), std::string::npos) << message;  // it still names the database
    ExpectNoPassword(message, c);
    ExpectNoPassword(RedactPostgresUrl(c.url), c);
  }
  std::filesystem::remove_all(dir);
}

// What the binary prints for such a state, from the flag, the environment
// and a fleet config file.
TEST(PgRedactionTest, TheBinaryNeverPrintsThePassword) {
  std::string dir = testing::MakeTempDir("keyrotor-pg-redaction-cli");
  std::map<std::string, std::string> env = {{"HOME", dir},
                                            {"AWS_CONFIG_FILE", dir + "/no-config"},
                                            {"AWS_SHARED_CREDENTIALS_FILE", dir + "/no-credentials"},
                                            {"AWS_EC2_METADATA_DISABLED", "true"},
                                            {"AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00"},
                                            {"AWS_SECRET_ACCESS_KEY", "example"},
                                            {"AWS_REGION", "us-east-1"},
                                            {"KEYROTOR_STATE_KEY", dir + "/pg.key"}};
  for (const LeakCase& c : Cases()) {
    testing::ProcessResult flag =
        testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", c.url, "--user", "alice"}, env, 60);
    EXPECT_NE(flag.exit_code, 0) << c.url;
    ExpectNoPassword(flag.out + flag.err, c);

    std::map<std::string, std::string> with_state = env;
    with_state["KEYROTOR_STATE"] = c.url;
    testing::ProcessResult from_env =
        testing::RunProcess({testing::KeyrotorBinary(), "history", "--user", "alice"}, with_state, 60);
    EXPECT_NE(from_env.exit_code, 0) << c.url;
    ExpectNoPassword(from_env.out + from_env.err, c);

    std::ofstream(dir + "/fleet.toml") << "state = \"" << c.url << "\"\n[policy]\nto = [\"secretsmanager:{user}\"]\n"
                                       << "[[selection]]\nusers = [\"alice\"]\n";
    testing::ProcessResult config =
        testing::RunProcess({testing::KeyrotorBinary(), "config", "check", "--config", dir + "/fleet.toml"}, env, 60);
    ExpectNoPassword(config.out + config.err, c);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor::engine
