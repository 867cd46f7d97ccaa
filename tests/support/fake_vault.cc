#include "support/fake_vault.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "base/crypto.h"
#include "base/strings.h"
#include "net/http_parser.h"

namespace keyrotor::testing {
namespace {

using nlohmann::json;

// Every Vault answer carries this envelope ("HTTP API", responses).
json VaultEnvelope(json data, json auth = nullptr) {
  return {{"request_id", HexEncode(RandomBytes(8))},
          {"lease_id", ""},
          {"renewable", false},
          {"lease_duration", 0},
          {"data", std::move(data)},
          {"wrap_info", nullptr},
          {"warnings", nullptr},
          {"auth", std::move(auth)}};
}

aws::HttpResponse VaultJson(int status, const json& body) {
  aws::HttpResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

aws::HttpResponse VaultError(int status, std::vector<std::string> errors) {
  return VaultJson(status, {{"errors", errors}});
}

aws::HttpResponse VaultDenied() { return VaultError(403, {"permission denied"}); }

aws::HttpResponse VaultNoContent() {
  aws::HttpResponse r;
  r.status = 204;
  return r;
}

std::string B64Url(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

std::optional<std::string> B64UrlDecode(std::string s) {
  std::replace(s.begin(), s.end(), '-', '+');
  std::replace(s.begin(), s.end(), '_', '/');
  while (s.size() % 4) s += '=';
  return Base64Decode(s);
}

// Vault's policy globs ("Policies", "Policy syntax"): '+' stands for one
// path segment, a trailing '*' for any suffix.
bool GlobMatch(std::string_view pattern, std::string_view path) {
  while (!pattern.empty()) {
    if (pattern == "*") return true;
    if (pattern.front() == '+') {
      size_t seg = path.find('/');
      size_t len = seg == std::string_view::npos ? path.size() : seg;
      if (len == 0) return false;
      pattern.remove_prefix(1);
      path.remove_prefix(len);
      continue;
    }
    if (path.empty() || pattern.front() != path.front()) return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
  }
  return path.empty();
}

std::pair<EVP_PKEY*, X509*> VaultCertificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fake vault"), -1, -1,
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

const char* VaultReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string QueryValue(const std::string& query, const std::string& name) {
  for (const std::string& param : Split(query, '&')) {
    size_t eq = param.find('=');
    if (param.substr(0, eq) == name) return eq == std::string::npos ? "" : UriDecode(param.substr(eq + 1));
  }
  return "";
}

}  // namespace

std::unique_ptr<FakeVault> FakeVault::Start(Options options) {
  auto fake = std::unique_ptr<FakeVault>(new FakeVault());
  fake->options_ = options;
  fake->mounts_[""];  // the root namespace
  if (!options.tls) {
    Result<std::unique_ptr<net::HttpServer>> server = net::HttpServer::Start(
        {}, [f = fake.get()](const aws::HttpRequest& r, net::ResponseControl& c) { return f->Handle(r, c); });
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    fake->http_ = std::move(server).value();
    fake->port_ = fake->http_->port();
    return fake;
  }
  auto [key, cert] = VaultCertificate();
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
    throw std::runtime_error("FakeVault: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fake->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  fake->port_ = ntohs(addr.sin_port);
  fake->tls_thread_ = std::thread([p = fake.get()] { p->TlsLoop(); });
  return fake;
}

FakeVault::~FakeVault() {
  if (http_) http_->Stop();
  stop_ = true;
  if (tls_thread_.joinable()) tls_thread_.join();
  {
    std::lock_guard<std::mutex> lock(tls_threads_mu_);
    for (std::thread& t : tls_threads_) t.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(k8s_key_));
}

void FakeVault::TlsLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(tls_threads_mu_);
    tls_threads_.emplace_back([this, fd] { ServeTls(fd); });
  }
}

// One TLS connection, keep-alive, requests parsed by the sandbox's parser.
void FakeVault::ServeTls(int fd) {
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
  SSL_set_fd(ssl, fd);
  int accepted = -1;
  for (int tries = 0; tries < 50 && !stop_; ++tries) {
    accepted = SSL_accept(ssl);
    if (accepted == 1 || SSL_get_error(ssl, accepted) != SSL_ERROR_WANT_READ) break;
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
      while (open && !pending.empty()) {
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
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + VaultReason(r.status) + "\r\n";
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

std::string FakeVault::addr() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

TimePoint FakeVault::Now() const { return (options_.clock ? options_.clock : Clock::Real())->Now(); }
std::string FakeVault::NowText() const { return FormatIso8601(Now()); }

void FakeVault::AddPolicy(const std::string& name, std::vector<Rule> rules) {
  std::lock_guard<std::mutex> lock(mu_);
  policies_[name] = std::move(rules);
}

void FakeVault::AddToken(const std::string& token, std::vector<std::string> policies, std::chrono::seconds ttl,
                         const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  Token t{std::move(policies), ns, std::nullopt, false};
  if (ttl.count() > 0) t.expires = Now() + ttl;
  tokens_[token] = std::move(t);
}

void FakeVault::AddNamespace(const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  mounts_[ns];
}

void FakeVault::AddKvMount(const std::string& ns, const std::string& mount, bool cas_required) {
  std::lock_guard<std::mutex> lock(mu_);
  mounts_[ns][mount].cas_required = cas_required;
}

void FakeVault::AddAppRole(const std::string& role_id, const std::string& secret_id, std::vector<std::string> policies,
                           std::chrono::seconds ttl, const std::string& mount) {
  std::lock_guard<std::mutex> lock(mu_);
  approles_[mount][role_id] = Login{secret_id, std::move(policies), ttl};
}

void FakeVault::AddKubernetesRole(const std::string& role, const std::string& sa_namespace, const std::string& sa_name,
                                  std::vector<std::string> policies, std::chrono::seconds ttl,
                                  const std::string& mount) {
  std::lock_guard<std::mutex> lock(mu_);
  k8s_roles_[mount][role] = Login{sa_namespace + "/" + sa_name, std::move(policies), ttl};
}

// A bound service-account token as the kubelet projects it: RS256, signed
// by the cluster's key, iss / sub / aud / exp and the kubernetes.io claims.
std::string FakeVault::IssueServiceAccountJwt(const std::string& sa_namespace, const std::string& sa_name,
                                              std::chrono::seconds valid_for) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  json claims = {{"iss", options_.kubernetes_issuer},
                 {"sub", "system:serviceaccount:" + sa_namespace + ":" + sa_name},
                 {"aud", {"https://kubernetes.default.svc.cluster.local"}},
                 {"iat", now},
                 {"nbf", now},
                 {"exp", now + valid_for.count()},
                 {"kubernetes.io", {{"namespace", sa_namespace}, {"serviceaccount", {{"name", sa_name}, {"uid", "0f1e"}}}}}};
  std::string input = B64Url(R"({"alg":"RS256","kid":"fake-cluster"})") + "." + B64Url(claims.dump());
  std::lock_guard<std::mutex> lock(mu_);
  // Made at first use: an RSA key takes a while, and most tests need none.
  if (k8s_key_ == nullptr) k8s_key_ = EVP_RSA_gen(2048);
  EVP_PKEY* key = static_cast<EVP_PKEY*>(k8s_key_);
  std::string sig(static_cast<size_t>(EVP_PKEY_get_size(key)), '\0');
  size_t sig_len = sig.size();
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(md);
  sig.resize(sig_len);
  return input + "." + B64Url(sig);
}

std::optional<json> FakeVault::Data(const std::string& ns, const std::string& mount, const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto n = mounts_.find(ns);
  if (n == mounts_.end()) return std::nullopt;
  auto m = n->second.find(mount);
  if (m == n->second.end()) return std::nullopt;
  auto s = m->second.secrets.find(path);
  if (s == m->second.secrets.end() || s->second.versions.empty()) return std::nullopt;
  const Version& v = s->second.versions.back();
  if (!v.deletion_time.empty() || v.destroyed) return std::nullopt;
  return v.data;
}

int64_t FakeVault::CurrentVersion(const std::string& ns, const std::string& mount, const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto n = mounts_.find(ns);
  if (n == mounts_.end()) return 0;
  auto m = n->second.find(mount);
  if (m == n->second.end()) return 0;
  auto s = m->second.secrets.find(path);
  return s == m->second.secrets.end() ? 0 : static_cast<int64_t>(s->second.versions.size());
}

FakeVault::Version& FakeVault::NewVersion(Kv& kv, json data) {
  if (kv.versions.empty()) kv.created_time = NowText();
  kv.versions.push_back(Version{std::move(data), NowText(), "", false});
  return kv.versions.back();
}

void FakeVault::Write(const std::string& ns, const std::string& mount, const std::string& path, json data) {
  std::lock_guard<std::mutex> lock(mu_);
  NewVersion(mounts_[ns][mount].secrets[path], std::move(data));
}

void FakeVault::WriteBeforeNextWrite(const std::string& ns, const std::string& mount, const std::string& path,
                                     json data) {
  std::lock_guard<std::mutex> lock(mu_);
  before_next_write_[ns + "|" + mount + "|" + path] = std::move(data);
}

void FakeVault::QueueFault(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

std::vector<std::string> FakeVault::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

bool FakeVault::all_marked_vault_request() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_marked_;
}

int FakeVault::logins() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logins_;
}

void FakeVault::ExpireLoginTokens() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, token] : tokens_) {
    if (token.from_login) token.expires = Now();
  }
}

json FakeVault::Metadata(const Kv& kv, size_t index) const {
  const Version& v = kv.versions[index];
  return {{"created_time", v.created_time},
          {"custom_metadata", nullptr},
          {"deletion_time", v.deletion_time},
          {"destroyed", v.destroyed},
          {"version", static_cast<int64_t>(index + 1)}};
}

// The capabilities `token` has on `path` in namespace `ns`. Policies are
// merged (the same path's capabilities unite); an exact path beats a glob,
// a longer glob a shorter one; "deny" takes everything away.
std::vector<std::string> FakeVault::Capabilities(const Token& token, const std::string& ns,
                                                 const std::string& path) const {
  if (std::find(token.policies.begin(), token.policies.end(), "root") != token.policies.end()) return {"root"};
  // Policy paths are relative to the token's own namespace.
  std::string full = path;
  if (ns != token.ns) full = (token.ns.empty() ? ns : ns.substr(token.ns.size() + 1)) + "/" + path;
  std::map<std::string, std::vector<std::string>> merged;
  for (const std::string& name : token.policies) {
    auto p = policies_.find(name);
    if (p == policies_.end()) continue;
    for (const Rule& rule : p->second) {
      auto& caps = merged[rule.path];
      for (const std::string& c : rule.capabilities) {
        if (std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
      }
    }
  }
  const std::vector<std::string>* best = nullptr;
  size_t best_len = 0;
  bool best_exact = false;
  for (const auto& [pattern, caps] : merged) {
    bool glob = pattern.find_first_of("*+") != std::string::npos;
    if (!GlobMatch(pattern, full)) continue;
    size_t len = pattern.size();
    if (!best || (!glob && !best_exact) || (glob == !best_exact && len > best_len)) {
      best = &caps;
      best_len = len;
      best_exact = !glob;
    }
  }
  if (!best || std::find(best->begin(), best->end(), "deny") != best->end()) return {"deny"};
  std::vector<std::string> out = *best;
  std::sort(out.begin(), out.end());
  return out;
}

aws::HttpResponse FakeVault::Handle(const aws::HttpRequest& request, net::ResponseControl& control) {
  Result<aws::Url> url = aws::ParseUrl(request.url);
  std::string path = url.ok() ? url->path : "/";
  std::string query = url.ok() ? url->query : "";
  std::string ns;
  if (const std::string* h = aws::FindHeader(request.headers, "X-Vault-Namespace")) ns = *h;
  while (!ns.empty() && ns.back() == '/') ns.pop_back();
  while (!ns.empty() && ns.front() == '/') ns.erase(0, 1);
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(request.method + " " + path + (ns.empty() ? "" : " ns=" + ns));
  const std::string* marked = aws::FindHeader(request.headers, "X-Vault-Request");
  if (!marked || *marked != "true") all_marked_ = false;
  if (!StartsWith(path, "/v1/")) return VaultError(404, {});
  return HandleLocked(request.method, path.substr(4), query, ns, request, control);
}

aws::HttpResponse FakeVault::HandleLocked(const std::string& method, const std::string& path, const std::string& query,
                                          const std::string& ns, const aws::HttpRequest& request,
                                          net::ResponseControl& control) {
  bool apply_then_reset = false;
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((it->method.empty() || it->method == method) &&
        (it->path_contains.empty() || path.find(it->path_contains) != std::string::npos)) {
      Fault fault = *it;
      faults_.erase(it);
      if (fault.apply_then_reset) {
        apply_then_reset = true;
        break;
      }
      aws::HttpResponse r = VaultError(fault.status, {fault.error});
      if (!fault.retry_after.empty()) r.headers.emplace_back("Retry-After", fault.retry_after);
      return r;
    }
  }
  // A request into a namespace that does not exist is refused before
  // anything else: 404 "namespace not found" (as OpenBao 2.x answers, e.g.
  // openbao/openbao#1508).
  if (mounts_.find(ns) == mounts_.end()) return VaultError(404, {"namespace not found"});
  json body = json::parse(request.body.empty() ? "{}" : request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return VaultError(400, {"failed to parse JSON input: invalid character"});

  // Logins are unauthenticated ("AppRole auth method (API)", "Kubernetes auth method (API)").
  if (method == "POST" && StartsWith(path, "auth/") && path.size() > 11 && path.substr(path.size() - 6) == "/login") {
    const std::string mount = path.substr(5, path.size() - 11);
    if (auto a = approles_.find(mount); a != approles_.end()) {
      std::string role_id = body.value("role_id", ""), secret_id = body.value("secret_id", "");
      if (role_id.empty()) return VaultError(400, {"missing role_id"});
      auto role = a->second.find(role_id);
      if (role == a->second.end() || role->second.secret != secret_id) {
        return VaultError(400, {"invalid role or secret ID"});
      }
      return LoginReply(role->second, ns, {{"role_name", "keyrotor"}});
    }
    if (k8s_roles_.count(mount)) return KubernetesLogin(mount, body, ns);
    return VaultError(404, {"no handler for route \"" + path + "\". route entry not found."});
  }

  const std::string* header = aws::FindHeader(request.headers, "X-Vault-Token");
  auto tok = header ? tokens_.find(*header) : tokens_.end();
  if (tok == tokens_.end()) return VaultDenied();
  if (tok->second.expires && Now() >= *tok->second.expires) {
    tokens_.erase(tok);  // Vault revokes an expired token
    return VaultDenied();
  }
  const Token token = tok->second;
  // A token works in its own namespace and those below it.
  if (!(token.ns.empty() || ns == token.ns || StartsWith(ns, token.ns + "/"))) return VaultDenied();

  // "/sys/capabilities-self": in every token's default policy.
  if (path == "sys/capabilities-self" && (method == "POST" || method == "PUT")) {
    std::vector<std::string> paths;
    if (body.contains("paths") && body["paths"].is_array()) {
      for (const auto& p : body["paths"]) {
        if (p.is_string()) paths.push_back(p.get<std::string>());
      }
    } else if (body.contains("path") && body["path"].is_string()) {
      paths.push_back(body["path"].get<std::string>());
    }
    if (paths.empty()) return VaultError(400, {"'path' or 'paths' must be specified"});
    json data = json::object();
    for (const std::string& p : paths) data[p] = Capabilities(token, ns, p);
    if (paths.size() == 1) data["capabilities"] = data[paths.front()];
    json reply = VaultEnvelope(data);
    for (const auto& [k, v] : data.items()) reply[k] = v;
    return VaultJson(200, reply);
  }

  size_t slash = path.find('/');
  const std::string mount = path.substr(0, slash);
  auto m = mounts_[ns].find(mount);
  if (m == mounts_[ns].end() || slash == std::string::npos) {
    // The ACL is checked before routing: without a grant there, a denial.
    std::vector<std::string> caps = Capabilities(token, ns, path);
    if (caps == std::vector<std::string>{"deny"}) return VaultDenied();
    return VaultError(404, {"no handler for route \"" + path + "\". route entry not found."});
  }
  aws::HttpResponse r = Kv2(method, ns, mount, path.substr(slash + 1), query, token, request);
  // The write was applied; its answer is lost (an unknown outcome).
  if (apply_then_reset && r.status == 200 && (method == "POST" || method == "PUT")) control.reset_connection = true;
  return r;
}

aws::HttpResponse FakeVault::LoginReply(const Login& login, const std::string& ns,
                                        std::map<std::string, std::string> meta) {
  std::string token = "hvs." + HexEncode(RandomBytes(16));
  Token t{login.policies, ns, std::nullopt, true};
  if (login.ttl.count() > 0) t.expires = Now() + login.ttl;
  tokens_[token] = t;
  ++logins_;
  std::vector<std::string> policies = {"default"};
  policies.insert(policies.end(), login.policies.begin(), login.policies.end());
  json auth = {{"client_token", token},
               {"accessor", HexEncode(RandomBytes(12))},
               {"policies", policies},
               {"token_policies", policies},
               {"metadata", meta},
               {"lease_duration", login.ttl.count()},
               {"renewable", true},
               {"entity_id", ""},
               {"token_type", "service"},
               {"orphan", true}};
  return VaultJson(200, VaultEnvelope(nullptr, auth));
}

// The Kubernetes auth method asks the cluster's TokenReview whether the JWT
// is a live service-account token; here the fake is the cluster: signature
// against its key, issuer, expiry, and the subject bound to the role.
aws::HttpResponse FakeVault::KubernetesLogin(const std::string& mount, const json& body, const std::string& ns) {
  std::string role = body.value("role", ""), jwt = body.value("jwt", "");
  if (role.empty()) return VaultError(400, {"missing role"});
  if (jwt.empty()) return VaultError(400, {"missing jwt"});
  auto r = k8s_roles_[mount].find(role);
  if (r == k8s_roles_[mount].end()) return VaultError(400, {"invalid role name \"" + role + "\""});
  std::vector<std::string> parts = Split(jwt, '.');
  if (parts.size() != 3) return VaultDenied();
  std::optional<std::string> header = B64UrlDecode(parts[0]);
  std::optional<std::string> payload = B64UrlDecode(parts[1]);
  std::optional<std::string> sig = B64UrlDecode(parts[2]);
  if (!header || !payload || !sig) return VaultDenied();
  json h = json::parse(*header, nullptr, false), p = json::parse(*payload, nullptr, false);
  if (!h.is_object() || h.value("alg", "") != "RS256" || !p.is_object() || k8s_key_ == nullptr) return VaultDenied();
  const std::string input = parts[0] + "." + parts[1];
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool verified = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(k8s_key_)) == 1 &&
                  EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                                   reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!verified) return VaultDenied();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  if (p.value("iss", "") != options_.kubernetes_issuer) return VaultDenied();
  if (!p.contains("exp") || !p["exp"].is_number_integer() || p["exp"].get<int64_t>() <= now) return VaultDenied();
  const std::string& bound = r->second.secret;  // "NS/NAME"
  size_t slash = bound.find('/');
  if (p.value("sub", "") != "system:serviceaccount:" + bound.substr(0, slash) + ":" + bound.substr(slash + 1)) {
    return VaultDenied();
  }
  return LoginReply(r->second, ns,
                    {{"role", role}, {"service_account_name", bound.substr(slash + 1)},
                     {"service_account_namespace", bound.substr(0, slash)}});
}

// "KV secrets engine - version 2 (API)".
aws::HttpResponse FakeVault::Kv2(const std::string& method, const std::string& ns, const std::string& mount,
                                 const std::string& rel, const std::string& query, const Token& token,
                                 const aws::HttpRequest& request) {
  std::vector<std::string> caps = Capabilities(token, ns, mount + "/" + rel);
  auto allowed = [&](const std::string& need) {
    return std::find(caps.begin(), caps.end(), "root") != caps.end() ||
           std::find(caps.begin(), caps.end(), need) != caps.end();
  };
  if (!StartsWith(rel, "data/") || rel.size() == 5) {
    if (caps == std::vector<std::string>{"deny"}) return VaultDenied();
    return VaultError(404, {"unsupported path"});
  }
  const std::string key = rel.substr(5);
  Mount& m = mounts_[ns][mount];
  auto existing = m.secrets.find(key);
  const bool exists = existing != m.secrets.end() && !existing->second.versions.empty();

  if (method == "GET") {
    if (!allowed("read")) return VaultDenied();
    if (!exists) return VaultError(404, {});
    const Kv& kv = existing->second;
    size_t index = kv.versions.size() - 1;
    if (std::string v = QueryValue(query, "version"); !v.empty() && v != "0") {
      int64_t n = std::atoll(v.c_str());
      if (n < 1 || n > static_cast<int64_t>(kv.versions.size())) return VaultError(404, {});
      index = static_cast<size_t>(n - 1);
    }
    const Version& ver = kv.versions[index];
    if (!ver.deletion_time.empty() || ver.destroyed) {
      return VaultJson(404, VaultEnvelope({{"data", nullptr}, {"metadata", Metadata(kv, index)}}));
    }
    return VaultJson(200, VaultEnvelope({{"data", ver.data}, {"metadata", Metadata(kv, index)}}));
  }
  if (method == "POST" || method == "PUT") {
    if (!allowed(exists ? "update" : "create")) return VaultDenied();
    json body = json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
    if (!body.contains("data") || !body["data"].is_object()) return VaultError(400, {"no data provided"});
    // Another writer lands first (a race the test arranged).
    if (auto race = before_next_write_.find(ns + "|" + mount + "|" + key); race != before_next_write_.end()) {
      NewVersion(m.secrets[key], race->second);
      before_next_write_.erase(race);
    }
    Kv& kv = m.secrets[key];
    const int64_t current = static_cast<int64_t>(kv.versions.size());
    const json* cas = nullptr;
    if (body.contains("options") && body["options"].is_object() && body["options"].contains("cas")) {
      cas = &body["options"]["cas"];
    }
    if (m.cas_required && cas == nullptr) {
      if (kv.versions.empty()) m.secrets.erase(key);
      return VaultError(400, {"check-and-set parameter required for this call"});
    }
    if (cas != nullptr && (!cas->is_number_integer() || cas->get<int64_t>() != current)) {
      if (kv.versions.empty()) m.secrets.erase(key);
      return VaultError(400, {"check-and-set parameter did not match the current version"});
    }
    NewVersion(kv, body["data"]);
    return VaultJson(200, VaultEnvelope(Metadata(kv, kv.versions.size() - 1)));
  }
  if (method == "DELETE") {
    if (!allowed("delete")) return VaultDenied();
    // "Delete latest version of secret": a soft delete, 204 either way.
    if (exists) {
      Version& latest = existing->second.versions.back();
      if (latest.deletion_time.empty()) latest.deletion_time = NowText();
    }
    return VaultNoContent();
  }
  return VaultError(405, {"unsupported operation"});
}

}  // namespace keyrotor::testing
