// `keyrotor rotate`, `event` and `history` as a user runs them: the real
// binary against the sandbox on a loopback socket.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <mutex>
#include <thread>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/file_util.h"
#include "net/http_server.h"
#include "sandbox/server.h"
#include "support/process.h"
#include "support/sandbox_clients.h"

namespace keyrotor {
namespace {

using testing::ProcessResult;

class RotateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox::SandboxOptions options;
    options.seed = 3;
    options.consistency_ms = 200;
    auto server = sandbox::SandboxServer::Start(options);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    admin_ = sb().CreateAdmin("admin");
    secrets_.push_back(admin_.secret.reveal());
    dir_ = testing::MakeTempDir("keyrotor-rotate-cli");
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  sandbox::Sandbox& sb() { return server_->sandbox(); }
  aws::ClientFactory Admin() {
    return testing::SandboxClients(server_->endpoint(), &transport_, admin_.access_key_id, admin_.secret);
  }

  std::string NewUser(const std::string& user, int age_days = 100) {
    auto key = sb().CreateUserWithKey(user, Clock::Real()->Now() - std::chrono::hours(24 * age_days));
    EXPECT_TRUE(key.ok());
    secrets_.push_back(key->secret.reveal());
    last_secret_ = key->secret.Clone();
    return key->access_key_id;
  }

  ProcessResult Run(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), testing::KeyrotorBinary());
    if (args[1] != "vault") args.insert(args.end(), {"--state", dir_ + "/journal.db"});
    if (args[1] == "rotate" || args[1] == "event") args.insert(args.end(), {"--endpoint-url", server_->endpoint()});
    ProcessResult r = testing::RunProcess(
        args,
        {{"AWS_ACCESS_KEY_ID", admin_.access_key_id},
         {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
         {"AWS_REGION", "us-east-1"},
         {"HOME", dir_},
         {"AWS_EC2_METADATA_DISABLED", "true"}},
        120, stdin_data);
    outputs_ += r.out + r.err;
    return r;
  }

  // The key id the secret holds at `stage` (empty when none), remembering its secret.
  std::string SecretKeyId(const std::string& name, const std::string& stage = "AWSCURRENT") {
    auto v = sb().SecretValue(name, stage);
    if (!v) return "";
    auto j = nlohmann::json::parse(v->reveal());
    secrets_.push_back(j["SecretKey"].get<std::string>());
    return j["AccessKey"].get<std::string>();
  }

  void ExpectNoSecretInOutputs() {
    for (const auto& s : secrets_) EXPECT_EQ(outputs_.find(s), std::string::npos) << "secret leaked to output";
  }

  std::unique_ptr<sandbox::SandboxServer> server_;
  sandbox::Sandbox::IssuedKey admin_;
  aws::CurlTransport transport_;
  std::string dir_;
  std::vector<std::string> secrets_;
  std::string outputs_;
  Secret last_secret_;
};

TEST_F(RotateCliTest, StagedRotationWithSecretsManagerAndHistory) {
  std::string old_key = NewUser("app");
  std::string topic = *Admin().Sns()->CreateTopic("rotations");
  ProcessResult r = Run({"rotate", "--user", "app", "--to", "secretsmanager:apps/{user}", "--notify", "sns:" + topic});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("progressed"), std::string::npos) << r.out;  // created and stored; deactivation in 10 days
  std::string new_key = SecretKeyId("apps/app");
  EXPECT_NE(new_key, old_key);
  EXPECT_NE(r.out.find(new_key), std::string::npos);
  EXPECT_EQ(sb().KeyCount("app"), 2u);
  ASSERT_EQ(sb().PublishedMessages(topic).size(), 1u);

  // Dry run: says what is next, changes nothing.
  r = Run({"rotate", "--user", "app", "--deactivate-after", "0", "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would deactivate old key " + old_key), std::string::npos) << r.out;
  EXPECT_TRUE(sb().GetKey(old_key)->active);

  r = Run({"rotate", "--user", "app", "--deactivate-after", "0", "--delete-after", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto outcome = nlohmann::json::parse(r.out);
  EXPECT_EQ(outcome["result"], "completed");
  EXPECT_EQ(outcome["old_access_key_id"], old_key);
  EXPECT_FALSE(sb().GetKey(old_key));

  r = Run({"history", "--user", "app"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> actions;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["user"], "app");
    EXPECT_TRUE(j.contains("time"));
    if (j["outcome"] == "ok") actions.push_back(j["action"]);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"plan", "create_key", "verify", "store", "notify", "deactivate_old",
                                               "notify", "delete_old", "notify"}));
  EXPECT_NE(r.out.find("\"request_id\""), std::string::npos);
  r = Run({"history", "--limit", "2"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  ExpectNoSecretInOutputs();
}

TEST_F(RotateCliTest, BadInputIsRefusedAndChangesNothing) {
  std::string old_key = NewUser("app");
  for (std::vector<std::string> args : {
           std::vector<std::string>{"rotate", "--user", "bad/name"},
           {"rotate", "--user", "app", "--mode", "sideways"},
           {"rotate", "--user", "app", "--rotate-after", "90"},
           {"rotate", "--user", "app", "--exempt-tag", "novalue"},
           {"rotate", "--user", "app", "--max-age", "5d"},
           {"rotate", "--user", "app", "--to", "secretsmanager:"},
           {"rotate", "--user", "app", "--to", "ftp:somewhere"},
           {"event", "{\"action\": \"create\"}"},
           {"event", "{\"action\": \"explode\", \"username\": \"app\"}"},
           {"event", "not json"},
       }) {
    ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args[1] << " " << args.back() << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
  EXPECT_EQ(sb().KeyCount("app"), 1u);
  EXPECT_TRUE(sb().GetKey(old_key)->active);
  ExpectNoSecretInOutputs();
}

// A state path that cannot be used is an error naming it (exit 2), not an
// uncaught std::filesystem_error (abort, exit by SIGABRT); nothing changes.
TEST_F(RotateCliTest, UnusableStatePathIsAClearError) {
  std::string old_key = NewUser("app");
  std::filesystem::create_symlink("loop-b", dir_ + "/loop-a");
  std::filesystem::create_symlink("loop-a", dir_ + "/loop-b");
  ASSERT_TRUE(AtomicWriteFile(dir_ + "/plainfile", "not a directory", {0600, false}).ok());
  const std::string long_component(300, 'x');
  for (const std::string& state : {dir_ + "/loop-a/journal.db", dir_ + "/loop-a/deeper/journal.db",
                                   dir_ + "/" + long_component + "/journal.db", dir_ + "/" + long_component,
                                   dir_ + "/plainfile/sub/journal.db"}) {
    for (std::vector<std::string> args : {std::vector<std::string>{"rotate", "--user", "app"},
                                          std::vector<std::string>{"history"}}) {
      args.insert(args.begin(), testing::KeyrotorBinary());
      args.insert(args.end(), {"--state", state});
      if (args[1] == "rotate") args.insert(args.end(), {"--endpoint-url", server_->endpoint()});
      ProcessResult r = testing::RunProcess(args, {{"AWS_ACCESS_KEY_ID", admin_.access_key_id},
                                                   {"AWS_SECRET_ACCESS_KEY", admin_.secret.reveal()},
                                                   {"AWS_REGION", "us-east-1"},
                                                   {"HOME", dir_},
                                                   {"AWS_EC2_METADATA_DISABLED", "true"}});
      outputs_ += r.out + r.err;
      EXPECT_EQ(r.exit_code, 2) << args[1] << " --state " << state << ": " << r.err;
      EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(dir_), std::string::npos) << "the message names the path: " << r.err;
    }
  }
  EXPECT_EQ(sb().KeyCount("app"), 1u);
  EXPECT_TRUE(sb().GetKey(old_key)->active);
  ExpectNoSecretInOutputs();
}

// Every directory keyrotor creates on the way to its state is private, even
// under umask 0.
TEST_F(RotateCliTest, StateDirectoriesAreCreated0700WhateverTheUmask) {
  NewUser("app");
  const std::string top = dir_ + "/state";
  mode_t old = ::umask(0);
  ProcessResult r = testing::RunProcess({testing::KeyrotorBinary(), "history", "--state", top + "/a/b/journal.db"},
                                        {{"HOME", dir_}, {"AWS_EC2_METADATA_DISABLED", "true"}});
  ::umask(old);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& d : {top, top + "/a", top + "/a/b"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
}

// An exec: destination whose program is missing, or not executable, is a bad
// spec: refused before any key is created.
TEST_F(RotateCliTest, AnExecDestinationThatCannotRunIsRefusedUpFront) {
  std::string old_key = NewUser("app");
  ASSERT_TRUE(AtomicWriteFile(dir_ + "/not-executable.sh", "#!/bin/sh\nexit 0\n", {0600, false}).ok());
  for (std::string spec : {"exec:" + dir_ + "/missing.sh", "exec:" + dir_ + "/not-executable.sh", "exec:" + dir_,
                           std::string("exec:keyrotor-no-such-program-on-path")}) {
    ProcessResult r = Run({"rotate", "--user", "app", "--force", "--to", spec});
    EXPECT_EQ(r.exit_code, 2) << spec << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(spec), std::string::npos) << r.err;
  }
  EXPECT_EQ(sb().KeyCount("app"), 1u);
  EXPECT_TRUE(sb().GetKey(old_key)->active);
}

// A notification that cannot be delivered (the topic does not exist yet) is
// shown, fails the run, and goes out on a later run.
TEST_F(RotateCliTest, AnOwedNotificationIsShownFailsTheRunAndIsDeliveredLater) {
  NewUser("app");
  const std::string topic = "arn:aws:sns:us-east-1:123456789012:not-yet";
  ProcessResult r = Run({"rotate", "--user", "app", "--to", "secretsmanager:apps/{user}", "--notify", "sns:" + topic});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("progressed"), std::string::npos) << r.out;  // the rotation itself went on
  EXPECT_NE(r.out.find("notification owed: key_created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sns:" + topic), std::string::npos) << r.out;  // which notifier failed
  EXPECT_EQ(sb().KeyCount("app"), 2u);

  // Still owed: said again, in JSON too, by a run with nothing else to do.
  r = Run({"rotate", "--user", "app", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["result"], "not_due");
  EXPECT_EQ(j["notifications_owed"], nlohmann::json::array({"key_created"})) << r.out;
  EXPECT_EQ(j["notification_failures"], 1) << r.out;

  ASSERT_EQ(*Admin().Sns()->CreateTopic("not-yet"), topic);
  r = Run({"rotate", "--user", "app", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["notifications_owed"], nlohmann::json::array()) << r.out;
  EXPECT_EQ(j["notification_failures"], 0) << r.out;
  ASSERT_EQ(sb().PublishedMessages(topic).size(), 1u);
  EXPECT_NE(sb().PublishedMessages(topic)[0].message.find("key_created"), std::string::npos);
  // Delivered once: a further run sends nothing.
  EXPECT_EQ(Run({"rotate", "--user", "app"}).exit_code, 0);
  EXPECT_EQ(sb().PublishedMessages(topic).size(), 1u);
  ExpectNoSecretInOutputs();
}

// The classic Lambda's three events, one after the other, twice.
TEST_F(RotateCliTest, ClassicEventsCreateDeactivateDelete) {
  std::string k0 = NewUser("legacy");
  nlohmann::json seed = {{"AccessKey", k0}, {"SecretKey", last_secret_.reveal()}};
  ASSERT_TRUE(Admin().SecretsManager()->CreateSecret("legacy", Secret(seed.dump()), RandomUuid()).ok());
  std::string topic = *Admin().Sns()->CreateTopic("legacy-keys");

  ProcessResult r = Run({"event", R"({"action": "create", "username": "legacy"})", "--sns-topic", topic});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string k1 = SecretKeyId("legacy");
  EXPECT_NE(k1, k0);
  EXPECT_EQ(SecretKeyId("legacy", "AWSPREVIOUS"), k0);
  EXPECT_TRUE(sb().GetKey(k0)->active);
  auto messages = sb().PublishedMessages(topic);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].message.find(k1), std::string::npos);

  // delete before deactivate: the AWSPREVIOUS key is still active, so it stays.
  r = Run({"event", R"({"action": "delete", "username": "legacy"})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(sb().GetKey(k0)->active);

  r = Run({"event", "-"}, R"({"action": "deactivate", "username": "legacy"})");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(sb().GetKey(k0)->active);
  r = Run({"event", R"({"action": "delete", "username": "legacy"})"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(sb().GetKey(k0));

  // The next cycle: the new key is rotated in turn. (keyrotor's own STS check
  // used k1; IAM dates uses to the second, so let that second pass, or the
  // last-used guard would rightly count it as use after the next hand-over.)
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  r = Run({"event", R"({"action": "create", "username": "legacy"})"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string k2 = SecretKeyId("legacy");
  EXPECT_NE(k2, k1);
  EXPECT_EQ(SecretKeyId("legacy", "AWSPREVIOUS"), k1);
  r = Run({"event", R"({"action": "deactivate", "username": "legacy"})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(sb().GetKey(k1)->active);
  EXPECT_TRUE(sb().GetKey(k2)->active);

  // A create while the previous rotation is still retiring its old key does
  // not start another one.
  r = Run({"event", R"({"action": "create", "username": "legacy"})"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(sb().KeyCount("legacy"), 2u);
  EXPECT_EQ(SecretKeyId("legacy"), k2);
  ExpectNoSecretInOutputs();
}

// The classic Lambda left the user at the two-key limit: current key Active,
// the secret's AWSPREVIOUS key Inactive. That key is the managed previous
// one, so it makes room; an Inactive key the secret does not name would not.
TEST_F(RotateCliTest, CreateEventMakesRoomWithTheSecretsPreviousKeyOnly) {
  std::string previous = NewUser("limit", 120);
  Secret previous_secret = last_secret_.Clone();
  auto current = sb().CreateUserWithKey("limit", Clock::Real()->Now() - std::chrono::hours(24 * 20));
  ASSERT_TRUE(current.ok());
  secrets_.push_back(current->secret.reveal());
  ASSERT_TRUE(Admin().Iam()->UpdateAccessKey("limit", previous, false).ok());
  auto sm = Admin().SecretsManager();
  ASSERT_TRUE(sm->CreateSecret("limit", Secret(nlohmann::json{{"AccessKey", previous}, {"SecretKey", previous_secret.reveal()}}.dump()),
                               RandomUuid())
                  .ok());
  ASSERT_TRUE(sm->PutSecretValue("limit",
                                 Secret(nlohmann::json{{"AccessKey", current->access_key_id},
                                                       {"SecretKey", current->secret.reveal()}}
                                            .dump()),
                                 RandomUuid())
                  .ok());
  ProcessResult r = Run({"event", R"({"action": "create", "username": "limit"})"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(sb().GetKey(previous));
  EXPECT_TRUE(sb().GetKey(current->access_key_id)->active);
  std::string fresh = SecretKeyId("limit");
  EXPECT_NE(fresh, current->access_key_id);
  EXPECT_EQ(SecretKeyId("limit", "AWSPREVIOUS"), current->access_key_id);
  EXPECT_EQ(sb().KeyCount("limit"), 2u);

  // An Inactive key the secret does not name is not deleted to make room.
  std::string stray = NewUser("stray", 120);
  auto other = sb().CreateUserWithKey("stray");
  ASSERT_TRUE(Admin().Iam()->UpdateAccessKey("stray", other->access_key_id, false).ok());
  r = Run({"event", R"({"action": "create", "username": "stray"})"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(other->access_key_id), std::string::npos) << r.out;
  EXPECT_EQ(sb().KeyCount("stray"), 2u);
  EXPECT_TRUE(sb().GetKey(stray)->active);
  ExpectNoSecretInOutputs();
}

// A key taken over from the classic flow that an application still uses is
// not deactivated by the deactivate event: the last-used guard defers it.
TEST_F(RotateCliTest, DeactivateEventDefersWhileTheOldKeyIsInUse) {
  std::string k0 = NewUser("busy");
  Secret s0 = last_secret_.Clone();
  nlohmann::json seed = {{"AccessKey", k0}, {"SecretKey", s0.reveal()}};
  ASSERT_TRUE(Admin().SecretsManager()->CreateSecret("busy", Secret(seed.dump()), RandomUuid()).ok());
  ASSERT_EQ(Run({"event", R"({"action": "create", "username": "busy"})"}).exit_code, 0);
  // Still in use after the hand-over.
  auto as_old = testing::SandboxClients(server_->endpoint(), &transport_, k0, s0);
  ASSERT_TRUE(as_old.Sts()->GetCallerIdentity().ok());
  ProcessResult r = Run({"event", R"({"action": "deactivate", "username": "busy"})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"result\":\"deferred\""), std::string::npos) << r.out;
  EXPECT_TRUE(sb().GetKey(k0)->active);
  ExpectNoSecretInOutputs();
}


// Every destination and notifier kind in one immediate rotation: each holds
// the same working key; the programs got the secret on stdin only; the
// webhook's signature checks out; no output carries a secret.
TEST_F(RotateCliTest, EveryDestinationAndNotifierEndToEnd) {
  std::string old_key = NewUser("full");
  std::string topic = *Admin().Sns()->CreateTopic("full");
  std::mutex mu;
  std::vector<aws::HttpRequest> hooks;
  auto receiver = net::HttpServer::Start({}, [&](const aws::HttpRequest& request, net::ResponseControl&) {
    std::lock_guard<std::mutex> lock(mu);
    hooks.push_back(request);
    aws::HttpResponse response;
    response.status = 204;
    return response;
  });
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE(AtomicWriteFile(dir_ + "/hook.key", "hmac-key-for-tests\n").ok());
  // The exec programs record what they were given: stdin, argv, environment.
  const std::string store = dir_ + "/store.sh";
  ASSERT_TRUE(AtomicWriteFile(store,
                              "#!/bin/sh\ncat > \"$0.stdin\"\necho \"$@\" > \"$0.argv\"\nenv > \"$0.env\"\n",
                              {0700, false})
                  .ok());
  const std::string hook = dir_ + "/hook.sh";
  ASSERT_TRUE(AtomicWriteFile(hook, "#!/bin/sh\ncat >> \"$0.events\"\necho >> \"$0.events\"\n", {0700, false}).ok());

  ProcessResult r = Run({"rotate", "--user", "full", "--mode", "immediate", "--json",
                         "--to", "secretsmanager:full/{user}", "--to", "ssm:/keys/{user}",
                         "--to", "vault:" + dir_ + "/vault", "--to", "credentials-file:" + dir_ + "/credentials#app",
                         "--to", "exec:" + store + " --account {account}",
                         "--notify", "sns:" + topic, "--notify", "webhook:" + (*receiver)->endpoint() + "/hook",
                         "--notify", "exec:" + hook, "--webhook-secret-file", dir_ + "/hook.key"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto outcome = nlohmann::json::parse(r.out);
  EXPECT_EQ(outcome["result"], "completed");
  std::string key_id = outcome["new_access_key_id"];
  EXPECT_FALSE(sb().GetKey(old_key));

  // Secrets Manager is the reference; every other destination holds the same.
  EXPECT_EQ(SecretKeyId("full/full"), key_id);
  const std::string secret = secrets_.back();
  auto ssm = nlohmann::json::parse(sb().ParameterValue("/keys/full")->reveal());
  EXPECT_EQ(ssm["AccessKey"], key_id);
  EXPECT_EQ(ssm["SecretKey"], secret);
  ProcessResult vault = Run({"vault", "get", dir_ + "/vault", "full", "--format", "json"});
  ASSERT_EQ(vault.exit_code, 0) << vault.err;
  auto v = nlohmann::json::parse(vault.out);
  EXPECT_EQ(v["AccessKeyId"], key_id);
  EXPECT_EQ(v["SecretAccessKey"], secret);
  outputs_.erase(outputs_.size() - vault.out.size() - vault.err.size());  // printing it is vault get's job
  auto creds = ReadFile(dir_ + "/credentials");
  ASSERT_TRUE(creds.ok());
  EXPECT_NE(creds->find(key_id), std::string::npos);
  EXPECT_NE(creds->find(secret), std::string::npos);
  auto doc = nlohmann::json::parse(*ReadFile(store + ".stdin"));
  EXPECT_EQ(doc["event"], "rotate");
  EXPECT_EQ(doc["access_key_id"], key_id);
  EXPECT_EQ(doc["secret_access_key"], secret);
  EXPECT_EQ(*ReadFile(store + ".argv"), "--account 123456789012\n");
  std::string child_env = *ReadFile(store + ".env");
  EXPECT_EQ(child_env.find(secret), std::string::npos);
  EXPECT_EQ(child_env.find(admin_.secret.reveal()), std::string::npos) << "admin secret passed to a child";
  auto as_new = testing::SandboxClients(server_->endpoint(), &transport_, key_id, Secret(secret));
  EXPECT_TRUE(as_new.Sts()->GetCallerIdentity().ok());

  // Notifications: key_created and old_key_deleted, by each channel.
  EXPECT_EQ(sb().PublishedMessages(topic).size(), 2u);
  std::string events = *ReadFile(hook + ".events");
  EXPECT_NE(events.find("\"key_created\""), std::string::npos);
  EXPECT_NE(events.find("\"old_key_deleted\""), std::string::npos);
  (*receiver)->Stop();
  ASSERT_EQ(hooks.size(), 2u);
  for (const auto& h : hooks) {
    const std::string* signature = aws::FindHeader(h.headers, "X-Keyrotor-Signature-256");
    const std::string* timestamp = aws::FindHeader(h.headers, "X-Keyrotor-Timestamp");
    const std::string* delivery = aws::FindHeader(h.headers, "X-Keyrotor-Delivery");
    ASSERT_TRUE(signature && timestamp && delivery);
    EXPECT_EQ(*signature,
              "sha256=" + HexEncode(HmacSha256("hmac-key-for-tests", *timestamp + "." + *delivery + "." + h.body)));
    EXPECT_EQ(h.body.find(secret), std::string::npos);
    for (const auto& m : sb().PublishedMessages(topic)) EXPECT_EQ(m.message.find(secret), std::string::npos);
  }
  EXPECT_EQ(events.find(secret), std::string::npos);
  ExpectNoSecretInOutputs();
}

}  // namespace
}  // namespace keyrotor
