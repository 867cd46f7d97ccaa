#include "support/fake_github.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/crypto.h"
#include "base/strings.h"
#include "net/http_parser.h"

namespace keyrotor::testing {
namespace {

constexpr char kGithubDocs[] = "https://docs.github.com/rest";

aws::HttpResponse GithubJson(int status, const nlohmann::json& body, aws::HeaderList headers = {}) {
  aws::HttpResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  r.headers.emplace_back("X-GitHub-Request-Id", "FAKE:" + std::to_string(status));
  return r;
}

aws::HttpResponse GithubError(int status, const std::string& message, aws::HeaderList headers = {}) {
  return GithubJson(status, {{"message", message}, {"documentation_url", kGithubDocs}}, std::move(headers));
}

aws::HttpResponse GithubEmpty(int status) {
  aws::HttpResponse r;
  r.status = status;
  return r;
}

std::optional<std::string> GithubB64UrlDecode(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4) s += '=';
  return Base64Decode(s);
}

std::string FakeGithubBearer(const aws::HttpRequest& request) {
  const std::string* auth = aws::FindHeader(request.headers, "Authorization");
  if (!auth) return "";
  for (std::string_view scheme : {"Bearer ", "bearer ", "token "}) {
    if (StartsWith(*auth, scheme)) return auth->substr(scheme.size());
  }
  return "";
}

std::pair<EVP_PKEY*, X509*> FakeGithubCertificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fake github"), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  return {key, cert};
}

const char* GithubReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    default:
      return "Status";
  }
}

}  // namespace

std::unique_ptr<FakeGithub> FakeGithub::Start(Options options) {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
  auto fake = std::unique_ptr<FakeGithub>(new FakeGithub());
  fake->options_ = options;
  if (!options.tls) {
    Result<std::unique_ptr<net::HttpServer>> server = net::HttpServer::Start(
        {}, [f = fake.get()](const aws::HttpRequest& r, net::ResponseControl& c) { return f->Handle(r, c); });
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    fake->http_ = std::move(server).value();
    fake->port_ = fake->http_->port();
    return fake;
  }
  auto [key, cert] = FakeGithubCertificate();
  FILE* f = std::fopen(options.cert_path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + options.cert_path);
  PEM_write_X509(f, cert);
  std::fclose(f);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  fake->ssl_ctx_ = ctx;
  fake->listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fake->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fake->listen_fd_, 16) != 0) {
    throw std::runtime_error("FakeGithub: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fake->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  fake->port_ = ntohs(addr.sin_port);
  fake->tls_thread_ = std::thread([p = fake.get()] { p->TlsLoop(); });
  return fake;
}

FakeGithub::~FakeGithub() {
  if (http_) http_->Stop();
  stop_ = true;
  if (tls_thread_.joinable()) tls_thread_.join();
  {
    std::lock_guard<std::mutex> lock(tls_threads_mu_);
    for (std::thread& t : tls_threads_) t.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  for (auto& [id, app] : apps_) EVP_PKEY_free(static_cast<EVP_PKEY*>(app.public_key));
}

void FakeGithub::TlsLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(tls_threads_mu_);
    tls_threads_.emplace_back([this, fd] { ServeTls(fd); });
  }
}

// One TLS connection: requests parsed by the sandbox's parser, answered in
// order with keep-alive, until the peer closes, a read times out or the fake stops.
void FakeGithub::ServeTls(int fd) {
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
  SSL_set_fd(ssl, fd);
  int accepted = -1;
  for (int tries = 0; tries < 50 && !stop_; ++tries) {
    accepted = SSL_accept(ssl);
    if (accepted == 1) break;
    int err = SSL_get_error(ssl, accepted);
    if (err != SSL_ERROR_WANT_READ) break;
  }
  if (accepted == 1) {
    net::RequestParser parser;
    char buf[16384];
    std::string pending;
    int idle_ms = 0;
    bool open = true;
    while (open && !stop_ && idle_ms < 10000) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) {
        int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
          idle_ms += 200;
          continue;
        }
        break;
      }
      idle_ms = 0;
      pending.append(buf, static_cast<size_t>(n));
      while (!pending.empty()) {
        net::RequestParser::FeedResult fed = parser.Feed(pending);
        pending.erase(0, fed.consumed);
        if (fed.state == net::RequestParser::State::kNeedMore) break;
        if (fed.state == net::RequestParser::State::kError) {
          open = false;
          break;
        }
        net::ParsedRequest parsed = parser.TakeRequest();
        net::ResponseControl control;
        aws::HttpResponse r = Handle(parsed.request, control);
        if (control.reset_connection) {
          open = false;
          break;
        }
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + GithubReason(r.status) + "\r\n";
        for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
        out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
        SSL_write(ssl, out.data(), static_cast<int>(out.size()));
        if (!parsed.keep_alive) open = false;
      }
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(fd);
}

std::string FakeGithub::api_url() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

TimePoint FakeGithub::Now() const { return (options_.clock ? options_.clock : Clock::Real())->Now(); }

FakeGithub::KeyPair FakeGithub::NewKeyPair() {
  KeyPair k;
  k.public_key.resize(crypto_box_PUBLICKEYBYTES);
  k.secret_key.resize(crypto_box_SECRETKEYBYTES);
  crypto_box_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()),
                     reinterpret_cast<unsigned char*>(k.secret_key.data()));
  // GitHub's key ids are long decimal strings.
  k.key_id = "568250167242549" + std::to_string(100 + next_key_id_++);
  return k;
}

void FakeGithub::AddToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_.push_back(token);
}

void FakeGithub::AddRepo(const std::string& owner, const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_["repos/" + owner + "/" + repo] = NewKeyPair();
}

void FakeGithub::AddEnvironment(const std::string& owner, const std::string& repo, const std::string& env) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_["repos/" + owner + "/" + repo + "/environments/" + env] = NewKeyPair();
}

void FakeGithub::AddOrg(const std::string& org) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_["orgs/" + org] = NewKeyPair();
}

void FakeGithub::AddApp(const std::string& app_id, const std::string& installation_id,
                        const std::string& private_key_path) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  FILE* f = std::fopen(private_key_path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + private_key_path);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  std::lock_guard<std::mutex> lock(mu_);
  apps_[app_id] = App{installation_id, key};
}

std::optional<FakeGithub::StoredSecret> FakeGithub::Stored(const std::string& scope, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = secrets_.find(scope);
  if (s == secrets_.end()) return std::nullopt;
  auto n = s->second.find(name);
  if (n == s->second.end()) return std::nullopt;
  return n->second;
}

void FakeGithub::RotatePublicKey(const std::string& scope) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_[scope] = NewKeyPair();
}

std::string FakeGithub::KeyId(const std::string& scope) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(scope);
  return it == keys_.end() ? "" : it->second.key_id;
}

void FakeGithub::RotatePublicKeyBeforeNextPut(const std::string& scope) {
  std::lock_guard<std::mutex> lock(mu_);
  rotate_before_put_ = scope;
}

void FakeGithub::RevokeInstallationTokens() {
  std::lock_guard<std::mutex> lock(mu_);
  installation_tokens_.clear();
}

void FakeGithub::QueueFault(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

std::vector<std::string> FakeGithub::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> FakeGithub::authorizations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return authorizations_;
}

int FakeGithub::tokens_minted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_minted_;
}

aws::HttpResponse FakeGithub::Handle(const aws::HttpRequest& request, net::ResponseControl& control) {
  Result<aws::Url> url = aws::ParseUrl(request.url);
  std::string path = url.ok() ? url->path : "/";
  // GitHub Enterprise Server serves the REST API under /api/v3.
  if (StartsWith(path, "/api/v3/")) path = path.substr(7);
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(request.method + " " + path);
  if (const std::string* auth = aws::FindHeader(request.headers, "Authorization")) authorizations_.push_back(*auth);
  return HandleLocked(request.method, path, request, control);
}

bool FakeGithub::TokenValid(const std::string& bearer) {
  if (bearer.empty()) return false;
  if (std::find(tokens_.begin(), tokens_.end(), bearer) != tokens_.end()) return true;
  auto it = installation_tokens_.find(bearer);
  return it != installation_tokens_.end() && Now() < it->second;
}

// "Generating a JSON Web Token (JWT) for a GitHub App": RS256, iss = app id,
// iat in the past, exp no more than 10 minutes into the future.
aws::HttpResponse FakeGithub::MintToken(const std::string& installation_id, const std::string& bearer) {
  std::vector<std::string> parts = Split(bearer, '.');
  if (parts.size() != 3) return GithubError(401, "A JSON web token could not be decoded");
  std::optional<std::string> header = GithubB64UrlDecode(parts[0]);
  std::optional<std::string> payload = GithubB64UrlDecode(parts[1]);
  std::optional<std::string> signature = GithubB64UrlDecode(parts[2]);
  if (!header || !payload || !signature) return GithubError(401, "A JSON web token could not be decoded");
  nlohmann::json h = nlohmann::json::parse(*header, nullptr, false);
  nlohmann::json p = nlohmann::json::parse(*payload, nullptr, false);
  if (!h.is_object() || h.value("alg", "") != "RS256" || !p.is_object()) {
    return GithubError(401, "A JSON web token could not be decoded");
  }
  std::string iss = p.contains("iss") && p["iss"].is_string()   ? p["iss"].get<std::string>()
                    : p.contains("iss") && p["iss"].is_number() ? std::to_string(p["iss"].get<int64_t>())
                                                                : "";
  auto app = apps_.find(iss);
  if (app == apps_.end()) return GithubError(401, "'Issuer' claim ('iss') must be an Integer");
  const std::string signing_input = parts[0] + "." + parts[1];
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool verified =
      EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(app->second.public_key)) == 1 &&
      EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!verified) return GithubError(401, "A JSON web token could not be decoded");
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  if (!p.contains("iat") || !p["iat"].is_number_integer() || !p.contains("exp") || !p["exp"].is_number_integer()) {
    return GithubError(401, "Missing 'issued at' or 'expiration time' claim");
  }
  int64_t iat = p["iat"].get<int64_t>(), exp = p["exp"].get<int64_t>();
  if (iat > now)
    return GithubError(401, "'Issued at' claim ('iat') must be an Integer representing a time in the past");
  if (exp <= now)
    return GithubError(401,
                       "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
                       "the assertion expires");
  if (exp - iat > 600) return GithubError(401, "'Expiration time' claim ('exp') is too far in the future");
  if (app->second.installation_id != installation_id) return GithubError(404, "Not Found");
  std::string token = "ghs_" + HexEncode(RandomBytes(18));
  TimePoint expires = Now() + options_.installation_token_ttl;
  installation_tokens_[token] = expires;
  ++tokens_minted_;
  return GithubJson(201, {{"token", token},
                          {"expires_at", FormatIso8601(expires)},
                          {"permissions", {{"secrets", "write"}}},
                          {"repository_selection", "all"}});
}

aws::HttpResponse FakeGithub::HandleLocked(const std::string& method, const std::string& path,
                                           const aws::HttpRequest& request, net::ResponseControl& control) {
  const std::string bearer = FakeGithubBearer(request);
  bool apply_then_reset = false;
  // A queued fault answers in the request's place (token mints only when asked for by method).
  const bool mint = StartsWith(path, "/app/");
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((it->method.empty() && !mint) || it->method == method) {
      Fault fault = *it;
      faults_.erase(it);
      if (fault.apply_then_reset) {
        apply_then_reset = true;
        break;
      }
      return GithubError(fault.status, fault.message, fault.headers);
    }
  }
  // GitHub refuses a request without a User-Agent, and a version header it
  // does not know ("Getting started with the REST API", "API versions").
  if (aws::FindHeader(request.headers, "User-Agent") == nullptr) {
    return GithubError(
        403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header");
  }
  if (const std::string* version = aws::FindHeader(request.headers, "X-GitHub-Api-Version");
      version != nullptr && *version != "2022-11-28") {
    return GithubError(400, "Unsupported 'X-GitHub-Api-Version' header value '" + *version + "'");
  }
  std::vector<std::string> seg = Split(path.substr(1), '/');
  if (mint && method == "POST" && seg.size() == 4 && seg[1] == "installations" && seg[3] == "access_tokens") {
    return MintToken(seg[2], bearer);
  }
  if (!TokenValid(bearer)) return GithubError(401, "Bad credentials");
  // Scope and what follows ".../secrets/".
  std::string scope, rest;
  if (seg.size() >= 5 && seg[0] == "repos" && seg[3] == "actions" && seg[4] == "secrets") {
    scope = "repos/" + seg[1] + "/" + seg[2];
    rest = seg.size() == 6 ? seg[5] : "";
  } else if (seg.size() >= 6 && seg[0] == "repos" && seg[3] == "environments" && seg[5] == "secrets") {
    scope = "repos/" + seg[1] + "/" + seg[2] + "/environments/" + UriDecode(seg[4]);
    rest = seg.size() == 7 ? seg[6] : "";
  } else if (seg.size() >= 4 && seg[0] == "orgs" && seg[2] == "actions" && seg[3] == "secrets") {
    scope = "orgs/" + seg[1];
    rest = seg.size() == 5 ? seg[4] : "";
  } else {
    return GithubError(404, "Not Found");
  }
  auto key = keys_.find(scope);
  if (key == keys_.end() || rest.empty()) return GithubError(404, "Not Found");
  if (rest == "public-key" && method == "GET") {
    return GithubJson(200, {{"key_id", key->second.key_id}, {"key", Base64Encode(key->second.public_key)}});
  }
  if (method != "PUT") return GithubError(404, "Not Found");
  if (rotate_before_put_ == scope) {
    rotate_before_put_.clear();
    key->second = NewKeyPair();
  }
  // "Create or update a repository secret".
  std::string name = rest;
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                    !StartsWith(name, "GITHUB_") &&
                    std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  if (!valid_name)
    return GithubError(
        422, "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_).");
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("encrypted_value") || !body["encrypted_value"].is_string() ||
      !body.contains("key_id") || !body["key_id"].is_string()) {
    return GithubError(422, "Invalid request.\n\n\"encrypted_value\", \"key_id\" weren't supplied.");
  }
  if (body["key_id"].get<std::string>() != key->second.key_id) {
    return GithubError(422, "Bad request - key_id is not valid");
  }
  std::string visibility;
  if (StartsWith(scope, "orgs/")) {
    visibility = body.value("visibility", "");
    if (visibility != "all" && visibility != "private" && visibility != "selected") {
      return GithubError(
          422, "Invalid request.\n\nFor 'properties/visibility', is not one of [\"all\", \"private\", \"selected\"].");
    }
  }
  std::optional<std::string> sealed = Base64Decode(body["encrypted_value"].get<std::string>());
  if (!sealed || sealed->size() < crypto_box_SEALBYTES)
    return GithubError(422, "Bad request - encrypted_value is not valid");
  std::string plain(sealed->size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()),
                           reinterpret_cast<const unsigned char*>(sealed->data()), sealed->size(),
                           reinterpret_cast<const unsigned char*>(key->second.public_key.data()),
                           reinterpret_cast<const unsigned char*>(key->second.secret_key.data())) != 0) {
    return GithubError(422, "Bad request - encrypted_value could not be decrypted");
  }
  StoredSecret& stored = secrets_[scope][name];
  const bool created = stored.writes == 0;
  stored.value = plain;
  stored.visibility = visibility;
  ++stored.writes;
  if (apply_then_reset) control.reset_connection = true;
  // The OpenAPI description answers 201 with an "empty-object" document ({})
  // and 204 with no body; gh parses the 201's body and fails on an empty one.
  return created ? GithubJson(201, nlohmann::json::object()) : GithubEmpty(204);
}

}  // namespace keyrotor::testing
