#include "destinations/kubernetes_destination.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "aws/curl_transport.h"
#include "base/crypto.h"
#include "base/environment.h"
#include "base/file_util.h"
#include "base/subprocess.h"
#include "support/fake_kubernetes.h"
#include "support/process.h"

namespace keyrotor::destinations {
namespace {

constexpr char kKubeAwsSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKUBEKEY01";
constexpr char kKubeToken[] = "eyKubeFakeTokenForKeyrotorTests0000000001";
constexpr char kKubeOtherToken[] = "kube-second-token-for-tests-0000000002";
constexpr char kKeyId[] = "AKIAIOSFODNN7KUBE001";

KeyHandoff KubeKey(const std::string& id = kKeyId, const std::string& rotation = "rot-kube-1") {
  KeyHandoff key;
  key.rotation_id = rotation;
  key.account = "123456789012";
  key.user = "app-deployer";
  key.access_key_id = id;
  key.secret_access_key = Secret(kKubeAwsSecret);
  key.created = ParseIso8601("2026-11-25T01:02:03Z").value();
  return key;
}

testing::FakeKubernetes::Fault KubeFault(std::string method, std::string path, int status = 0, std::string reason = "",
                                         bool apply_then_reset = false, bool concurrent_write = false) {
  testing::FakeKubernetes::Fault f;
  f.method = std::move(method);
  f.path_contains = std::move(path);
  f.status = status;
  f.reason = std::move(reason);
  f.apply_then_reset = apply_then_reset;
  f.concurrent_write = concurrent_write;
  return f;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

class KubernetesDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::FakeKubernetes::Options options;
    options.clock = &clock_;
    fake_ = testing::FakeKubernetes::Start(options);
    fake_->AddToken(kKubeToken, "keyrotor");
    fake_->AllowAll("keyrotor", "apps");
    dir_ = testing::MakeTempDir("kube-test");
    kubeconfig_ = dir_ + "/config";
    WriteKubeconfig(kubeconfig_, "  token: " + std::string(kKubeToken) + "\n");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A kubeconfig for the fake: cluster "fake" with the CA as data, user "u"
  // with `user_fields` (indented two spaces), context "fake" current.
  void WriteKubeconfig(const std::string& path, const std::string& user_fields,
                       const std::string& cluster_extra = "") {
    WriteText(path, "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " +
                        fake_->server() + "\n    certificate-authority-data: " + Base64Encode(fake_->ca_pem()) +
                        "\n" + cluster_extra + "users:\n- name: u\n  user:\n  " + user_fields +
                        "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\ncurrent-context: fake\n");
  }

  aws::ClientFactory Aws() {
    aws::ClientContext ctx;
    ctx.transport = &transport_;
    ctx.clock = &clock_;
    ctx.timeouts.total_timeout = std::chrono::milliseconds(5000);
    return aws::ClientFactory(ctx, "us-east-1", {}, {});
  }

  DestinationOptions Options() {
    DestinationOptions o;
    o.kubernetes_kubeconfig = kubeconfig_;
    return o;
  }

  std::unique_ptr<Destination> MakeOk(std::string_view spec, const DestinationOptions& options) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(spec, Aws(), options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  std::unique_ptr<Destination> MakeOk(std::string_view spec) { return MakeOk(spec, Options()); }

  std::map<std::string, std::string> Data(const std::string& ns, const std::string& name) {
    auto s = fake_->Secret(ns, name);
    return s ? s->data : std::map<std::string, std::string>{{"<none>", ""}};
  }

  // Neither the AWS secret nor a token nor a private key, in anything a person can read.
  void ExpectNoLeak(const std::string& text) {
    EXPECT_EQ(text.find(kKubeAwsSecret), std::string::npos) << text;
    EXPECT_EQ(text.find(kKubeToken), std::string::npos) << text;
    EXPECT_EQ(text.find(kKubeOtherToken), std::string::npos) << text;
    EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos) << text;
    EXPECT_EQ(text.find(Base64Encode(kKubeAwsSecret)), std::string::npos) << text;
  }
  void ExpectNoLeak(const Status& s) { ExpectNoLeak(s.ToString()); }

  FakeClock clock_{std::chrono::system_clock::now()};
  aws::CurlTransport transport_;
  std::unique_ptr<testing::FakeKubernetes> fake_;
  std::string dir_;
  std::string kubeconfig_;
};

TEST(KubernetesSpecTest, ParsesNamespaceNameKeyAndRestart) {
  Result<KubernetesTarget> t = ParseKubernetesSpec("apps/aws-creds");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->namespace_, "apps");
  EXPECT_EQ(t->name, "aws-creds");
  EXPECT_EQ(t->key, "");
  EXPECT_EQ(t->SecretPath(), "/api/v1/namespaces/apps/secrets/aws-creds");
  t = ParseKubernetesSpec("prod-1/app.creds#credentials.json?restart=web,worker");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->key, "credentials.json");
  EXPECT_EQ(t->deployments, (std::vector<std::string>{"web", "worker"}));
}

TEST_F(KubernetesDestinationTest, MalformedSpecsAreRefusedNamingTheSpec) {
  for (const char* spec :
       {"kubernetes:apps", "kubernetes:/name", "kubernetes:apps/", "kubernetes:Apps/name", "kubernetes:apps/Name",
        "kubernetes:apps/na_me", "kubernetes:-apps/name", "kubernetes:apps/name-", "kubernetes:apps/a..b",
        "kubernetes:apps/name#", "kubernetes:apps/name#bad key", "kubernetes:apps/name#a/b",
        "kubernetes:apps/name?restart=", "kubernetes:apps/name?restart=Web", "kubernetes:apps/name?kms_key_id=x",
        "kubernetes:a-namespace-name-that-is-longer-than-sixty-three-characters-0123456789/name"}) {
    Result<std::unique_ptr<Destination>> d = MakeDestination(spec, Aws(), Options());
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(d.status().message().find(spec), std::string::npos) << d.status().ToString();
    Result<std::vector<std::string>> req = DestinationRequirements(spec, Options());
    EXPECT_FALSE(req.ok()) << spec;
  }
  Result<std::unique_ptr<Destination>> unknown = MakeDestination("kube:apps/x", Aws(), Options());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("kubernetes"), std::string::npos) << unknown.status().ToString();
}

TEST_F(KubernetesDestinationTest, KubeconfigTokenTokenFileContextsAndCaFile) {
  Result<KubeCredentials> c = LoadKubeconfig(kubeconfig_, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, fake_->server());
  EXPECT_EQ(c->token.reveal(), kKubeToken);
  EXPECT_EQ(c->ca_pem, fake_->ca_pem());
  EXPECT_NE(c->source.find("context fake"), std::string::npos);

  // Two contexts; the one asked for wins over current-context. The CA as a
  // file and the token as a file, both relative to the kubeconfig.
  WriteText(dir_ + "/ca.crt", fake_->ca_pem());
  WriteText(dir_ + "/token", std::string(kKubeOtherToken) + "\n");
  const std::string two = dir_ + "/two";
  WriteText(two, "clusters:\n- name: a\n  cluster:\n    server: https://10.0.0.1:6443\n"
                 "- name: b\n  cluster:\n    server: " + fake_->server() + "/\n    certificate-authority: ca.crt\n"
                 "users:\n- name: ua\n  user:\n    token: x\n- name: ub\n  user:\n    tokenFile: token\n"
                 "contexts:\n- name: ctx-a\n  context: {cluster: a, user: ua}\n"
                 "- name: ctx-b\n  context: {cluster: b, user: ub, namespace: apps}\ncurrent-context: ctx-a\n");
  Result<KubeCredentials> b = LoadKubeconfig(two, "ctx-b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->server, fake_->server());  // the trailing slash dropped
  EXPECT_EQ(b->token.reveal(), kKubeOtherToken);
  EXPECT_EQ(b->ca_pem, fake_->ca_pem());
  Result<KubeCredentials> a = LoadKubeconfig(two, "");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->server, "https://10.0.0.1:6443");
  Result<KubeCredentials> missing = LoadKubeconfig(two, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no entry named 'nope'"), std::string::npos) << missing.status().ToString();

  // KUBECONFIG (first file of the list), then HOME/.kube/config.
  KubeSettings s;
  s.env = {{"KUBECONFIG", two + ":/nonexistent"}};
  s.context = "ctx-b";
  Result<KubeCredentials> env = LoadKubeCredentials(s);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->token.reveal(), kKubeOtherToken);
  std::filesystem::create_directories(dir_ + "/home/.kube");
  std::filesystem::copy_file(kubeconfig_, dir_ + "/home/.kube/config");
  s = KubeSettings{};
  s.env = {{"HOME", dir_ + "/home"}};
  Result<KubeCredentials> home = LoadKubeCredentials(s);
  ASSERT_TRUE(home.ok()) << home.status().ToString();
  EXPECT_EQ(home->token.reveal(), kKubeToken);
}

TEST_F(KubernetesDestinationTest, BadKubeconfigsAreRefusedNamingFileAndField) {
  struct Case {
    std::string text, expect;
  };
  const std::string server = "clusters:\n- name: c\n  cluster:\n    server: " + fake_->server() + "\n";
  const std::string ctx = "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
  std::vector<Case> cases = {
      {"clusters: [unclosed\n  token: " + std::string(kKubeToken), "not valid YAML"},
      {"- just\n- a list\n", "not a kubeconfig"},
      {server + "users:\n- name: u\n  user:\n    exec:\n      command: aws\n" + ctx,
       "users[u].user.exec: not supported; use a token or client certificate"},
      {server + "users:\n- name: u\n  user:\n    auth-provider:\n      name: gcp\n" + ctx,
       "auth-provider: not supported; use a token or client certificate"},
      {"clusters:\n- name: c\n  cluster:\n    server: " + fake_->server() +
           "\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: " + kKubeToken + "\n" + ctx,
       "clusters[c].cluster.insecure-skip-tls-verify"},
      {server + "users:\n- name: u\n  user:\n    token: " + std::string(kKubeToken) + "\n" +
           "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
       "current-context"},
      {server + "users:\n- name: u\n  user: {}\n" + ctx, "users[u].user: no credentials"},
      {server + "users:\n- name: u\n  user:\n    client-certificate-data: '!!notbase64'\n    client-key-data: eA==\n" + ctx,
       "client-certificate-data: not valid base64"},
      {server + "users:\n- name: u\n  user:\n    token: [a, b]\n" + ctx, "users[u].user.token: expected a string"},
      {"clusters:\n- name: c\n  cluster:\n    server: http://k8s.example.com\nusers:\n- name: u\n  user:\n    token: t\n" + ctx,
       "plain http"},
      {server + "users:\n- name: u\n  user:\n    tokenFile: missing-token\n" + ctx, "tokenFile"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string path = dir_ + "/bad" + std::to_string(i++);
    WriteText(path, c.text);
    DestinationOptions o = Options();
    o.kubernetes_kubeconfig = path;
    Result<std::unique_ptr<Destination>> d = MakeDestination("kubernetes:apps/creds", Aws(), o);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << d.status().ToString();
    EXPECT_NE(d.status().message().find(path), std::string::npos) << d.status().ToString();
    EXPECT_NE(d.status().message().find(c.expect), std::string::npos) << d.status().ToString();
    ExpectNoLeak(d.status());
  }
}

TEST_F(KubernetesDestinationTest, CreatesThenUpdatesKeepingOtherKeys) {
  auto d = MakeOk("kubernetes:apps/aws-creds");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->ReadsBack());
  EXPECT_EQ(d->Describe(), "kubernetes:apps/aws-creds");
  Status put = d->Put(KubeKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  auto s = fake_->Secret("apps", "aws-creds");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->data.at("AWS_ACCESS_KEY_ID"), kKeyId);
  EXPECT_EQ(s->data.at("AWS_SECRET_ACCESS_KEY"), kKubeAwsSecret);
  EXPECT_EQ(s->type, "Opaque");
  EXPECT_EQ(s->labels.at("app.kubernetes.io/managed-by"), "keyrotor");
  const std::string created_version = s->resource_version;

  // Idempotent: the same key again writes nothing.
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  EXPECT_EQ(fake_->Secret("apps", "aws-creds")->resource_version, created_version);

  // Someone adds a key; the next rotation keeps it.
  fake_->PutSecret("apps", "aws-creds",
                   {{"AWS_ACCESS_KEY_ID", kKeyId}, {"AWS_SECRET_ACCESS_KEY", kKubeAwsSecret}, {"REGION", "eu-west-1"}});
  ASSERT_TRUE(d->Put(KubeKey("AKIAIOSFODNN7KUBE002", "rot-kube-2")).ok());
  auto after = Data("apps", "aws-creds");
  EXPECT_EQ(after["AWS_ACCESS_KEY_ID"], "AKIAIOSFODNN7KUBE002");
  EXPECT_EQ(after["REGION"], "eu-west-1");

  // #KEY: one data key with the rendered template.
  auto one = MakeOk("kubernetes:apps/json-creds#credentials.json");
  ASSERT_TRUE(one->Put(KubeKey()).ok());
  nlohmann::json v = nlohmann::json::parse(Data("apps", "json-creds")["credentials.json"]);
  EXPECT_EQ(v["AccessKey"], kKeyId);
  EXPECT_EQ(v["SecretKey"], kKubeAwsSecret);
  EXPECT_EQ(Data("apps", "json-creds").size(), 1u);
}

TEST_F(KubernetesDestinationTest, ConcurrentModificationConflictIsRetriedAndConverges) {
  fake_->PutSecret("apps", "aws-creds", {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}, {"AWS_SECRET_ACCESS_KEY", "old"}});
  auto d = MakeOk("kubernetes:apps/aws-creds");
  // Between keyrotor's GET and PUT another writer updates the Secret: the
  // PUT's resourceVersion is stale, 409 Conflict; keyrotor reads again.
  fake_->QueueFault(KubeFault("PUT", "/secrets/aws-creds", 0, "", false, true));
  Status put = d->Put(KubeKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  auto data = Data("apps", "aws-creds");
  EXPECT_EQ(data["AWS_ACCESS_KEY_ID"], kKeyId);
  EXPECT_EQ(data["OTHER_WRITER"], "changed");  // the other writer's change survived
  std::vector<std::string> r = fake_->requests();
  EXPECT_EQ(std::count(r.begin(), r.end(), "PUT /api/v1/namespaces/apps/secrets/aws-creds"), 2);

  // A create racing another creator: 409 AlreadyExists -> GET + PUT.
  auto d2 = MakeOk("kubernetes:apps/raced");
  fake_->QueueFault(KubeFault("POST", "/secrets", 409, "AlreadyExists"));
  fake_->PutSecret("apps", "raced", {{"KEEP", "me"}});
  // The GET sees it (it exists now), so the race is simulated by the fault
  // only when the GET said 404: delete it and recreate between calls.
  ASSERT_TRUE(d2->Put(KubeKey()).ok());
  EXPECT_EQ(Data("apps", "raced")["KEEP"], "me");
  EXPECT_EQ(Data("apps", "raced")["AWS_ACCESS_KEY_ID"], kKeyId);
}

TEST_F(KubernetesDestinationTest, RestartAnnotatesDeploymentsOncePerRotation) {
  fake_->AddDeployment("apps", "web");
  fake_->AddDeployment("apps", "worker");
  auto d = MakeOk("kubernetes:apps/aws-creds?restart=web,worker");
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  for (const char* dep : {"web", "worker"}) {
    EXPECT_EQ(fake_->DeploymentAnnotation("apps", dep, "kubectl.kubernetes.io/restartedAt"), "2026-11-25T01:02:03Z");
    EXPECT_EQ(fake_->DeploymentGeneration("apps", dep), 2);
  }
  // Repeated after a crash: patched again with the same value, no second rollout.
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  EXPECT_EQ(fake_->DeploymentGeneration("apps", "web"), 2);
  // A restart that failed (the Deployment missing) fails Put, naming it;
  // the retried Put (Secret already written) restarts.
  auto missing = MakeOk("kubernetes:apps/aws-creds2?restart=api");
  Status put = missing->Put(KubeKey());
  EXPECT_EQ(put.code(), StatusCode::kNotFound) << put.ToString();
  EXPECT_NE(put.message().find("deployments.apps \"api\" not found"), std::string::npos) << put.ToString();
  fake_->AddDeployment("apps", "api");
  ASSERT_TRUE(missing->Put(KubeKey()).ok());
  EXPECT_EQ(fake_->DeploymentAnnotation("apps", "api", "kubectl.kubernetes.io/restartedAt"), "2026-11-25T01:02:03Z");
  // What kubectl sends: a strategic-merge patch.
  std::vector<std::string> r = fake_->requests();
  EXPECT_NE(std::find(r.begin(), r.end(), "PATCH /apis/apps/v1/namespaces/apps/deployments/web"), r.end());
}

TEST_F(KubernetesDestinationTest, SnapshotRestoreRoundTrip) {
  fake_->PutSecret("apps", "aws-creds",
                   {{"AWS_ACCESS_KEY_ID", "AKIAOLDKEY"}, {"AWS_SECRET_ACCESS_KEY", "old-secret"}, {"OTHER", "x"}});
  auto d = MakeOk("kubernetes:apps/aws-creds");
  Result<Secret> snap = d->Snapshot(KubeKey());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
  Status restored = d->Restore(KubeKey(), *snap);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  auto data = Data("apps", "aws-creds");
  EXPECT_EQ(data["AWS_ACCESS_KEY_ID"], "AKIAOLDKEY");
  EXPECT_EQ(data["AWS_SECRET_ACCESS_KEY"], "old-secret");
  EXPECT_EQ(data["OTHER"], "x");
  // Repeated: nothing to do.
  ASSERT_TRUE(d->Restore(KubeKey(), *snap).ok());

  // Created by keyrotor, nothing else in it: deleted.
  auto fresh = MakeOk("kubernetes:apps/new-creds");
  Result<Secret> none = fresh->Snapshot(KubeKey());
  ASSERT_TRUE(none.ok());
  ASSERT_TRUE(fresh->Put(KubeKey()).ok());
  ASSERT_TRUE(fake_->Secret("apps", "new-creds").has_value());
  ASSERT_TRUE(fresh->Restore(KubeKey(), *none).ok());
  EXPECT_FALSE(fake_->Secret("apps", "new-creds").has_value());
  ASSERT_TRUE(fresh->Restore(KubeKey(), *none).ok());  // gone: nothing to do

  // Created by keyrotor, but someone added a key since: only ours removed.
  ASSERT_TRUE(fresh->Put(KubeKey()).ok());
  fake_->PutSecret("apps", "new-creds",
                   {{"AWS_ACCESS_KEY_ID", kKeyId}, {"AWS_SECRET_ACCESS_KEY", kKubeAwsSecret}, {"THEIRS", "y"}});
  ASSERT_TRUE(fresh->Restore(KubeKey(), *none).ok());
  EXPECT_EQ(Data("apps", "new-creds"), (std::map<std::string, std::string>{{"THEIRS", "y"}}));

  // Superseded: a newer key, written by someone else, is not taken back.
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  fake_->PutSecret("apps", "aws-creds", {{"AWS_ACCESS_KEY_ID", "AKIANEWERKEY"}, {"AWS_SECRET_ACCESS_KEY", "newer"}});
  Status superseded = d->Restore(KubeKey(), *snap);
  EXPECT_EQ(superseded.code(), StatusCode::kFailedPrecondition) << superseded.ToString();
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], "AKIANEWERKEY");
  ExpectNoLeak(superseded);
}

TEST_F(KubernetesDestinationTest, UnknownOutcomeAfterPutConverges) {
  fake_->PutSecret("apps", "aws-creds", {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}, {"AWS_SECRET_ACCESS_KEY", "old"}});
  auto d = MakeOk("kubernetes:apps/aws-creds");
  // The PUT is applied, then the connection reset: keyrotor cannot know. Its
  // retry carries the old resourceVersion (409), so it reads again and finds its key.
  fake_->QueueFault(KubeFault("PUT", "/secrets/aws-creds", 0, "", true));
  Status put = d->Put(KubeKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
  // And a POST applied then reset: the retried create sees AlreadyExists, then GET finds it done.
  auto d2 = MakeOk("kubernetes:apps/fresh");
  fake_->QueueFault(KubeFault("POST", "/secrets", 0, "", true));
  ASSERT_TRUE(d2->Put(KubeKey()).ok());
  EXPECT_EQ(Data("apps", "fresh")["AWS_SECRET_ACCESS_KEY"], kKubeAwsSecret);
  // 5xx every time: UnknownOutcome after the bounded retries (each round
  // reads again), without real sleeps (the fake clock advances).
  const TimePoint before = clock_.Now();
  for (int i = 0; i < 20; ++i) {
    fake_->QueueFault(KubeFault("PUT", "/secrets/aws-creds", 500, "InternalError"));
  }
  Status failed = d->Put(KubeKey("AKIAIOSFODNN7KUBE003", "rot-3"));
  EXPECT_EQ(failed.code(), StatusCode::kUnknownOutcome) << failed.ToString();
  EXPECT_GT(clock_.Now(), before);
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
  ExpectNoLeak(failed);
}

TEST_F(KubernetesDestinationTest, ThrottlingHonoursRetryAfterOnTheClock) {
  auto d = MakeOk("kubernetes:apps/aws-creds");
  testing::FakeKubernetes::Fault throttled = KubeFault("GET", "/secrets/aws-creds", 429, "TooManyRequests");
  throttled.retry_after = 7;
  fake_->QueueFault(throttled);
  const TimePoint before = clock_.Now();
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  EXPECT_EQ(clock_.Now() - before, std::chrono::seconds(7));
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
  // A Retry-After longer than keyrotor waits: a transient error at once (nothing written).
  throttled.retry_after = 3600;
  fake_->QueueFault(throttled);
  Status refused = d->Put(KubeKey("AKIAIOSFODNN7KUBE009", "rot-9"));
  EXPECT_EQ(refused.code(), StatusCode::kNetworkError) << refused.ToString();
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
}

TEST_F(KubernetesDestinationTest, RestoreWithoutDeleteRightsEmptiesTheSecret) {
  fake_->AddToken(kKubeOtherToken, "nodelete");
  fake_->Allow("nodelete", {{"get", "create", "update"}, "secrets", "apps", {}});
  WriteKubeconfig(kubeconfig_, "  token: " + std::string(kKubeOtherToken) + "\n");
  auto d = MakeOk("kubernetes:apps/new-creds");
  Result<Secret> none = d->Snapshot(KubeKey());
  ASSERT_TRUE(none.ok());
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  Status restored = d->Restore(KubeKey(), *none);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  ASSERT_TRUE(fake_->Secret("apps", "new-creds").has_value());
  EXPECT_TRUE(fake_->Secret("apps", "new-creds")->data.empty());
  ASSERT_TRUE(d->Restore(KubeKey(), *none).ok());  // repeated: nothing to do
}

TEST_F(KubernetesDestinationTest, ExpiredTokenAndForbiddenAreClearAndLeakNothing) {
  // The token expires mid-run: Snapshot works, the hour passes, Put is refused.
  fake_->AddToken(kKubeToken, "keyrotor", clock_.Now() + std::chrono::hours(1));
  auto d = MakeOk("kubernetes:apps/aws-creds");
  ASSERT_TRUE(d->Snapshot(KubeKey()).ok());
  clock_.Advance(std::chrono::hours(2));
  Status expired = d->Put(KubeKey());
  EXPECT_EQ(expired.code(), StatusCode::kPermissionDenied) << expired.ToString();
  EXPECT_NE(expired.message().find("401"), std::string::npos) << expired.ToString();
  EXPECT_NE(expired.message().find("invalid or expired"), std::string::npos) << expired.ToString();
  ExpectNoLeak(expired);

  // A token that may read but not update: the apiserver's 403 message, quoted.
  fake_->AddToken(kKubeOtherToken, "reader");
  fake_->Allow("reader", {{"get"}, "secrets", "apps", {}});
  fake_->PutSecret("apps", "aws-creds", {{"AWS_ACCESS_KEY_ID", "AKIAOLD"}});
  WriteKubeconfig(kubeconfig_, "  token: " + std::string(kKubeOtherToken) + "\n");
  auto reader = MakeOk("kubernetes:apps/aws-creds");
  Status denied = reader->Put(KubeKey());
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied) << denied.ToString();
  EXPECT_NE(denied.message().find("secrets \"aws-creds\" is forbidden: User \"reader\" cannot update resource "
                                  "\"secrets\" in API group \"\" in the namespace \"apps\""),
            std::string::npos)
      << denied.ToString();
  ExpectNoLeak(denied);
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], "AKIAOLD");
}

TEST_F(KubernetesDestinationTest, TokenFileIsReadAgainAfter401) {
  // A projected service-account token rotates on disk: after a 401 the file is read again.
  WriteText(dir_ + "/sa-token", kKubeToken);
  WriteKubeconfig(kubeconfig_, "  tokenFile: sa-token\n");
  auto d = MakeOk("kubernetes:apps/aws-creds");
  fake_->ExpireToken(kKubeToken);
  fake_->AddToken(kKubeOtherToken, "keyrotor");
  WriteText(dir_ + "/sa-token", std::string(kKubeOtherToken) + "\n");
  Status put = d->Put(KubeKey());
  ASSERT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
}

TEST_F(KubernetesDestinationTest, InClusterServiceAccount) {
  const std::string sa = dir_ + "/serviceaccount";
  std::filesystem::create_directories(sa);
  WriteText(sa + "/token", kKubeToken);
  WriteText(sa + "/ca.crt", fake_->ca_pem());
  DestinationOptions o;
  o.kubernetes_service_account_dir = sa;
  o.kubernetes_env = {{"KUBERNETES_SERVICE_HOST", "127.0.0.1"},
                      {"KUBERNETES_SERVICE_PORT", fake_->server().substr(fake_->server().rfind(':') + 1)},
                      {"HOME", dir_ + "/nohome"}};
  auto d = MakeOk("kubernetes:apps/aws-creds", o);
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_SECRET_ACCESS_KEY"], kKubeAwsSecret);
  // Without the env, it falls back to a kubeconfig, and says so when there is none.
  o.kubernetes_env = {{"HOME", dir_ + "/nohome"}};
  Result<std::unique_ptr<Destination>> none = MakeDestination("kubernetes:apps/aws-creds", Aws(), o);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find(dir_ + "/nohome/.kube/config"), std::string::npos) << none.status().ToString();
  // Env set but no token file: not in a cluster, and the kubeconfig is missing too.
  o.kubernetes_env = {{"KUBERNETES_SERVICE_HOST", "127.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "1"}};
  o.kubernetes_service_account_dir = dir_ + "/empty";
  Result<std::unique_ptr<Destination>> no_files = MakeDestination("kubernetes:apps/aws-creds", Aws(), o);
  ASSERT_FALSE(no_files.ok());
}

TEST_F(KubernetesDestinationTest, ClientCertificateAuthentication) {
  testing::FakeKubernetes::ClientCert cert = fake_->IssueClientCert("cert-user");
  fake_->AllowAll("cert-user", "apps");
  WriteKubeconfig(kubeconfig_, "  client-certificate-data: " + Base64Encode(cert.cert_pem) +
                                   "\n    client-key-data: " + Base64Encode(cert.key_pem) + "\n");
  auto d = MakeOk("kubernetes:apps/aws-creds");
  ASSERT_TRUE(d->Put(KubeKey()).ok());
  EXPECT_EQ(Data("apps", "aws-creds")["AWS_ACCESS_KEY_ID"], kKeyId);
  EXPECT_EQ(fake_->users().back(), "cert-user");

  // Files, relative to the kubeconfig.
  WriteText(dir_ + "/client.crt", cert.cert_pem);
  WriteText(dir_ + "/client.key", cert.key_pem);
  WriteKubeconfig(kubeconfig_, "  client-certificate: client.crt\n    client-key: client.key\n");
  ASSERT_TRUE(MakeOk("kubernetes:apps/other")->Put(KubeKey()).ok());

  // A certificate the cluster's client CA did not sign: refused in the handshake.
  testing::FakeKubernetes::ClientCert rogue = testing::FakeKubernetes::SelfSignedClientCert("cert-user");
  WriteKubeconfig(kubeconfig_, "  client-certificate-data: " + Base64Encode(rogue.cert_pem) +
                                   "\n    client-key-data: " + Base64Encode(rogue.key_pem) + "\n");
  Status refused = MakeOk("kubernetes:apps/third")->Put(KubeKey());
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(fake_->Secret("apps", "third").has_value());
  ExpectNoLeak(refused);
  EXPECT_EQ(refused.ToString().find(rogue.key_pem.substr(40, 40)), std::string::npos);
}

TEST_F(KubernetesDestinationTest, CheckAccessAsksSelfSubjectAccessReview) {
  fake_->AddDeployment("apps", "web");
  auto d = MakeOk("kubernetes:apps/aws-creds?restart=web");
  Result<std::string> ok = d->CheckAccess();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE(ok->find("secrets get aws-creds, secrets create, secrets update aws-creds, deployments patch web"),
            std::string::npos)
      << *ok;
  EXPECT_FALSE(fake_->Secret("apps", "aws-creds").has_value());  // nothing written

  fake_->AddToken(kKubeOtherToken, "narrow");
  fake_->Allow("narrow", {{"get", "update"}, "secrets", "apps", {"aws-creds"}});
  WriteKubeconfig(kubeconfig_, "  token: " + std::string(kKubeOtherToken) + "\n");
  Result<std::string> denied = MakeOk("kubernetes:apps/aws-creds?restart=web")->CheckAccess();
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("may not: secrets create, deployments patch web"), std::string::npos)
      << denied.status().ToString();
  ExpectNoLeak(denied.status());
}

TEST_F(KubernetesDestinationTest, RequirementsNameTheRbacRule) {
  Result<std::vector<std::string>> r = DestinationRequirements("kubernetes:apps/aws-creds?restart=web,worker", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_NE((*r)[0].find("Kubernetes RBAC in namespace apps: secrets get, create, update"), std::string::npos)
      << (*r)[0];
  EXPECT_NE((*r)[0].find("resourceNames aws-creds"), std::string::npos) << (*r)[0];
  EXPECT_NE((*r)[1].find("deployments (API group apps) patch (web, worker)"), std::string::npos) << (*r)[1];
}

// kubectl, a real client, reads what keyrotor wrote from the fake and
// restarts a Deployment through it: the fake answers these calls as an API
// server does (discovery, Secret JSON, strategic-merge patch).
TEST_F(KubernetesDestinationTest, KubectlReadsWhatKeyrotorWrote) {
  Result<std::string> kubectl = FindExecutable("kubectl", ProcessEnvironment());
  ASSERT_TRUE(kubectl.ok()) << "kubectl is a test dependency (scripts/install-deps): " << kubectl.status().ToString();
  fake_->AddDeployment("apps", "web");
  ASSERT_TRUE(MakeOk("kubernetes:apps/aws-creds")->Put(KubeKey()).ok());
  const std::map<std::string, std::string> env = {{"HOME", dir_}, {"PATH", "/usr/bin:/bin"}};
  testing::ProcessResult get = testing::RunProcess(
      {*kubectl, "--kubeconfig", kubeconfig_, "get", "secret", "aws-creds", "-n", "apps", "-o", "json"}, env, 60);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  nlohmann::json secret = nlohmann::json::parse(get.out, nullptr, false);
  ASSERT_TRUE(secret.is_object()) << get.out.substr(0, 200);
  EXPECT_EQ(secret["kind"], "Secret");
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_EQ(secret["metadata"]["labels"]["app.kubernetes.io/managed-by"], "keyrotor");
  EXPECT_EQ(Base64Decode(secret["data"]["AWS_ACCESS_KEY_ID"].get<std::string>()).value_or(""), kKeyId);
  EXPECT_EQ(Base64Decode(secret["data"]["AWS_SECRET_ACCESS_KEY"].get<std::string>()).value_or(""), kKubeAwsSecret);

  testing::ProcessResult restart = testing::RunProcess(
      {*kubectl, "--kubeconfig", kubeconfig_, "rollout", "restart", "deployment/web", "-n", "apps"}, env, 60);
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  const std::string at = fake_->DeploymentAnnotation("apps", "web", "kubectl.kubernetes.io/restartedAt");
  // kubectl writes time.Now() in RFC 3339, as keyrotor does: 2026-11-25T01:02:03Z or with an offset.
  ASSERT_GE(at.size(), 20u) << at;
  EXPECT_EQ(at[4], '-');
  EXPECT_EQ(at[10], 'T');
  EXPECT_EQ(fake_->DeploymentGeneration("apps", "web"), 2);
  // What kubectl asked: discovery, the Secret, and the Deployment's GET + PATCH.
  std::vector<std::string> r = fake_->requests();
  std::string all;
  for (const std::string& line : r) all += line + "\n";
  for (const char* expected : {"GET /api/v1/namespaces/apps/secrets/aws-creds",
                               "PATCH /apis/apps/v1/namespaces/apps/deployments/web"}) {
    EXPECT_NE(std::find(r.begin(), r.end(), expected), r.end()) << expected << " not in:\n" << all;
  }
  if (std::getenv("KEYROTOR_SHOW_KUBECTL_REQUESTS")) std::cerr << all;
}

}  // namespace
}  // namespace keyrotor::destinations
