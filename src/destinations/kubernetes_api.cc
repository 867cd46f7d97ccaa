#include "destinations/kubernetes_api.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/file_util.h"
#include "base/strings.h"

namespace keyrotor::destinations {
namespace {

constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// A kubeconfig field's place, for messages: "kubeconfig FILE: users[NAME].user.token".
Status KubeconfigError(const std::string& file, const std::string& field, const std::string& why) {
  return Status::InvalidArgument("kubeconfig " + file + ": " + field + ": " + why);
}

// A scalar field of a map node as a string; nullopt when absent or null.
Result<std::optional<std::string>> ScalarField(const YAML::Node& node, const char* name, const std::string& file,
                                               const std::string& where) {
  if (!node.IsMap()) return std::optional<std::string>();
  YAML::Node v = node[name];
  if (!v || v.IsNull()) return std::optional<std::string>();
  if (!v.IsScalar()) return KubeconfigError(file, where + "." + name, "expected a string");
  return std::optional<std::string>(v.as<std::string>());
}

// The entry of `list` (clusters, users, contexts) whose name is `name`: its
// inner map (`inner`: "cluster", "user", "context").
Result<YAML::Node> NamedEntry(const YAML::Node& root, const char* list, const char* inner, const std::string& name,
                              const std::string& file) {
  YAML::Node entries = root[list];
  if (entries && !entries.IsNull() && !entries.IsSequence()) return KubeconfigError(file, list, "expected a list");
  if (entries) {
    for (const YAML::Node& e : entries) {
      if (!e.IsMap() || !e["name"] || !e["name"].IsScalar()) continue;
      if (e["name"].as<std::string>() != name) continue;
      YAML::Node v = e[inner];
      if (!v || !v.IsMap()) {
        return KubeconfigError(file, std::string(list) + "[" + name + "]." + inner, "missing or not a map");
      }
      return v;
    }
  }
  return KubeconfigError(file, list, "no entry named '" + name + "'");
}

// Relative paths in a kubeconfig are relative to the file that holds them.
std::string ResolveKubePath(const std::string& kubeconfig, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(kubeconfig).parent_path() / path).string();
}

// A file the kubeconfig names, or its *-data twin (base64).
Result<std::string> FileOrData(const YAML::Node& node, const char* file_field, const char* data_field,
                               const std::string& file, const std::string& where) {
  KR_ASSIGN_OR_RETURN(std::optional<std::string> data, ScalarField(node, data_field, file, where));
  if (data && !data->empty()) {
    std::optional<std::string> decoded = Base64Decode(Trim(*data));
    WipeString(*data);
    if (!decoded) return KubeconfigError(file, where + "." + data_field, "not valid base64");
    return std::move(*decoded);
  }
  KR_ASSIGN_OR_RETURN(std::optional<std::string> path, ScalarField(node, file_field, file, where));
  if (!path || path->empty()) return std::string();
  Result<std::string> text = ReadFile(ResolveKubePath(file, *path));
  if (!text.ok()) return KubeconfigError(file, where + "." + file_field, text.status().message());
  return std::move(text).value();
}

Result<std::string> NormalizeServer(const std::string& server, const std::string& where) {
  std::string text(Trim(server));
  while (!text.empty() && text.back() == '/') text.pop_back();
  Result<aws::Url> url = aws::ParseUrl(text);
  if (!url.ok()) return Status::InvalidArgument(where + ": server '" + text + "': " + url.status().message());
  // A path prefix (a proxy in front of the API server, as Rancher gives) is kept as is.
  Status safe = aws::CheckUrlIsSafe(*url);
  if (!safe.ok()) return Status::InvalidArgument(where + ": " + safe.message());
  return text;
}

Result<KubeCredentials> ParseKubeconfig(const std::string& path, const std::string& text,
                                        const std::string& context_override) {
  YAML::Node root = YAML::Load(text);
  if (!root.IsMap()) return KubeconfigError(path, "(document)", "not a kubeconfig (expected a map)");
  std::string context_name = context_override;
  if (context_name.empty()) {
    KR_ASSIGN_OR_RETURN(std::optional<std::string> current, ScalarField(root, "current-context", path, ""));
    if (!current || current->empty()) {
      return KubeconfigError(path, "current-context", "not set (name a context in the keyrotor configuration)");
    }
    context_name = *current;
  }
  KR_ASSIGN_OR_RETURN(YAML::Node context, NamedEntry(root, "contexts", "context", context_name, path));
  const std::string cwhere = "contexts[" + context_name + "].context";
  KR_ASSIGN_OR_RETURN(std::optional<std::string> cluster_name, ScalarField(context, "cluster", path, cwhere));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> user_name, ScalarField(context, "user", path, cwhere));
  if (!cluster_name || cluster_name->empty()) return KubeconfigError(path, cwhere + ".cluster", "missing");
  if (!user_name || user_name->empty()) return KubeconfigError(path, cwhere + ".user", "missing");

  KubeCredentials c;
  c.source = "kubeconfig " + path + ", context " + context_name;
  KR_ASSIGN_OR_RETURN(YAML::Node cluster, NamedEntry(root, "clusters", "cluster", *cluster_name, path));
  const std::string kwhere = "clusters[" + *cluster_name + "].cluster";
  KR_ASSIGN_OR_RETURN(std::optional<std::string> server, ScalarField(cluster, "server", path, kwhere));
  if (!server || server->empty()) return KubeconfigError(path, kwhere + ".server", "missing");
  KR_ASSIGN_OR_RETURN(c.server, NormalizeServer(*server, "kubeconfig " + path + ": " + kwhere));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> skip, ScalarField(cluster, "insecure-skip-tls-verify", path, kwhere));
  if (skip && ToLower(*skip) == "true") {
    return KubeconfigError(path, kwhere + ".insecure-skip-tls-verify",
                           "keyrotor never skips TLS verification (give the cluster's certificate-authority)");
  }
  KR_ASSIGN_OR_RETURN(c.ca_pem, FileOrData(cluster, "certificate-authority", "certificate-authority-data", path, kwhere));

  KR_ASSIGN_OR_RETURN(YAML::Node user, NamedEntry(root, "users", "user", *user_name, path));
  const std::string uwhere = "users[" + *user_name + "].user";
  for (const char* plugin : {"exec", "auth-provider"}) {
    if (user[plugin] && !user[plugin].IsNull()) {
      return KubeconfigError(path, uwhere + "." + plugin, "not supported; use a token or client certificate");
    }
  }
  KR_ASSIGN_OR_RETURN(std::optional<std::string> token, ScalarField(user, "token", path, uwhere));
  KR_ASSIGN_OR_RETURN(std::optional<std::string> token_file, ScalarField(user, "tokenFile", path, uwhere));
  if (token && !token->empty()) {
    c.token = TakeSecret(*token);
  } else if (token_file && !token_file->empty()) {
    c.token_file = ResolveKubePath(path, *token_file);
    Result<std::string> t = ReadFile(c.token_file);
    if (!t.ok()) return KubeconfigError(path, uwhere + ".tokenFile", t.status().message());
    std::string trimmed(Trim(*t));
    WipeString(*t);
    if (trimmed.empty()) return KubeconfigError(path, uwhere + ".tokenFile", c.token_file + " is empty");
    c.token = TakeSecret(trimmed);
  }
  KR_ASSIGN_OR_RETURN(c.client_cert_pem, FileOrData(user, "client-certificate", "client-certificate-data", path, uwhere));
  KR_ASSIGN_OR_RETURN(std::string key, FileOrData(user, "client-key", "client-key-data", path, uwhere));
  c.client_key_pem = TakeSecret(key);
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return KubeconfigError(path, uwhere, "a client certificate needs both client-certificate and client-key");
  }
  if (c.token.empty() && c.client_cert_pem.empty()) {
    if (user["username"] || user["password"]) {
      return KubeconfigError(path, uwhere + ".username", "basic authentication is not supported; use a token or client certificate");
    }
    return KubeconfigError(path, uwhere, "no credentials (expected token, tokenFile, or client-certificate and client-key)");
  }
  return c;
}

}  // namespace

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  // Labels joined by '.', each alphanumeric at both ends (no 63 limit per part).
  for (const std::string& label : Split(s, '.')) {
    if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [&](char c) { return alnum(c) || c == '-'; })) return false;
  }
  return true;
}

Result<KubeCredentials> LoadKubeconfig(const std::string& path, const std::string& context) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return Status::InvalidArgument("kubeconfig: " + text.status().message());
  // yaml-cpp reports errors by throwing: caught here, the boundary. Its
  // message is kept to the line and the parser's reason (never the text, which
  // may hold a token).
  try {
    Result<KubeCredentials> c = ParseKubeconfig(path, *text, context);
    WipeString(*text);
    return c;
  } catch (const YAML::Exception& e) {
    WipeString(*text);
    return KubeconfigError(path, "line " + std::to_string(e.mark.line + 1), "not valid YAML (" + e.msg + ")");
  } catch (const std::exception&) {
    WipeString(*text);
    return KubeconfigError(path, "(document)", "could not be read as a kubeconfig");
  }
}

Result<KubeCredentials> LoadInClusterCredentials(const std::string& service_account_dir, const EnvMap& env) {
  std::optional<std::string> host = EnvValue(env, "KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = EnvValue(env, "KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Status::NotFound("not in a cluster (KUBERNETES_SERVICE_HOST/PORT not set)");
  }
  const std::string dir = service_account_dir.empty() ? kServiceAccountDir : service_account_dir;
  KubeCredentials c;
  c.source = "in-cluster service account (" + dir + ")";
  const std::string bracketed = host->find(':') != std::string::npos ? "[" + *host + "]" : *host;
  KR_ASSIGN_OR_RETURN(c.server, NormalizeServer("https://" + bracketed + ":" + *port, "in-cluster"));
  c.token_file = dir + "/token";
  Result<std::string> token = ReadFile(c.token_file);
  if (!token.ok()) return Status::NotFound("in-cluster: " + token.status().message());
  std::string trimmed(Trim(*token));
  WipeString(*token);
  if (trimmed.empty()) return Status::InvalidArgument("in-cluster: " + c.token_file + " is empty");
  c.token = TakeSecret(trimmed);
  Result<std::string> ca = ReadFile(dir + "/ca.crt");
  if (!ca.ok()) return Status::NotFound("in-cluster: " + ca.status().message());
  c.ca_pem = std::move(ca).value();
  return c;
}

Result<KubeCredentials> LoadKubeCredentials(const KubeSettings& settings) {
  if (!settings.kubeconfig.empty()) return LoadKubeconfig(settings.kubeconfig, settings.context);
  if (settings.context.empty()) {
    Result<KubeCredentials> in_cluster = LoadInClusterCredentials(settings.service_account_dir, settings.env);
    if (in_cluster.ok() || in_cluster.status().code() != StatusCode::kNotFound) return in_cluster;
  }
  std::string path;
  if (std::optional<std::string> list = EnvValue(settings.env, "KUBECONFIG"); list && !list->empty()) {
    // kubectl merges every file of the list; keyrotor reads the first.
    path = Split(*list, ':').front();
  } else if (std::optional<std::string> home = EnvValue(settings.env, "HOME"); home && !home->empty()) {
    path = *home + "/.kube/config";
  } else {
    return Status::InvalidArgument(
        "no Kubernetes credentials: not in a cluster, and neither a kubeconfig, KUBECONFIG nor HOME is set");
  }
  return LoadKubeconfig(path, settings.context);
}

Result<std::unique_ptr<KubernetesApi>> KubernetesApi::Make(KubeCredentials credentials, Clock* clock,
                                                           aws::TransportOptions timeouts) {
  std::unique_ptr<KubernetesApi> api(new KubernetesApi());
  aws::CurlTransportOptions options;
  options.ca_pem = credentials.ca_pem;
  options.client_cert_pem = credentials.client_cert_pem;
  if (!credentials.client_key_pem.empty()) options.client_key_pem = credentials.client_key_pem.Clone();
  api->transport_ = std::make_unique<aws::CurlTransport>(std::move(options));
  api->credentials_ = std::move(credentials);
  api->clock_ = clock ? clock : Clock::Real();
  api->timeouts_ = timeouts;
  return api;
}

namespace {

// The apiserver's Status document: {"kind":"Status","message","reason","code"}.
void KubeStatusFields(const std::string& body, std::string* message, std::string* reason) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || doc.value("kind", "") != "Status") return;
  if (auto it = doc.find("message"); it != doc.end() && it->is_string()) *message = it->get<std::string>();
  if (auto it = doc.find("reason"); it != doc.end() && it->is_string()) *reason = it->get<std::string>();
  if (message->size() > 400) *message = message->substr(0, 400) + "...";
}

Status KubeHttpError(int status, const std::string& message, const std::string& reason, std::string_view method,
                     const std::string& path, std::string_view what, const std::string& source) {
  std::string msg = std::string(what) + " (" + std::string(method) + " " + path + "): HTTP " + std::to_string(status);
  if (!reason.empty()) msg += " " + reason;
  if (!message.empty()) msg += ": Kubernetes says \"" + message + "\"";
  switch (status) {
    case 401:
      return Status::PermissionDenied(msg + " (the credentials from " + source + " are invalid or expired)");
    case 403:
      return Status::PermissionDenied(msg + " (RBAC does not allow it for the credentials from " + source + ")");
    case 404:
      return Status::NotFound(msg);
    case 409:
      if (reason == "AlreadyExists") return Status::AlreadyExists(msg);
      return Status::FailedPrecondition(msg);
    default:
      if (status >= 500) return Status::UnknownOutcome(msg);
      return Status::InvalidArgument(msg);
  }
}

}  // namespace

Result<KubeReply> KubernetesApi::Call(std::string_view method, const std::string& path, const std::string& body,
                                      std::string_view what, std::string_view content_type) {
  Result<KubeReply> reply = Send(method, path, body, what, content_type);
  // A projected service-account token is replaced on disk before it expires
  // (client-go re-reads it): after a 401, read it again and retry once.
  if (!reply.ok() && last_http_status_ == 401 && !credentials_.token_file.empty()) {
    Result<std::string> text = ReadFile(credentials_.token_file);
    if (text.ok()) {
      std::string trimmed(Trim(*text));
      WipeString(*text);
      Secret fresh = TakeSecret(trimmed);
      if (!fresh.empty() && fresh != credentials_.token) {
        credentials_.token = std::move(fresh);
        reply = Send(method, path, body, what, content_type);
      }
    }
  }
  return reply;
}

Result<KubeReply> KubernetesApi::Send(std::string_view method, const std::string& path, const std::string& body,
                                      std::string_view what, std::string_view content_type) {
  aws::HttpRequest request;
  request.method = std::string(method);
  request.url = credentials_.server + path;
  request.headers = {{"Accept", "application/json"}, {"User-Agent", "keyrotor/" KEYROTOR_VERSION}};
  if (!credentials_.token.empty()) {
    std::string authorization = "Bearer ";
    authorization += credentials_.token.reveal();
    request.headers.emplace_back("Authorization", std::move(authorization));
  }
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", std::string(content_type));
    request.body = body;
  }
  auto wipe_token = [&request] {
    for (auto& [name, value] : request.headers) {
      if (EqualsIgnoreCase(name, "Authorization")) WipeString(value);
    }
  };
  last_http_status_ = 0;
  last_reason_.clear();
  Status last;
  Duration backoff = retry_.base_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<aws::HttpResponse> response = transport_->Send(request, timeouts_);
    Duration wait = backoff;
    if (!response.ok()) {
      last = response.status().WithContext(std::string(what) + " (" + std::string(method) + " " + path + ")");
      // TLS and URL problems are not transient.
      if (!last.IsUnknownOutcome() && last.code() != StatusCode::kNetworkError) break;
    } else {
      last_http_status_ = response->status;
      if (response->status >= 200 && response->status < 300) {
        KubeReply reply;
        reply.status = response->status;
        reply.body = std::move(response->body);
        wipe_token();
        return reply;
      }
      std::string message;
      KubeStatusFields(response->body, &message, &last_reason_);
      last = KubeHttpError(response->status, message, last_reason_, method, path, what, credentials_.source);
      if (response->status == 429) {
        // "API Priority and Fairness": 429 with Retry-After; not applied.
        const std::string* after = aws::FindHeader(response->headers, "Retry-After");
        if (after) wait = Duration(std::max(1L, std::atol(after->c_str())) * 1000);
        last = Status::NetworkError(last.message() + ": throttled");
        if (wait > retry_.max_retry_after) break;
      } else if (response->status < 500) {
        break;
      }
    }
    if (attempt >= retry_.max_attempts) {
      last = last.WithContext("gave up after " + std::to_string(attempt) + " attempts");
      break;
    }
    clock_->SleepFor(wait);
    backoff *= 2;
  }
  wipe_token();
  return last;
}

}  // namespace keyrotor::destinations
