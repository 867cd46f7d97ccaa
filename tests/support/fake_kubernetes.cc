#include "support/fake_kubernetes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "base/crypto.h"
#include "base/strings.h"
#include "net/http_parser.h"

namespace keyrotor::testing {
namespace {

using nlohmann::json;

// The apiserver's Status document ("API Concepts", "Responses"; meta/v1 Status).
aws::HttpResponse KubeStatus(int code, const std::string& reason, const std::string& message,
                             const std::string& name = "", const std::string& kind = "") {
  json body = {{"kind", "Status"},       {"apiVersion", "v1"}, {"metadata", json::object()},
               {"status", "Failure"},    {"message", message}, {"reason", reason},
               {"code", code}};
  if (!kind.empty()) body["details"] = {{"name", name}, {"kind", kind}};
  aws::HttpResponse r;
  r.status = code;
  r.body = body.dump();
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

aws::HttpResponse KubeJson(int code, const json& body) {
  aws::HttpResponse r;
  r.status = code;
  r.body = body.dump();
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

const char* KubeReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Status";
  }
}

struct KeyCert {
  EVP_PKEY* key;
  X509* cert;
};

// A certificate for `cn`, signed by `issuer` (self-signed when null).
KeyCert MakeCert(const std::string& cn, bool ca, const char* san, const KeyCert* issuer) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer->cert) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer->cert : cert, cert, nullptr, nullptr, 0);
  std::vector<std::pair<int, const char*>> exts = {{NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"}};
  if (san) exts.emplace_back(NID_subject_alt_name, san);
  if (!ca && !san) exts.emplace_back(NID_ext_key_usage, "clientAuth");
  for (auto [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, issuer ? issuer->key : key, EVP_sha256());
  return {key, cert};
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string KubeBearer(const aws::HttpRequest& request) {
  const std::string* auth = aws::FindHeader(request.headers, "Authorization");
  if (!auth || !StartsWith(*auth, "Bearer ")) return "";
  return auth->substr(7);
}

// What the apiserver's authorizer says when it refuses (RBAC's forbidden message).
std::string ForbiddenMessage(const std::string& user, const std::string& verb, const std::string& group,
                             const std::string& resource, const std::string& ns, const std::string& name) {
  std::string qualified = group.empty() ? resource : resource + "." + group;
  return qualified + (name.empty() ? "" : " \"" + name + "\"") + " is forbidden: User \"" + user + "\" cannot " +
         verb + " resource \"" + resource + "\" in API group \"" + group + "\" in the namespace \"" + ns + "\"";
}

json ApiResource(const std::string& name, const std::string& kind, std::vector<std::string> verbs,
                 std::vector<std::string> short_names = {}) {
  json r = {{"name", name},     {"singularName", ""}, {"namespaced", true},
            {"kind", kind},     {"verbs", verbs}};
  if (!short_names.empty()) r["shortNames"] = short_names;
  return r;
}

}  // namespace

std::unique_ptr<FakeKubernetes> FakeKubernetes::Start(Options options) {
  // A client that hangs up before the answer is written (kubectl does, on
  // some errors) must not kill the test process with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  auto fake = std::unique_ptr<FakeKubernetes>(new FakeKubernetes());
  fake->options_ = options;
  KeyCert server_ca = MakeCert("fake-kubernetes-ca", true, nullptr, nullptr);
  KeyCert server = MakeCert("kube-apiserver", false, "IP:127.0.0.1,DNS:localhost", &server_ca);
  KeyCert client_ca = MakeCert("fake-kubernetes-client-ca", true, nullptr, nullptr);
  fake->ca_pem_ = CertPem(server_ca.cert);
  fake->client_ca_key_ = client_ca.key;
  fake->client_ca_cert_ = client_ca.cert;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, server.cert);
  SSL_CTX_use_PrivateKey(ctx, server.key);
  // Client certificates are asked for, not required (a token may be used
  // instead); one that does not chain to the client CA fails the handshake,
  // as with the apiserver's --client-ca-file.
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), client_ca.cert);
  SSL_CTX_add_client_CA(ctx, client_ca.cert);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  X509_free(server.cert);
  EVP_PKEY_free(server.key);
  X509_free(server_ca.cert);
  EVP_PKEY_free(server_ca.key);
  fake->ssl_ctx_ = ctx;
  fake->listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fake->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fake->listen_fd_, 16) != 0) {
    throw std::runtime_error("FakeKubernetes: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fake->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  fake->port_ = ntohs(addr.sin_port);
  fake->accept_thread_ = std::thread([p = fake.get()] { p->Loop(); });
  return fake;
}

FakeKubernetes::~FakeKubernetes() {
  stop_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    for (std::thread& t : threads_) t.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(client_ca_key_));
  X509_free(static_cast<X509*>(client_ca_cert_));
}

void FakeKubernetes::Loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(threads_mu_);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeKubernetes::Serve(int fd) {
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
  SSL_set_fd(ssl, fd);
  int accepted = -1;
  for (int tries = 0; tries < 50 && !stop_; ++tries) {
    accepted = SSL_accept(ssl);
    if (accepted == 1) break;
    if (SSL_get_error(ssl, accepted) != SSL_ERROR_WANT_READ) break;
  }
  if (accepted == 1) {
    std::string cert_user;
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      if (SSL_get_verify_result(ssl) == X509_V_OK) {
        char cn[256] = {0};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        cert_user = cn;
      }
      X509_free(peer);
    }
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
        aws::HttpResponse r = Handle(parsed.request, cert_user, control);
        if (control.reset_connection) {
          linger l{1, 0};  // a TCP RST, not a clean close
          setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
          open = false;
          break;
        }
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + KubeReasonPhrase(r.status) + "\r\n";
        for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
        out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
        SSL_write(ssl, out.data(), static_cast<int>(out.size()));
        if (!parsed.keep_alive) open = false;
      }
    }
    if (open) SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(fd);
}

TimePoint FakeKubernetes::Now() const { return (options_.clock ? options_.clock : Clock::Real())->Now(); }

void FakeKubernetes::AddToken(const std::string& token, const std::string& user, std::optional<TimePoint> expires) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token] = {user, expires};
}

void FakeKubernetes::ExpireToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = tokens_.find(token); it != tokens_.end()) it->second.second = TimePoint{};
}

FakeKubernetes::ClientCert FakeKubernetes::IssueClientCert(const std::string& user) {
  KeyCert issuer{static_cast<EVP_PKEY*>(client_ca_key_), static_cast<X509*>(client_ca_cert_)};
  KeyCert c = MakeCert(user, false, nullptr, &issuer);
  ClientCert out{CertPem(c.cert), KeyPem(c.key)};
  X509_free(c.cert);
  EVP_PKEY_free(c.key);
  return out;
}

FakeKubernetes::ClientCert FakeKubernetes::SelfSignedClientCert(const std::string& user) {
  KeyCert c = MakeCert(user, false, nullptr, nullptr);
  ClientCert out{CertPem(c.cert), KeyPem(c.key)};
  X509_free(c.cert);
  EVP_PKEY_free(c.key);
  return out;
}

void FakeKubernetes::Allow(const std::string& user, Rule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_[user].push_back(std::move(rule));
}

void FakeKubernetes::AllowAll(const std::string& user, const std::string& ns) {
  Allow(user, {{"get", "list", "create", "update", "patch", "delete"}, "secrets", ns, {}});
  Allow(user, {{"get", "list", "patch", "update"}, "deployments", ns, {}});
}

std::optional<FakeKubernetes::StoredSecret> FakeKubernetes::Secret(const std::string& ns,
                                                                   const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = secrets_.find(ns + "/" + name);
  if (it == secrets_.end()) return std::nullopt;
  StoredSecret s;
  const json& o = it->second;
  if (o.contains("data") && o["data"].is_object()) {
    for (auto& [k, v] : o["data"].items()) s.data[k] = Base64Decode(v.get<std::string>()).value_or("");
  }
  if (o["metadata"].contains("labels") && o["metadata"]["labels"].is_object()) {
    for (auto& [k, v] : o["metadata"]["labels"].items()) s.labels[k] = v.get<std::string>();
  }
  s.type = o.value("type", "");
  s.resource_version = o["metadata"].value("resourceVersion", "");
  return s;
}

void FakeKubernetes::PutSecret(const std::string& ns, const std::string& name,
                               const std::map<std::string, std::string>& data) {
  std::lock_guard<std::mutex> lock(mu_);
  json& o = secrets_[ns + "/" + name];
  if (o.is_null()) {
    o = {{"apiVersion", "v1"},
         {"kind", "Secret"},
         {"type", "Opaque"},
         {"metadata", {{"name", name}, {"namespace", ns}, {"uid", RandomUuid()}, {"creationTimestamp", FormatIso8601(Now())}}}};
  }
  json d = json::object();
  for (const auto& [k, v] : data) d[k] = Base64Encode(v);
  o["data"] = d;
  o["metadata"]["resourceVersion"] = NextVersion();
}

void FakeKubernetes::AddDeployment(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  deployments_[ns + "/" + name] = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", name}, {"namespace", ns}, {"generation", 1}, {"resourceVersion", NextVersion()}}},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", {{"app", name}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", name}}}}},
          {"spec", {{"containers", json::array({{{"name", name}, {"image", "busybox"}}})}}}}}}}};
}

std::string FakeKubernetes::DeploymentAnnotation(const std::string& ns, const std::string& name,
                                                 const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deployments_.find(ns + "/" + name);
  if (it == deployments_.end()) return "";
  const json& a = it->second["spec"]["template"]["metadata"].value("annotations", json::object());
  return a.value(key, "");
}

int FakeKubernetes::DeploymentGeneration(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deployments_.find(ns + "/" + name);
  return it == deployments_.end() ? 0 : it->second["metadata"].value("generation", 0);
}

void FakeKubernetes::QueueFault(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

std::vector<std::string> FakeKubernetes::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> FakeKubernetes::users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return users_;
}

bool FakeKubernetes::Allowed(const std::string& user, const std::string& verb, const std::string& resource,
                             const std::string& ns, const std::string& name) const {
  auto it = rules_.find(user);
  if (it == rules_.end()) return false;
  for (const Rule& r : it->second) {
    if (r.resource != resource || r.namespace_ != ns) continue;
    if (std::find(r.verbs.begin(), r.verbs.end(), verb) == r.verbs.end()) continue;
    // RBAC: resourceNames restrict only requests that name an object
    // (a create or a list cannot be restricted by name).
    if (!r.resource_names.empty() &&
        (name.empty() || std::find(r.resource_names.begin(), r.resource_names.end(), name) == r.resource_names.end())) {
      continue;
    }
    return true;
  }
  return false;
}

aws::HttpResponse FakeKubernetes::Handle(const aws::HttpRequest& request, const std::string& cert_user,
                                         net::ResponseControl& control) {
  Result<aws::Url> url = aws::ParseUrl(request.url);
  std::string path = url.ok() ? url->path : "/";
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(request.method + " " + path);
  bool apply_then_reset = false;
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((it->method.empty() || it->method == request.method) &&
        path.find(it->path_contains) != std::string::npos) {
      Fault fault = *it;
      faults_.erase(it);
      if (fault.concurrent_write) {
        // Another writer updates every Secret the path names.
        for (auto& [key, o] : secrets_) {
          if (path.find("/secrets/" + o["metadata"].value("name", "")) != std::string::npos) {
            o["data"]["OTHER_WRITER"] = Base64Encode("changed");
            o["metadata"]["resourceVersion"] = NextVersion();
          }
        }
        break;
      }
      if (fault.apply_then_reset) {
        apply_then_reset = true;
        break;
      }
      aws::HttpResponse r = KubeStatus(fault.status, fault.reason, fault.reason);
      if (fault.retry_after >= 0) r.headers.emplace_back("Retry-After", std::to_string(fault.retry_after));
      return r;
    }
  }
  // Authentication: a verified client certificate, else a bearer token
  // ("Authenticating": X509 client certs, static/service-account tokens).
  std::string user = cert_user;
  if (std::string bearer = KubeBearer(request); !bearer.empty()) {
    auto t = tokens_.find(bearer);
    if (t == tokens_.end() || (t->second.second && Now() >= *t->second.second)) {
      users_.push_back("");
      return KubeStatus(401, "Unauthorized", "Unauthorized");
    }
    user = t->second.first;
  }
  users_.push_back(user);
  if (user.empty()) return KubeStatus(401, "Unauthorized", "Unauthorized");
  return HandleLocked(request.method, path, request, user, control, apply_then_reset);
}

aws::HttpResponse FakeKubernetes::HandleLocked(const std::string& method, const std::string& path,
                                               const aws::HttpRequest& request, const std::string& user,
                                               net::ResponseControl& control, bool apply_then_reset) {
  const std::string host = "127.0.0.1:" + std::to_string(port_);
  // Discovery, enough for kubectl ("Discovery API", unaggregated form).
  if (method == "GET") {
    if (path == "/version") {
      return KubeJson(200, {{"major", "1"}, {"minor", "29"}, {"gitVersion", "v1.29.0"}, {"platform", "linux/amd64"}});
    }
    if (path == "/api") {
      return KubeJson(200, {{"kind", "APIVersions"},
                            {"versions", {"v1"}},
                            {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", host}}}}});
    }
    if (path == "/api/v1") {
      return KubeJson(200, {{"kind", "APIResourceList"},
                            {"groupVersion", "v1"},
                            {"resources", {ApiResource("secrets", "Secret", {"create", "delete", "get", "list", "patch", "update"})}}});
    }
    if (path == "/apis") {
      auto group = [](const std::string& name) {
        json v = {{"groupVersion", name + "/v1"}, {"version", "v1"}};
        return json{{"name", name}, {"versions", {v}}, {"preferredVersion", v}};
      };
      return KubeJson(200, {{"kind", "APIGroupList"},
                            {"apiVersion", "v1"},
                            {"groups", {group("apps"), group("authorization.k8s.io")}}});
    }
    if (path == "/apis/apps/v1") {
      return KubeJson(200, {{"kind", "APIResourceList"},
                            {"apiVersion", "v1"},
                            {"groupVersion", "apps/v1"},
                            {"resources", {ApiResource("deployments", "Deployment", {"create", "delete", "get", "list", "patch", "update"}, {"deploy"})}}});
    }
    if (path == "/apis/authorization.k8s.io/v1") {
      return KubeJson(200, {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", "authorization.k8s.io/v1"},
                            {"resources", json::array()}});
    }
  }
  std::vector<std::string> seg = Split(path.substr(1), '/');
  json body = json::parse(request.body, nullptr, false);

  // SelfSubjectAccessReview (authorization.k8s.io/v1): always allowed, answers
  // for the requesting user from the same rules.
  if (path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" && method == "POST") {
    if (!body.is_object() || !body.contains("spec") || !body["spec"].contains("resourceAttributes")) {
      return KubeStatus(422, "Invalid", "SelfSubjectAccessReview.authorization.k8s.io is invalid: spec: Invalid value");
    }
    const json& a = body["spec"]["resourceAttributes"];
    bool allowed = Allowed(user, a.value("verb", ""), a.value("resource", ""), a.value("namespace", ""),
                           a.value("name", ""));
    json out = body;
    out["status"] = {{"allowed", allowed}};
    if (!allowed) out["status"]["reason"] = "";
    return KubeJson(201, out);
  }

  // /api/v1/namespaces/NS/secrets[/NAME]
  if (seg.size() >= 5 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "namespaces" && seg[4] == "secrets") {
    const std::string ns = seg[3];
    const std::string name = seg.size() == 6 ? seg[5] : "";
    static const std::map<std::string, std::string> kVerbs = {
        {"GET", "get"}, {"POST", "create"}, {"PUT", "update"}, {"DELETE", "delete"}, {"PATCH", "patch"}};
    auto verb = kVerbs.find(method);
    if (verb == kVerbs.end() || seg.size() > 6 || (name.empty() && method != "POST")) {
      return KubeStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }
    if (!Allowed(user, verb->second, "secrets", ns, name)) {
      return KubeStatus(403, "Forbidden", ForbiddenMessage(user, verb->second, "", "secrets", ns, name), name,
                        "secrets");
    }
    const std::string key = ns + "/" + (name.empty() && body.is_object() ? body["metadata"].value("name", "") : name);
    auto existing = secrets_.find(key);
    if (method == "GET") {
      if (existing == secrets_.end()) return KubeStatus(404, "NotFound", "secrets \"" + name + "\" not found", name, "secrets");
      return KubeJson(200, existing->second);
    }
    if (method == "DELETE") {
      if (existing == secrets_.end()) return KubeStatus(404, "NotFound", "secrets \"" + name + "\" not found", name, "secrets");
      // DeleteOptions.preconditions.resourceVersion: 409 when stale.
      if (body.is_object() && body.contains("preconditions")) {
        std::string want = body["preconditions"].value("resourceVersion", "");
        if (!want.empty() && want != existing->second["metadata"].value("resourceVersion", "")) {
          return KubeStatus(409, "Conflict",
                            "Operation cannot be fulfilled on secrets \"" + name +
                                "\": Precondition failed: ResourceVersion in precondition: " + want +
                                ", ResourceVersion in object meta: " +
                                existing->second["metadata"].value("resourceVersion", ""),
                            name, "secrets");
        }
      }
      secrets_.erase(existing);
      if (apply_then_reset) control.reset_connection = true;
      return KubeJson(200, {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"},
                            {"details", {{"name", name}, {"kind", "secrets"}}}});
    }
    // POST / PUT: a Secret object.
    if (!body.is_object() || body.value("kind", "") != "Secret" || !body.contains("metadata") ||
        !body["metadata"].is_object()) {
      return KubeStatus(400, "BadRequest", "the body of the request was not a Secret");
    }
    const std::string body_name = body["metadata"].value("name", "");
    if (body_name.empty() || (!name.empty() && body_name != name)) {
      return KubeStatus(400, "BadRequest", "the name of the object (" + body_name +
                                               ") does not match the name on the URL (" + name + ")");
    }
    if (body.contains("data")) {
      for (auto& [k, v] : body["data"].items()) {
        if (!v.is_string() || !Base64Decode(v.get<std::string>())) {
          return KubeStatus(400, "BadRequest", "illegal base64 data in Secret data[" + k + "]");
        }
      }
    }
    if (method == "POST") {
      if (existing != secrets_.end()) {
        return KubeStatus(409, "AlreadyExists", "secrets \"" + body_name + "\" already exists", body_name, "secrets");
      }
      json o = body;
      o["metadata"]["namespace"] = ns;
      o["metadata"]["uid"] = RandomUuid();
      o["metadata"]["creationTimestamp"] = FormatIso8601(Now());
      o["metadata"]["resourceVersion"] = NextVersion();
      if (!o.contains("type")) o["type"] = "Opaque";
      secrets_[ns + "/" + body_name] = o;
      if (apply_then_reset) control.reset_connection = true;
      return KubeJson(201, o);
    }
    if (existing == secrets_.end()) return KubeStatus(404, "NotFound", "secrets \"" + name + "\" not found", name, "secrets");
    // Optimistic concurrency ("API Concepts", "Resource versions"): an
    // update carrying a resourceVersion must carry the current one.
    std::string rv = body["metadata"].value("resourceVersion", "");
    std::string current = existing->second["metadata"].value("resourceVersion", "");
    if (!rv.empty() && rv != current) {
      return KubeStatus(409, "Conflict",
                        "Operation cannot be fulfilled on secrets \"" + name +
                            "\": the object has been modified; please apply your changes to the latest version and "
                            "try again",
                        name, "secrets");
    }
    if (body.value("type", existing->second.value("type", "Opaque")) != existing->second.value("type", "Opaque")) {
      return KubeStatus(422, "Invalid", "Secret \"" + name + "\" is invalid: type: Invalid value: field is immutable");
    }
    json o = body;
    o["type"] = existing->second.value("type", "Opaque");
    o["metadata"]["namespace"] = ns;
    o["metadata"]["uid"] = existing->second["metadata"]["uid"];
    o["metadata"]["creationTimestamp"] = existing->second["metadata"]["creationTimestamp"];
    o["metadata"]["resourceVersion"] = NextVersion();
    existing->second = o;
    if (apply_then_reset) control.reset_connection = true;
    return KubeJson(200, o);
  }

  // /apis/apps/v1/namespaces/NS/deployments/NAME
  if (seg.size() == 6 && seg[0] == "apis" && seg[1] == "apps" && seg[2] == "v1" && seg[3] == "namespaces" &&
      seg[5] == "deployments") {
    return KubeStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }
  if (seg.size() == 7 && seg[0] == "apis" && seg[1] == "apps" && seg[2] == "v1" && seg[3] == "namespaces" &&
      seg[5] == "deployments") {
    const std::string ns = seg[4], name = seg[6];
    const std::string verb = method == "GET" ? "get" : method == "PATCH" ? "patch" : method == "PUT" ? "update" : "";
    if (verb.empty()) {
      return KubeStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }
    if (!Allowed(user, verb, "deployments", ns, name)) {
      return KubeStatus(403, "Forbidden", ForbiddenMessage(user, verb, "apps", "deployments", ns, name), name,
                        "deployments");
    }
    auto it = deployments_.find(ns + "/" + name);
    if (it == deployments_.end()) {
      return KubeStatus(404, "NotFound", "deployments.apps \"" + name + "\" not found", name, "deployments");
    }
    if (method == "GET") return KubeJson(200, it->second);
    if (method == "PUT") return KubeStatus(405, "MethodNotAllowed", "not supported by this fake");
    const std::string* type = aws::FindHeader(request.headers, "Content-Type");
    std::string ct = type ? std::string(Trim(Split(*type, ';')[0])) : "";
    if (ct != "application/strategic-merge-patch+json" && ct != "application/merge-patch+json") {
      return KubeStatus(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
                        "types include: application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml, application/strategic-merge-patch+json");
    }
    if (!body.is_object()) return KubeStatus(400, "BadRequest", "error decoding patch: invalid JSON");
    // Only the part kubectl rollout restart (and keyrotor) sends: template
    // annotations, merged key by key.
    json before = it->second["spec"]["template"];
    if (body.contains("spec") && body["spec"].contains("template") && body["spec"]["template"].contains("metadata")) {
      const json& m = body["spec"]["template"]["metadata"];
      if (m.contains("annotations") && m["annotations"].is_object()) {
        for (auto& [k, v] : m["annotations"].items()) {
          if (v.is_null()) {
            it->second["spec"]["template"]["metadata"]["annotations"].erase(k);
          } else if (v.is_string()) {
            it->second["spec"]["template"]["metadata"]["annotations"][k] = v;
          } else {
            return KubeStatus(422, "Invalid", "Deployment.apps \"" + name + "\" is invalid: annotations must be strings");
          }
        }
      }
    }
    if (it->second["spec"]["template"] != before) {
      it->second["metadata"]["generation"] = it->second["metadata"].value("generation", 1) + 1;
      it->second["metadata"]["resourceVersion"] = NextVersion();
    }
    return KubeJson(200, it->second);
  }
  return KubeStatus(404, "NotFound", "the server could not find the requested resource");
}

}  // namespace keyrotor::testing
