// The libcurl transport against the project's loopback server.
#include "aws/curl_transport.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "net/http_server.h"
#include "support/fake_kubernetes.h"

namespace keyrotor::aws {
namespace {

// Options by field, so adding one does not touch every caller.
CurlTransportOptions TransportWith(std::string ca_bundle, EnvMap env, size_t max_idle_handles) {
  CurlTransportOptions o;
  o.ca_bundle = std::move(ca_bundle);
  o.env = std::move(env);
  o.max_idle_handles = max_idle_handles;
  return o;
}

std::unique_ptr<net::HttpServer> Serve(net::Handler handler) {
  auto server = net::HttpServer::Start({}, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return std::move(server).value();
}

HttpResponse Ok(std::string body) {
  HttpResponse r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

TEST(CurlTransportTest, ReusesConnectionsAcrossRequests) {
  auto server = Serve([](const HttpRequest& req, net::ResponseControl&) { return Ok("echo:" + req.body); });
  CurlTransport transport;
  for (int i = 0; i < 20; ++i) {
    HttpRequest req;
    req.url = server->endpoint() + "/";
    req.body = "n=" + std::to_string(i);
    auto r = transport.Send(req, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "echo:n=" + std::to_string(i));
  }
  EXPECT_EQ(server->connections_accepted(), 1u);
}

TEST(CurlTransportTest, ManyRequestsInFlightFromManyThreads) {
  // The server counts how many requests it holds at once: with a pool of
  // handles, 16 threads must be able to have far more than one in flight.
  std::atomic<int> in_flight{0}, max_in_flight{0};
  auto server = Serve([&](const HttpRequest&, net::ResponseControl&) {
    int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --in_flight;
    return Ok("x");
  });
  CurlTransport transport;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      HttpRequest req;
      req.url = server->endpoint() + "/";
      for (int i = 0; i < 5; ++i) ok += transport.Send(req, {}).ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_GE(max_in_flight.load(), 8);
}

TEST(CurlTransportTest, ResetIsAnUnknownOutcome) {
  auto server = Serve([](const HttpRequest&, net::ResponseControl& c) {
    c.reset_connection = true;
    return Ok("");
  });
  CurlTransport transport;
  HttpRequest req;
  req.url = server->endpoint() + "/";
  req.body = "Action=CreateAccessKey";
  auto r = transport.Send(req, {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnknownOutcome()) << r.status().ToString();
}

TEST(CurlTransportTest, TimeoutIsAnUnknownOutcome) {
  auto server = Serve([](const HttpRequest&, net::ResponseControl& c) {
    c.delay = std::chrono::milliseconds(2000);
    return Ok("late");
  });
  CurlTransport transport;
  HttpRequest req;
  req.url = server->endpoint() + "/";
  TransportOptions options;
  options.total_timeout = std::chrono::milliseconds(200);
  auto r = transport.Send(req, options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnknownOutcome()) << r.status().ToString();
}

TEST(CurlTransportTest, RefusedConnectionWasNeverSent) {
  // Bind a port and close it: nothing listens there.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  CurlTransport transport;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  auto r = transport.Send(req, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNetworkError) << r.status().ToString();
}

TEST(CurlTransportTest, PlainHttpToRemoteHostsIsRefusedBeforeSending) {
  CurlTransport transport;
  HttpRequest req;
  req.url = "http://iam.amazonaws.com/";
  auto r = transport.Send(req, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckUrlIsSafe(*ParseUrl("https://iam.amazonaws.com/")).ok());
  EXPECT_TRUE(CheckUrlIsSafe(*ParseUrl("http://localhost:4566/")).ok());
  EXPECT_FALSE(CheckUrlIsSafe(*ParseUrl("http://10.0.0.1:4566/")).ok());
  EXPECT_FALSE(CheckUrlIsSafe(*ParseUrl("http://169.254.169.253/")).ok());
}

// Instance metadata and container credentials speak plain http on
// link-local addresses: the providers' own requests, never a service
// endpoint or a webhook (which CheckUrlIsSafe vets).
TEST(CurlTransportTest, PlainHttpToMetadataAddressesIsNoServiceEndpoint) {
  for (const char* url : {"http://169.254.169.254/latest/api/token", "http://[fd00:ec2::254]/latest/api/token",
                          "http://169.254.170.2/v2/credentials/x", "http://169.254.170.23/v1/credentials",
                          "http://[fd00:ec2::23]/v1/credentials", "http://169.254.169.254:80/"}) {
    Status refused = CheckUrlIsSafe(*ParseUrl(url));
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(refused.message().find("instance-metadata address"), std::string::npos) << refused.message();
  }
  EXPECT_TRUE(CheckUrlIsSafe(*ParseUrl("https://169.254.169.254/")).ok());  // TLS verification decides
}

}  // namespace
}  // namespace keyrotor::aws

#include <filesystem>

#include "aws/retry.h"
#include "support/process.h"
#include "support/tls_server.h"

namespace keyrotor::aws {
namespace {

// TLS verification is always on: an unknown issuer fails, not retryably, and
// a CA bundle (AWS_CA_BUNDLE / ca_bundle) makes the same server trusted.
TEST(CurlTransportTlsTest, VerificationIsAlwaysOnAndCaBundleIsHonoured) {
  std::string dir = keyrotor::testing::MakeTempDir("keyrotor-tls");
  std::string ca = dir + "/ca.pem";
  auto server = keyrotor::testing::TlsServer::Start(ca);
  HttpRequest req;
  req.method = "GET";
  req.url = server->url();

  CurlTransport system_store;
  auto untrusted = system_store.Send(req, {});
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), StatusCode::kFailedPrecondition) << untrusted.status().ToString();
  EXPECT_EQ(Classify(untrusted.status(), true), RetryClass::kNone);

  CurlTransport with_bundle(TransportWith(ca, {}, 4));
  auto trusted = with_bundle.Send(req, {});
  ASSERT_TRUE(trusted.ok()) << trusted.status().ToString();
  EXPECT_EQ(trusted->status, 200);
  EXPECT_EQ(trusted->body, "ok");

  // The certificate names 127.0.0.1 and localhost only: another name fails.
  HttpRequest wrong_name;
  wrong_name.method = "GET";
  wrong_name.url = "https://127.0.0.2:" + std::to_string(server->port()) + "/";
  EXPECT_FALSE(with_bundle.Send(wrong_name, {}).ok());
  server.reset();
  std::filesystem::remove_all(dir);
}

// SSL_CERT_FILE is honoured as OpenSSL honours it; a CA bundle that does not
// exist is an error naming it, before anything is sent, never a silent
// fallback to no verification or to another store.
TEST(CurlTransportTlsTest, SslCertFileIsHonouredAndAMissingBundleIsNamed) {
  std::string dir = keyrotor::testing::MakeTempDir("keyrotor-tls");
  std::string ca = dir + "/ca.pem";
  auto server = keyrotor::testing::TlsServer::Start(ca);
  HttpRequest req;
  req.method = "GET";
  req.url = server->url();

  CurlTransport from_env(TransportWith("", {{"SSL_CERT_FILE", ca}}, 4));
  auto trusted = from_env.Send(req, {});
  ASSERT_TRUE(trusted.ok()) << trusted.status().ToString();
  EXPECT_EQ(trusted->body, "ok");

  CurlTransport missing(TransportWith(dir + "/no-such.pem", {}, 4));
  auto refused = missing.Send(req, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(dir + "/no-such.pem"), std::string::npos) << refused.status().message();
  EXPECT_EQ(server->handshakes_completed(), 1);

  // Plain http to loopback needs no certificates at all, even with a bad bundle.
  HttpRequest loopback;
  loopback.method = "GET";
  loopback.url = "http://127.0.0.1:1/";
  auto plain = missing.Send(loopback, {});
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), StatusCode::kNetworkError) << plain.status().ToString();
  server.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyrotor::aws

namespace keyrotor::aws {
namespace {

// A listener that records the first request line it receives, then hangs up.
class RecordingProxy {
 public:
  RecordingProxy() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 4);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[2048];
      ssize_t n = read(c, buf, sizeof buf);
      if (n > 0) {
        std::string text(buf, static_cast<size_t>(n));
        first_line_ = text.substr(0, text.find("\r\n"));
      }
      close(c);
    });
  }
  ~RecordingProxy() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  std::string first_line() {
    if (thread_.joinable()) thread_.join();
    return first_line_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string first_line_;
};

// Sets an environment variable for one scope (curl reads proxies from the process environment).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// In-memory PEM: a private CA (not the system's) and a client certificate,
// against the fake Kubernetes API server, which asks for client certificates.
TEST(CurlTransportTlsTest, InMemoryCaAndClientCertificate) {
  auto fake = testing::FakeKubernetes::Start();
  testing::FakeKubernetes::ClientCert cert = fake->IssueClientCert("alice");
  HttpRequest request;
  request.method = "GET";
  request.url = fake->server() + "/version";

  // The system's CAs do not know the fake's: refused, never downgraded.
  CurlTransport system_ca;
  Result<HttpResponse> untrusted = system_ca.Send(request, {});
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), StatusCode::kFailedPrecondition) << untrusted.status().ToString();

  // The CA as PEM: trusted; no client certificate, so the server knows no user.
  CurlTransportOptions ca_only;
  ca_only.ca_pem = fake->ca_pem();
  CurlTransport anonymous(ca_only);
  Result<HttpResponse> unauthenticated = anonymous.Send(request, {});
  ASSERT_TRUE(unauthenticated.ok()) << unauthenticated.status().ToString();
  EXPECT_EQ(unauthenticated->status, 401);

  // And a client certificate + key: authenticated as its CN.
  CurlTransportOptions with_cert = ca_only;
  with_cert.client_cert_pem = cert.cert_pem;
  with_cert.client_key_pem = Secret(cert.key_pem);
  CurlTransport authenticated(with_cert);
  Result<HttpResponse> ok = authenticated.Send(request, {});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(fake->users().back(), "alice");
}

TEST(CurlTransportProxyTest, HttpsProxyIsUsedForAwsButNeverForLoopback) {
  RecordingProxy proxy;
  ScopedEnv https_proxy("HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port()));
  ScopedEnv no_proxy("NO_PROXY", "sts.amazonaws.com");
  CurlTransport transport;
  HttpRequest req;
  req.url = "https://iam.amazonaws.com/";
  TransportOptions options;
  options.total_timeout = std::chrono::milliseconds(3000);
  EXPECT_FALSE(transport.Send(req, options).ok());  // the recording proxy hangs up
  EXPECT_EQ(proxy.first_line(), "CONNECT iam.amazonaws.com:443 HTTP/1.1");

  // A loopback endpoint is reached directly even with a proxy configured.
  auto server = Serve([](const HttpRequest&, net::ResponseControl&) { return Ok("direct"); });
  HttpRequest local;
  local.url = server->endpoint() + "/";
  auto r = transport.Send(local, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "direct");
}

}  // namespace
}  // namespace keyrotor::aws
