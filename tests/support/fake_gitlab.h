// A fake GitLab REST API v4 on 127.0.0.1 for the gitlab: destinations'
// tests, faithful where keyrotor (or python-gitlab) could get GitLab wrong:
//  - PRIVATE-TOKEN (or Authorization: Bearer) checked on every request: an
//    unknown token is 401 {"message":"401 Unauthorized"}; an expired or
//    revoked one 401 {"error":"invalid_token","error_description":...};
//  - token scopes: api writes; read_api only reads, a write is 403
//    {"error":"insufficient_scope",...,"scope":"api"};
//  - roles per user: variables need Maintainer (40) on a project, Owner (50)
//    on a group, else 403 {"message":"403 Forbidden"}; a project or group the
//    user is no member of is 404 {"message":"404 Project Not Found"};
//  - :id is a number or the URL-encoded full path (a raw '/' does not route);
//  - variables are unique per (key, environment_scope): a duplicate POST is
//    400 {"message":{"key":["(KEY) has already been taken"]}}; PUT/GET by key
//    with several scopes and no filter[environment_scope] is 409; masked
//    values are checked against GitLab's rule (400 {"message":{"value":["is
//    invalid"]}}), keys against its key rule;
//  - list endpoints paginate (page, per_page; X-Total, X-Next-Page, Link).
// Faults queued by the test: any status (429 with Retry-After ...), or a
// reset connection after a write was applied (unknown outcome).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/http.h"
#include "base/clock.h"
#include "net/http_server.h"

namespace keyrotor::testing {

class FakeGitlab {
 public:
  static std::unique_ptr<FakeGitlab> Start(Clock* clock = nullptr);
  ~FakeGitlab();

  // "http://127.0.0.1:PORT/api/v4", and the instance URL without /api/v4
  // (what python-gitlab takes).
  std::string api_url() const { return base_url() + "/api/v4"; }
  std::string base_url() const;

  struct Token {
    std::vector<std::string> scopes = {"api"};
    int user_id = 1;
    bool revoked = false;
    std::optional<TimePoint> expires_at;
  };
  void AddToken(const std::string& token, Token info);
  void RevokeToken(const std::string& token);
  void AddProject(int id, const std::string& full_path);
  void AddGroup(int id, const std::string& full_path);
  // access_level on "projects/ID" or "groups/ID" (10 guest ... 50 owner).
  void SetRole(int user_id, const std::string& scope, int access_level);

  struct Variable {
    std::string value;
    std::string variable_type;
    bool masked = false;
    bool protected_ = false;
    bool raw = false;
    int writes = 0;
  };
  // scope: "projects/ID" or "groups/ID".
  std::optional<Variable> Stored(const std::string& scope, const std::string& key,
                                 const std::string& environment_scope = "*") const;

  struct Fault {
    std::string method;  // "" = any
    int status = 0;
    aws::HeaderList headers;
    std::string body;               // sent as is
    bool apply_then_reset = false;  // POST/PUT: apply, then reset the connection
  };
  void QueueFault(Fault fault);

  // "METHOD /path?query" (without /api/v4) and every PRIVATE-TOKEN received.
  std::vector<std::string> requests() const;
  std::vector<std::string> tokens_seen() const;

 private:
  struct Resource {
    int id = 0;
    std::string full_path;
    bool group = false;
  };
  FakeGitlab() = default;
  aws::HttpResponse Handle(const aws::HttpRequest& request, net::ResponseControl& control);
  aws::HttpResponse HandleLocked(const aws::HttpRequest& request, const std::string& path, const std::string& query,
                                 net::ResponseControl& control, bool apply_then_reset);
  aws::HttpResponse Variables(const std::string& method, const std::string& scope, const std::string& key,
                              const std::map<std::string, std::string>& query, const aws::HttpRequest& request,
                              net::ResponseControl& control, bool apply_then_reset);

  Clock* clock_ = nullptr;
  std::unique_ptr<net::HttpServer> http_;
  mutable std::mutex mu_;
  std::map<std::string, Token> tokens_;
  std::map<std::string, Resource> resources_;        // "projects/ID" -> resource
  std::map<int, std::map<std::string, int>> roles_;  // user -> scope -> level
  // scope -> (key, environment_scope) -> variable, in creation order for lists.
  std::map<std::string, std::vector<std::pair<std::pair<std::string, std::string>, Variable>>> variables_;
  std::vector<Fault> faults_;
  std::vector<std::string> requests_;
  std::vector<std::string> tokens_seen_;
};

}  // namespace keyrotor::testing
