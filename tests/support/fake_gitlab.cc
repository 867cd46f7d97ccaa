#include "support/fake_gitlab.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

#include "base/strings.h"

namespace keyrotor::testing {
namespace {

aws::HttpResponse GitlabJson(int status, const nlohmann::json& body, aws::HeaderList headers = {}) {
  aws::HttpResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

aws::HttpResponse GitlabMessage(int status, const nlohmann::json& message) {
  return GitlabJson(status, {{"message", message}});
}

// lib/api/api_guard.rb's OAuth-style answers for a token that is known but
// cannot be used ("Personal access tokens": expired, revoked, scopes).
aws::HttpResponse GitlabInvalidToken(const std::string& description) {
  return GitlabJson(401, {{"error", "invalid_token"}, {"error_description", description}});
}

aws::HttpResponse GitlabInsufficientScope() {
  return GitlabJson(403,
                    {{"error", "insufficient_scope"},
                     {"error_description", "The request requires higher privileges than provided by the access token."},
                     {"scope", "api"}});
}

std::map<std::string, std::string> FakeGitlabForm(const std::string& text) {
  std::map<std::string, std::string> out;
  if (text.empty()) return out;
  for (const std::string& pair : Split(text, '&')) {
    size_t eq = pair.find('=');
    out[UriDecode(pair.substr(0, eq), true)] = eq == std::string::npos ? "" : UriDecode(pair.substr(eq + 1), true);
  }
  return out;
}

// Grape coerces "true"/"false" (form) as well as JSON booleans.
std::optional<bool> FakeGitlabBool(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "1")) return true;
  if (v.is_string() && (v == "false" || v == "0")) return false;
  return std::nullopt;
}

// Ci::Maskable's rule: at least 8 characters from the Base64 alphabets and @:.~.
bool FakeMaskable(const std::string& value) {
  static const std::regex mask(R"(^[a-zA-Z0-9_+=/@:.~-]{8,}$)");
  return std::regex_match(value, mask);
}

nlohmann::json FakeGitlabVariableJson(const std::string& key, const std::string& scope, const FakeGitlab::Variable& v) {
  return {{"variable_type", v.variable_type},
          {"key", key},
          {"value", v.value},
          {"protected", v.protected_},
          {"masked", v.masked},
          {"raw", v.raw},
          {"environment_scope", scope},
          {"description", nullptr}};
}

}  // namespace

std::unique_ptr<FakeGitlab> FakeGitlab::Start(Clock* clock) {
  auto fake = std::unique_ptr<FakeGitlab>(new FakeGitlab());
  fake->clock_ = clock ? clock : Clock::Real();
  Result<std::unique_ptr<net::HttpServer>> server = net::HttpServer::Start(
      {}, [f = fake.get()](const aws::HttpRequest& r, net::ResponseControl& c) { return f->Handle(r, c); });
  if (!server.ok()) throw std::runtime_error(server.status().ToString());
  fake->http_ = std::move(server).value();
  return fake;
}

FakeGitlab::~FakeGitlab() {
  if (http_) http_->Stop();
}

std::string FakeGitlab::base_url() const { return http_->endpoint(); }

void FakeGitlab::AddToken(const std::string& token, Token info) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token] = std::move(info);
}

void FakeGitlab::RevokeToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token].revoked = true;
}

void FakeGitlab::AddProject(int id, const std::string& full_path) {
  std::lock_guard<std::mutex> lock(mu_);
  resources_["projects/" + std::to_string(id)] = Resource{id, full_path, false};
}

void FakeGitlab::AddGroup(int id, const std::string& full_path) {
  std::lock_guard<std::mutex> lock(mu_);
  resources_["groups/" + std::to_string(id)] = Resource{id, full_path, true};
}

void FakeGitlab::SetRole(int user_id, const std::string& scope, int access_level) {
  std::lock_guard<std::mutex> lock(mu_);
  roles_[user_id][scope] = access_level;
}

std::optional<FakeGitlab::Variable> FakeGitlab::Stored(const std::string& scope, const std::string& key,
                                                       const std::string& environment_scope) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = variables_.find(scope);
  if (s == variables_.end()) return std::nullopt;
  for (const auto& [id, v] : s->second) {
    if (id.first == key && id.second == environment_scope) return v;
  }
  return std::nullopt;
}

void FakeGitlab::QueueFault(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

std::vector<std::string> FakeGitlab::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> FakeGitlab::tokens_seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_seen_;
}

aws::HttpResponse FakeGitlab::Handle(const aws::HttpRequest& request, net::ResponseControl& control) {
  Result<aws::Url> url = aws::ParseUrl(request.url);
  std::string path = url.ok() ? url->path : "/";
  std::string query = url.ok() ? url->query : "";
  std::lock_guard<std::mutex> lock(mu_);
  if (!StartsWith(path, "/api/v4/")) return GitlabMessage(404, "404 Not Found");
  path = path.substr(7);
  requests_.push_back(request.method + " " + path + (query.empty() ? "" : "?" + query));
  bool apply_then_reset = false;
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!it->method.empty() && it->method != request.method) continue;
    Fault fault = *it;
    faults_.erase(it);
    if (fault.apply_then_reset) {
      apply_then_reset = true;
      break;
    }
    aws::HttpResponse r;
    r.status = fault.status;
    r.headers = fault.headers;
    r.body = fault.body;
    return r;
  }
  return HandleLocked(request, path, query, control, apply_then_reset);
}

aws::HttpResponse FakeGitlab::HandleLocked(const aws::HttpRequest& request, const std::string& path,
                                           const std::string& query, net::ResponseControl& control,
                                           bool apply_then_reset) {
  // "REST API authentication": PRIVATE-TOKEN, or an OAuth-style bearer.
  std::string token;
  if (const std::string* t = aws::FindHeader(request.headers, "PRIVATE-TOKEN")) {
    token = *t;
  } else if (const std::string* auth = aws::FindHeader(request.headers, "Authorization");
             auth && StartsWith(*auth, "Bearer ")) {
    token = auth->substr(7);
  }
  tokens_seen_.push_back(token);
  auto known = tokens_.find(token);
  if (token.empty() || known == tokens_.end()) return GitlabMessage(401, "401 Unauthorized");
  const Token& info = known->second;
  if (info.revoked) return GitlabInvalidToken("Token has been revoked.");
  if (info.expires_at && clock_->Now() >= *info.expires_at) return GitlabInvalidToken("Token has expired.");
  const bool write = request.method != "GET" && request.method != "HEAD";
  auto has_scope = [&](const char* s) {
    return std::find(info.scopes.begin(), info.scopes.end(), s) != info.scopes.end();
  };
  if (!has_scope("api") && !(has_scope("read_api") && !write)) return GitlabInsufficientScope();

  std::vector<std::string> seg = Split(path.substr(1), '/');
  if (seg.size() == 2 && seg[0] == "personal_access_tokens" && seg[1] == "self" && request.method == "GET") {
    nlohmann::json doc = {{"id", 1},
                          {"name", "keyrotor test"},
                          {"revoked", info.revoked},
                          {"created_at", "2026-01-01T00:00:00.000Z"},
                          {"scopes", info.scopes},
                          {"user_id", info.user_id},
                          {"active", true},
                          {"expires_at", info.expires_at ? nlohmann::json(FormatIso8601(*info.expires_at).substr(0, 10))
                                                         : nlohmann::json(nullptr)}};
    return GitlabJson(200, doc);
  }
  if (seg.size() < 2 || (seg[0] != "projects" && seg[0] != "groups")) return GitlabMessage(404, "404 Not Found");
  const bool group = seg[0] == "groups";
  const char* not_found = group ? "404 Group Not Found" : "404 Project Not Found";
  // ":id": a number, or the full path URL-encoded ("Namespaced paths").
  const std::string id = UriDecode(seg[1]);
  std::string scope;
  for (const auto& [name, r] : resources_) {
    if (r.group == group && (std::to_string(r.id) == id || r.full_path == id)) scope = name;
  }
  int level = 0;
  if (!scope.empty()) {
    const auto& mine = roles_[info.user_id];
    if (auto it = mine.find(scope); it != mine.end()) level = it->second;
  }
  // A private project or group the user has no role in does not exist for it.
  if (scope.empty() || level == 0) return GitlabMessage(404, not_found);
  const Resource& resource = resources_[scope];
  std::map<std::string, std::string> params = FakeGitlabForm(query);

  if (seg.size() == 2 && request.method == "GET") {
    nlohmann::json access = {{"access_level", level}, {"notification_level", 3}};
    nlohmann::json doc = {{"id", resource.id}, {"full_path", resource.full_path}};
    if (!group) {
      doc["path_with_namespace"] = resource.full_path;
      doc["permissions"] = {{"project_access", access}, {"group_access", nullptr}};
    }
    return GitlabJson(200, doc);
  }
  if (group && seg.size() == 5 && seg[2] == "members" && seg[3] == "all" && request.method == "GET") {
    int user = std::atoi(seg[4].c_str());
    auto u = roles_.find(user);
    if (u == roles_.end() || !u->second.contains(scope)) return GitlabMessage(404, "404 Not found");
    return GitlabJson(200, {{"id", user}, {"username", "user" + seg[4]}, {"access_level", u->second[scope]}});
  }
  if (seg.size() >= 3 && seg[2] == "variables" && seg.size() <= 4) {
    // "Project-level CI/CD variables": Maintainer; "Group-level": Owner here.
    if (level < (group ? 50 : 40)) return GitlabMessage(403, "403 Forbidden");
    return Variables(request.method, scope, seg.size() == 4 ? UriDecode(seg[3]) : "", params, request, control,
                     apply_then_reset);
  }
  return GitlabMessage(404, "404 Not Found");
}

aws::HttpResponse FakeGitlab::Variables(const std::string& method, const std::string& scope, const std::string& key,
                                        const std::map<std::string, std::string>& query,
                                        const aws::HttpRequest& request, net::ResponseControl& control,
                                        bool apply_then_reset) {
  auto& vars = variables_[scope];
  nlohmann::json body;
  if (!request.body.empty()) {
    const std::string* type = aws::FindHeader(request.headers, "Content-Type");
    if (type && StartsWith(*type, "application/json")) {
      body = nlohmann::json::parse(request.body, nullptr, false);
      if (!body.is_object()) return GitlabMessage(400, "400 Bad request - Invalid JSON");
    } else {
      body = nlohmann::json::object();
      for (const auto& [k, v] : FakeGitlabForm(request.body)) body[k] = v;
    }
  } else {
    body = nlohmann::json::object();
  }
  std::optional<std::string> filter;
  if (auto f = query.find("filter[environment_scope]"); f != query.end()) filter = f->second;
  auto matching = [&](const std::string& k) {
    std::vector<size_t> out;
    for (size_t i = 0; i < vars.size(); ++i) {
      if (vars[i].first.first == k && (!filter || vars[i].first.second == *filter)) out.push_back(i);
    }
    return out;
  };
  if (method == "GET" && key.empty()) {
    // Pagination ("REST API", "Pagination"): page, per_page (default 20, max 100).
    int per_page = query.contains("per_page") ? std::clamp(std::atoi(query.at("per_page").c_str()), 1, 100) : 20;
    int page = query.contains("page") ? std::max(1, std::atoi(query.at("page").c_str())) : 1;
    int total = static_cast<int>(vars.size());
    int pages = std::max(1, (total + per_page - 1) / per_page);
    nlohmann::json list = nlohmann::json::array();
    for (int i = (page - 1) * per_page; i < std::min(total, page * per_page); ++i) {
      list.push_back(FakeGitlabVariableJson(vars[i].first.first, vars[i].first.second, vars[i].second));
    }
    aws::HeaderList headers = {{"X-Page", std::to_string(page)},
                               {"X-Per-Page", std::to_string(per_page)},
                               {"X-Total", std::to_string(total)},
                               {"X-Total-Pages", std::to_string(pages)},
                               {"X-Next-Page", page < pages ? std::to_string(page + 1) : ""},
                               {"X-Prev-Page", page > 1 ? std::to_string(page - 1) : ""}};
    if (page < pages) {
      headers.emplace_back("Link", "<" + api_url() + "/" + scope + "/variables?page=" + std::to_string(page + 1) +
                                       "&per_page=" + std::to_string(per_page) + ">; rel=\"next\"");
    }
    return GitlabJson(200, list, std::move(headers));
  }
  auto flag = [&](const char* name, bool fallback) -> std::optional<bool> {
    if (!body.contains(name)) return fallback;
    return FakeGitlabBool(body[name]);
  };
  if (method == "POST" && key.empty()) {
    if (!body.contains("key") || !body["key"].is_string()) return GitlabJson(400, {{"error", "key is missing"}});
    if (!body.contains("value") || !body["value"].is_string()) return GitlabJson(400, {{"error", "value is missing"}});
    const std::string k = body["key"];
    static const std::regex key_rule(R"(^[a-zA-Z0-9_]{1,255}$)");
    if (!std::regex_match(k, key_rule)) {
      return GitlabMessage(400, {{"key", {"can contain only letters, digits and '_'."}}});
    }
    const std::string env = body.value("environment_scope", std::string("*"));
    Variable v;
    v.value = body["value"];
    v.variable_type = body.value("variable_type", std::string("env_var"));
    std::optional<bool> masked = flag("masked", false), prot = flag("protected", false), raw = flag("raw", false);
    if (!masked || !prot || !raw) return GitlabJson(400, {{"error", "masked is invalid"}});
    v.masked = *masked;
    v.protected_ = *prot;
    v.raw = *raw;
    if (v.masked && !FakeMaskable(v.value)) return GitlabMessage(400, {{"value", {"is invalid"}}});
    for (const auto& [id, existing] : vars) {
      if (id.first == k && id.second == env) {
        return GitlabMessage(400, {{"key", {"(" + k + ") has already been taken"}}});
      }
    }
    v.writes = 1;
    vars.push_back({{k, env}, v});
    if (apply_then_reset) control.reset_connection = true;
    return GitlabJson(201, FakeGitlabVariableJson(k, env, v));
  }
  if (key.empty()) return GitlabMessage(405, "405 Method Not Allowed");
  std::vector<size_t> found = matching(key);
  if (found.empty()) return GitlabMessage(404, "404 Variable Not Found");
  if (found.size() > 1) {
    return GitlabMessage(409,
                         "There are multiple variables with provided parameters. Please use "
                         "'filter[environment_scope]'");
  }
  auto& [id, v] = vars[found.front()];
  if (method == "GET") return GitlabJson(200, FakeGitlabVariableJson(id.first, id.second, v));
  if (method == "DELETE") {
    vars.erase(vars.begin() + static_cast<long>(found.front()));
    aws::HttpResponse r;
    r.status = 204;
    return r;
  }
  if (method != "PUT") return GitlabMessage(405, "405 Method Not Allowed");
  Variable updated = v;
  if (body.contains("value")) {
    if (!body["value"].is_string()) return GitlabJson(400, {{"error", "value is invalid"}});
    updated.value = body["value"];
  }
  if (body.contains("variable_type")) updated.variable_type = body["variable_type"];
  std::optional<bool> masked = flag("masked", v.masked), prot = flag("protected", v.protected_),
                      raw = flag("raw", v.raw);
  if (!masked || !prot || !raw) return GitlabJson(400, {{"error", "masked is invalid"}});
  updated.masked = *masked;
  updated.protected_ = *prot;
  updated.raw = *raw;
  if (updated.masked && !FakeMaskable(updated.value)) return GitlabMessage(400, {{"value", {"is invalid"}}});
  std::string env = body.value("environment_scope", id.second);
  for (size_t i = 0; i < vars.size(); ++i) {
    if (i != found.front() && vars[i].first.first == key && vars[i].first.second == env) {
      return GitlabMessage(400, {{"key", {"(" + key + ") has already been taken"}}});
    }
  }
  updated.writes = v.writes + 1;
  v = updated;
  id.second = env;
  if (apply_then_reset) control.reset_connection = true;
  return GitlabJson(200, FakeGitlabVariableJson(id.first, id.second, v));
}

}  // namespace keyrotor::testing
