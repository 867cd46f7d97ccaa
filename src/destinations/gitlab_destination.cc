#include "destinations/gitlab_destination.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::destinations {
namespace {

// Access levels from "Roles and permissions" / the Members API:
// 30 Developer, 40 Maintainer, 50 Owner. Project variables need Maintainer;
// group variables Owner (gitlab-org/gitlab#321653 made the API enforce it;
// the "admin_cicd_variables" custom role, #437947, is the only other way).
constexpr int kGitlabMaintainer = 40;
constexpr int kGitlabOwner = 50;

bool GitlabPathChar(unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.'; }

// A numeric id, or a full path of namespace segments ("Namespaced paths";
// GitLab's path segments: letters, digits, '_', '-', '.').
Status ValidateGitlabId(const std::string& id, bool group) {
  const char* noun = group ? "group" : "project";
  if (id.empty()) return Status::InvalidArgument(std::string("the ") + noun + " is empty");
  if (std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isdigit(c); })) return Status::Ok();
  std::vector<std::string> segments = Split(id, '/');
  for (const std::string& s : segments) {
    if (s.empty() || s == "." || s == ".." || !std::all_of(s.begin(), s.end(), GitlabPathChar)) {
      return Status::InvalidArgument(std::string(noun) + " '" + id +
                                     "' is neither a numeric id nor a full path (segments of letters, digits, "
                                     "'_', '-', '.', joined by '/')");
    }
  }
  if (!group && segments.size() < 2) {
    return Status::InvalidArgument("project '" + id + "': a project path has its namespace (group/project)");
  }
  return Status::Ok();
}

// "Project-level CI/CD variables API": key is "letters, digits and _ only,
// at most 255 characters".
Status ValidateGitlabKey(const std::string& key) {
  if (key.empty()) return Status::InvalidArgument("the variable key after '#' is empty");
  if (key.size() > 255 ||
      !std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; })) {
    return Status::InvalidArgument("variable key '" + key +
                                   "': GitLab allows only letters, digits and '_', at most 255 characters");
  }
  return Status::Ok();
}

Result<bool> ParseGitlabBool(const std::string& name, const std::string& value) {
  if (value == "true") return true;
  if (value == "false") return false;
  return Status::InvalidArgument(name + "='" + value + "' is not true or false");
}

std::string GitlabVariablesDescription(const GitlabTarget& t) {
  return t.key.empty() ? "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" : t.key;
}

}  // namespace

std::string GitlabTarget::ApiPath() const { return (group ? "/groups/" : "/projects/") + UriEncode(id); }

std::string GitlabTarget::Noun() const { return (group ? "group " : "project ") + id; }

bool GitlabMaskable(std::string_view value) {
  if (value.size() < 8) return false;
  return std::all_of(value.begin(), value.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("+/=-_@:.~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

Result<GitlabTarget> ParseGitlabSpec(std::string_view kind, std::string_view rest) {
  GitlabTarget t;
  t.group = kind == "gitlab-group";
  std::string_view main = rest;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    main = rest.substr(0, q);
    for (const std::string& param : Split(rest.substr(q + 1), '&')) {
      size_t eq = param.find('=');
      std::string name = param.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : UriDecode(param.substr(eq + 1));
      if (name == "masked") {
        KR_ASSIGN_OR_RETURN(t.masked, ParseGitlabBool(name, value));
      } else if (name == "protected") {
        KR_ASSIGN_OR_RETURN(t.protected_, ParseGitlabBool(name, value));
      } else if (name == "environment_scope") {
        if (value.empty() || value.size() > 255 ||
            std::any_of(value.begin(), value.end(), [](unsigned char c) { return std::iscntrl(c); })) {
          return Status::InvalidArgument("environment_scope '" + value + "' is not an environment scope");
        }
        t.environment_scope = value;
      } else {
        return Status::InvalidArgument("unknown option '" + name +
                                       "' (expected masked, protected or environment_scope)");
      }
    }
  }
  if (size_t hash = main.find('#'); hash != std::string_view::npos) {
    t.key = std::string(main.substr(hash + 1));
    KR_RETURN_IF_ERROR(ValidateGitlabKey(t.key));
    main = main.substr(0, hash);
  }
  t.id = std::string(main);
  KR_RETURN_IF_ERROR(ValidateGitlabId(t.id, t.group));
  // One variable holds the rendered template, which is JSON: its braces,
  // quotes and commas are outside what GitLab can mask, so GitLab would
  // refuse the variable (400) after the new key exists. Refused here instead.
  // variable_type=file is no way out: a file variable's content is masked
  // under the same rules ("Mask a CI/CD variable" applies to both types).
  if (!t.key.empty() && t.masked) {
    return Status::InvalidArgument(
        "variable " + t.key +
        " would hold JSON, which GitLab cannot mask (a masked value is one line of at least 8 characters from the "
        "Base64 alphabet and @:.~); add ?masked=false, or drop #" +
        t.key + " to write AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, which can be masked");
  }
  return t;
}

GitlabDestination::GitlabDestination(std::string spec, GitlabTarget target, std::unique_ptr<GitlabApi> api,
                                     std::string value_template)
    : spec_(std::move(spec)),
      target_(std::move(target)),
      api_(std::move(api)),
      value_template_(std::move(value_template)) {}

Result<Secret> GitlabDestination::Snapshot(const KeyHandoff&) { return Secret(); }

Status GitlabDestination::Restore(const KeyHandoff&, const Secret&) {
  return Status::PermissionDenied(spec_ +
                                  ": GitLab CI/CD variables are write-only for keyrotor (it never reads a value "
                                  "back), so the previous value cannot be restored; " +
                                  GitlabVariablesDescription(target_) + " may hold the abandoned key");
}

// "Create a variable": POST /projects/:id/variables (groups alike) -> 201;
// a key that exists in this environment scope -> 400
// {"message":{"key":["(KEY) has already been taken"]}}. "Update a variable":
// PUT /projects/:id/variables/:key?filter[environment_scope]=S -> 200.
// raw=true: GitLab does not expand '$' in the value (an AWS secret may hold
// none today, a template's other text might).
Status GitlabDestination::PutOne(const std::string& key, const Secret& value) {
  if (target_.masked && !GitlabMaskable(value.reveal())) {
    return Status::InvalidArgument("the value of " + key + " cannot be masked by GitLab; use ?masked=false");
  }
  nlohmann::json body = {{"key", key},
                         {"value", value.reveal()},
                         {"variable_type", "env_var"},
                         {"masked", target_.masked},
                         {"protected", target_.protected_},
                         {"raw", true},
                         {"environment_scope", target_.environment_scope}};
  std::string text = body.dump();
  WipeJson(body);
  const std::string noun = target_.Noun();
  Result<GitlabReply> created = api_->Call("POST", target_.ApiPath() + "/variables", text, "creating " + key, noun);
  if (!created.ok() && api_->last_http_status() == 400 &&
      GitlabErrorMessage(api_->last_error_body()).find("has already been taken") != std::string::npos) {
    // The filter picks this scope's variable when the key exists in several
    // scopes (without it GitLab answers 409 "There are multiple variables").
    std::string path = target_.ApiPath() + "/variables/" + UriEncode(key) +
                       "?filter%5Benvironment_scope%5D=" + UriEncode(target_.environment_scope);
    Result<GitlabReply> updated = api_->Call("PUT", path, text, "updating " + key, noun);
    WipeString(text);
    return updated.status();
  }
  WipeString(text);
  return created.status();
}

Status GitlabDestination::Put(const KeyHandoff& key) {
  if (key.access_key_id.empty() || key.secret_access_key.empty()) {
    return Status::InvalidArgument(spec_ + ": the key has no access key id or secret");
  }
  if (!target_.key.empty()) {
    KR_ASSIGN_OR_RETURN(Secret value, RenderValue(value_template_, key));
    return PutOne(target_.key, value).WithContext(spec_);
  }
  // The id first, then the secret: a job that starts between the two writes
  // sees the new id with the old secret for one request's time.
  KR_RETURN_IF_ERROR(PutOne("AWS_ACCESS_KEY_ID", Secret(key.access_key_id)).WithContext(spec_));
  return PutOne("AWS_SECRET_ACCESS_KEY", key.secret_access_key).WithContext(spec_);
}

// "Personal access tokens API", GET /personal_access_tokens/self ->
// {"active","revoked","scopes","user_id",...}; "Projects API", GET
// /projects/:id -> "permissions": {"project_access": {"access_level"},
// "group_access": {...}}; "Group and project members API", GET
// /groups/:id/members/all/:user_id -> {"access_level"} (inherited included).
Result<std::string> GitlabDestination::CheckAccess() {
  const std::string noun = target_.Noun();
  Result<GitlabReply> self = api_->Call("GET", "/personal_access_tokens/self", "", "checking the token", noun);
  if (!self.ok()) return self.status().WithContext(spec_);
  nlohmann::json token = nlohmann::json::parse(self->body, nullptr, false);
  if (!token.is_object()) return Status::ParseError(spec_ + ": the token self-check reply is not a JSON object");
  if (token.value("revoked", false) || !token.value("active", true)) {
    return Status::PermissionDenied(spec_ + ": the GitLab token is not active (token expired or revoked)");
  }
  bool api_scope = false;
  if (auto scopes = token.find("scopes"); scopes != token.end() && scopes->is_array()) {
    api_scope = std::find(scopes->begin(), scopes->end(), "api") != scopes->end();
  }
  if (!api_scope) {
    return Status::PermissionDenied(spec_ + ": the GitLab token lacks the api scope (read_api cannot write variables)");
  }
  int level = 0;
  if (target_.group) {
    const std::string user = std::to_string(token.value("user_id", 0));
    Result<GitlabReply> member =
        api_->Call("GET", target_.ApiPath() + "/members/all/" + user, "", "reading the token user's role", noun);
    if (!member.ok() && api_->last_http_status() != 404) return member.status().WithContext(spec_);
    if (member.ok()) {
      nlohmann::json doc = nlohmann::json::parse(member->body, nullptr, false);
      if (doc.is_object()) level = doc.value("access_level", 0);
    }
    if (level < kGitlabOwner) {
      return Status::PermissionDenied(spec_ + ": the token's user has access level " + std::to_string(level) + " on " +
                                      noun + "; group variables need the Owner role (50)");
    }
  } else {
    Result<GitlabReply> project = api_->Call("GET", target_.ApiPath(), "", "reading the project", noun);
    if (!project.ok()) return project.status().WithContext(spec_);
    nlohmann::json doc = nlohmann::json::parse(project->body, nullptr, false);
    if (doc.is_object() && doc.contains("permissions") && doc["permissions"].is_object()) {
      for (const char* field : {"project_access", "group_access"}) {
        const nlohmann::json& p = doc["permissions"][field];
        if (p.is_object()) level = std::max(level, p.value("access_level", 0));
      }
    }
    if (level < kGitlabMaintainer) {
      return Status::PermissionDenied(spec_ + ": the token's user has access level " + std::to_string(level) + " on " +
                                      noun + "; project variables need the Maintainer role (40)");
    }
  }
  return "token active with the api scope; access level " + std::to_string(level) + " on " + noun;
}

std::vector<std::string> GitlabRequirements(const GitlabTarget& target) {
  return {"GitLab token with the api scope",
          target.group ? "Owner role on group " + target.id : "Maintainer role on project " + target.id};
}

Result<std::unique_ptr<Destination>> MakeGitlabDestination(std::string_view spec, std::string_view kind,
                                                           std::string_view rest, const aws::ClientFactory& aws,
                                                           const DestinationOptions& options) {
  auto bad = [&](const Status& s) {
    return Status::InvalidArgument("destination '" + std::string(spec) + "': " + s.message());
  };
  Result<GitlabTarget> target = ParseGitlabSpec(kind, rest);
  if (!target.ok()) return bad(target.status());
  GitlabApiSettings settings;
  settings.api_url = options.gitlab_api_url;
  settings.token_file = options.gitlab_token_file;
  settings.env = options.gitlab_env;
  const aws::ClientContext& ctx = aws.context();
  Result<std::unique_ptr<GitlabApi>> api = GitlabApi::Make(settings, ctx.transport, ctx.clock, ctx.timeouts);
  if (!api.ok()) return bad(api.status());
  return std::unique_ptr<Destination>(std::make_unique<GitlabDestination>(
      std::string(spec), std::move(target).value(), std::move(api).value(), options.value_template));
}

}  // namespace keyrotor::destinations
