// A fake GitHub REST API on 127.0.0.1 for the github: destinations' tests,
// faithful where keyrotor (or the gh CLI) could get GitHub wrong:
//  - each repository, environment and organization has a real curve25519 key
//    pair (crypto_box_keypair); GET .../secrets/public-key returns the public
//    half and a key_id; PUT .../secrets/NAME is opened with crypto_box_seal_open
//    and the plaintext kept for the test to read. A key_id that is not the
//    scope's current one is refused with 422, as is a value that does not open;
//  - tokens: "Authorization: Bearer T" or "token T" (gh sends the latter);
//    an unknown or expired token is 401 {"message":"Bad credentials",...};
//  - GitHub Apps: POST /app/installations/ID/access_tokens needs a JWT whose
//    RS256 signature verifies against the app's public key, with iss = the
//    app id, iat not in the future and exp after now, at most 10 minutes past
//    iat; it answers 201 {"token","expires_at"}; installation tokens expire
//    by the fake's clock;
//  - unknown repositories and organizations: 404 {"message":"Not Found",...};
//  - no User-Agent: 403; an X-GitHub-Api-Version other than 2022-11-28: 400;
//  - errors carry GitHub's shape {"message","documentation_url"}.
// Faults are queued by the test: a rate limit (403/429 with headers), any
// status, or a reset connection after a PUT was applied (unknown outcome).
//
// Paths may carry GitHub Enterprise Server's /api/v3 prefix (gh uses it for
// any host but github.com). With tls, the server speaks HTTPS with a
// self-signed certificate for 127.0.0.1 written to cert_path.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aws/http.h"
#include "base/clock.h"
#include "net/http_server.h"

namespace keyrotor::testing {

class FakeGithub {
 public:
  struct Options {
    bool tls = false;
    std::string cert_path;   // tls: the server's certificate (PEM) is written here
    Clock* clock = nullptr;  // expiry of installation tokens and JWTs; null: the real clock
    std::chrono::seconds installation_token_ttl{3600};
  };
  static std::unique_ptr<FakeGithub> Start(Options options);
  static std::unique_ptr<FakeGithub> Start() { return Start(Options{}); }
  ~FakeGithub();

  // "http://127.0.0.1:PORT" (or https://... with tls).
  std::string api_url() const;
  int port() const { return port_; }
  // "127.0.0.1:PORT", what GH_HOST names.
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  void AddToken(const std::string& token);
  void AddRepo(const std::string& owner, const std::string& repo);
  void AddEnvironment(const std::string& owner, const std::string& repo, const std::string& env);
  void AddOrg(const std::string& org);
  // Generates an RSA key for a GitHub App, keeps the public half and writes
  // the private key (PEM) to `private_key_path`.
  void AddApp(const std::string& app_id, const std::string& installation_id, const std::string& private_key_path);

  // The scope of a secret: "repos/O/R", "repos/O/R/environments/E", "orgs/O".
  struct StoredSecret {
    std::string value;       // decrypted
    std::string visibility;  // organizations
    int writes = 0;
  };
  std::optional<StoredSecret> Stored(const std::string& scope, const std::string& name) const;
  // A new key pair for the scope: the old key_id is refused from now on.
  void RotatePublicKey(const std::string& scope);
  std::string KeyId(const std::string& scope) const;
  // GitHub rotates a scope's key between a client's GET and its PUT: the next
  // PUT to `scope` finds a new key and its (old) key_id refused with 422.
  void RotatePublicKeyBeforeNextPut(const std::string& scope);
  // Every installation token minted so far stops working (401), as when an
  // App's token is revoked or expires before its expires_at.
  void RevokeInstallationTokens();

  // The next matching request (method "" = any; token mints never match a
  // fault unless method is "POST") is answered with this instead.
  struct Fault {
    std::string method;
    int status = 0;
    aws::HeaderList headers;
    std::string message;
    bool apply_then_reset = false;  // PUT: store the value, then reset the connection
  };
  void QueueFault(Fault fault);

  // Every request as "METHOD /path" (prefix stripped), and every header value
  // and body received, for leak checks.
  std::vector<std::string> requests() const;
  std::vector<std::string> authorizations() const;
  int tokens_minted() const;

 private:
  struct KeyPair {
    std::string key_id;
    std::string public_key;  // 32 bytes
    std::string secret_key;  // 32 bytes
  };
  struct App {
    std::string installation_id;
    void* public_key = nullptr;  // EVP_PKEY*
  };
  FakeGithub() = default;
  aws::HttpResponse Handle(const aws::HttpRequest& request, net::ResponseControl& control);
  aws::HttpResponse HandleLocked(const std::string& method, const std::string& path, const aws::HttpRequest& request,
                                 net::ResponseControl& control);
  aws::HttpResponse MintToken(const std::string& installation_id, const std::string& bearer);
  bool TokenValid(const std::string& bearer);
  KeyPair NewKeyPair();
  void TlsLoop();
  void ServeTls(int fd);
  TimePoint Now() const;

  Options options_;
  std::unique_ptr<net::HttpServer> http_;
  int port_ = 0;
  // tls
  int listen_fd_ = -1;
  void* ssl_ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread tls_thread_;
  std::mutex tls_threads_mu_;
  std::vector<std::thread> tls_threads_;

  mutable std::mutex mu_;
  int next_key_id_ = 1;
  std::vector<std::string> tokens_;
  std::map<std::string, TimePoint> installation_tokens_;
  std::map<std::string, App> apps_;
  std::map<std::string, KeyPair> keys_;  // by scope
  std::map<std::string, std::map<std::string, StoredSecret>> secrets_;
  std::vector<Fault> faults_;
  std::string rotate_before_put_;
  std::vector<std::string> requests_;
  std::vector<std::string> authorizations_;
  int tokens_minted_ = 0;
};

}  // namespace keyrotor::testing
