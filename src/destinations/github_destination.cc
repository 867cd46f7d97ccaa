#include "destinations/github_destination.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/strings.h"

namespace keyrotor::destinations {
namespace {

bool GithubIsNameChar(unsigned char c) { return std::isalnum(c) || c == '_'; }

// GitHub logins: letters, digits and single hyphens, at most 39 characters.
Status ValidateGithubOwner(const std::string& owner, std::string_view what) {
  if (owner.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  bool valid = owner.size() <= 39 && owner.front() != '-' &&
               std::all_of(owner.begin(), owner.end(), [](unsigned char c) { return std::isalnum(c) || c == '-'; });
  if (!valid) {
    return Status::InvalidArgument(std::string(what) + " '" + owner +
                                   "' is not a GitHub login (letters, digits and '-', at most 39)");
  }
  return Status::Ok();
}

// Repository names: letters, digits, '.', '_' and '-', at most 100.
Status ValidateGithubRepo(const std::string& repo) {
  if (repo.empty()) return Status::InvalidArgument("the repository name is empty (expected OWNER/REPO)");
  bool valid = repo.size() <= 100 && repo != "." && repo != ".." &&
               std::all_of(repo.begin(), repo.end(),
                           [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
  if (!valid)
    return Status::InvalidArgument("'" + repo + "' is not a repository name (letters, digits, '.', '_', '-')");
  return Status::Ok();
}

std::string GithubSecretsDescription(const GithubTarget& t) {
  return t.name.empty() ? "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" : t.name;
}

}  // namespace

std::string GithubTarget::SecretsPath() const {
  switch (scope) {
    case Scope::kOrganization:
      return "/orgs/" + owner + "/actions/secrets";
    case Scope::kEnvironment:
      return "/repos/" + owner + "/" + repo + "/environments/" + UriEncode(environment) + "/secrets";
    case Scope::kRepository:
      break;
  }
  return "/repos/" + owner + "/" + repo + "/actions/secrets";
}

Result<std::string> NormalizeGithubSecretName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("the secret name after '#' is empty");
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!std::all_of(upper.begin(), upper.end(), [](unsigned char c) { return GithubIsNameChar(c); })) {
    return Status::InvalidArgument("secret name '" + std::string(name) +
                                   "': GitHub allows only letters, digits and '_'");
  }
  if (std::isdigit(static_cast<unsigned char>(upper.front()))) {
    return Status::InvalidArgument("secret name '" + std::string(name) + "' must not start with a digit");
  }
  if (StartsWith(upper, "GITHUB_")) {
    return Status::InvalidArgument("secret name '" + std::string(name) + "': GitHub reserves the GITHUB_ prefix");
  }
  return upper;
}

Result<GithubTarget> ParseGithubSpec(std::string_view kind, std::string_view rest,
                                     std::string_view default_visibility) {
  GithubTarget t;
  const bool org = kind == "github-org";
  std::string_view main = rest;
  std::string visibility(default_visibility.empty() ? "private" : default_visibility);
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    main = rest.substr(0, q);
    for (const std::string& param : Split(rest.substr(q + 1), '&')) {
      size_t eq = param.find('=');
      std::string key = param.substr(0, eq);
      if (!org || key != "visibility") {
        return Status::InvalidArgument("unknown option '" + key + "'" +
                                       (org ? " (only visibility is accepted)" : " (github: takes no options)"));
      }
      visibility = eq == std::string::npos ? "" : UriDecode(param.substr(eq + 1));
    }
  }
  if (size_t hash = main.find('#'); hash != std::string_view::npos) {
    KR_ASSIGN_OR_RETURN(t.name, NormalizeGithubSecretName(main.substr(hash + 1)));
    main = main.substr(0, hash);
  }
  if (org) {
    t.scope = GithubTarget::Scope::kOrganization;
    t.owner = std::string(main);
    KR_RETURN_IF_ERROR(ValidateGithubOwner(t.owner, "the organization"));
    if (visibility != "all" && visibility != "private" && visibility != "selected") {
      return Status::InvalidArgument("visibility '" + visibility + "' is not one of all, private, selected");
    }
    t.visibility = visibility;
    return t;
  }
  size_t slash = main.find('/');
  if (slash == std::string_view::npos) {
    return Status::InvalidArgument("expected github:OWNER/REPO[@ENVIRONMENT][#NAME]");
  }
  t.owner = std::string(main.substr(0, slash));
  std::string_view repo_env = main.substr(slash + 1);
  if (size_t at = repo_env.find('@'); at != std::string_view::npos) {
    t.scope = GithubTarget::Scope::kEnvironment;
    t.environment = std::string(repo_env.substr(at + 1));
    repo_env = repo_env.substr(0, at);
    if (t.environment.empty()) return Status::InvalidArgument("the environment name after '@' is empty");
    if (t.environment.size() > 255 ||
        std::any_of(t.environment.begin(), t.environment.end(), [](unsigned char c) { return std::iscntrl(c); })) {
      return Status::InvalidArgument("environment name '" + t.environment + "' is not valid");
    }
  }
  t.repo = std::string(repo_env);
  KR_RETURN_IF_ERROR(ValidateGithubOwner(t.owner, "the repository owner"));
  KR_RETURN_IF_ERROR(ValidateGithubRepo(t.repo));
  return t;
}

Result<std::string> SealForGithub(const Secret& plaintext, std::string_view public_key) {
  static const bool ready = sodium_init() >= 0;
  if (!ready) return Status::Internal("libsodium failed to initialise");
  if (public_key.size() != crypto_box_PUBLICKEYBYTES) {
    return Status::ParseError("GitHub's public key is " + std::to_string(public_key.size()) + " bytes, not " +
                              std::to_string(crypto_box_PUBLICKEYBYTES));
  }
  std::string sealed(plaintext.size() + crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal(reinterpret_cast<unsigned char*>(sealed.data()),
                      reinterpret_cast<const unsigned char*>(plaintext.reveal().data()), plaintext.size(),
                      reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return Status::Internal("crypto_box_seal failed");
  }
  return Base64Encode(sealed);
}

GithubDestination::GithubDestination(std::string spec, GithubTarget target, std::unique_ptr<GithubApi> api,
                                     std::string value_template)
    : spec_(std::move(spec)),
      target_(std::move(target)),
      api_(std::move(api)),
      value_template_(std::move(value_template)) {}

Result<Secret> GithubDestination::Snapshot(const KeyHandoff&) { return Secret(); }

Status GithubDestination::Restore(const KeyHandoff&, const Secret&) {
  return Status::PermissionDenied(spec_ +
                                  ": GitHub Actions secrets are write-only (GitHub never returns a value), so the "
                                  "previous value cannot be restored; " +
                                  GithubSecretsDescription(target_) + " may hold the abandoned key");
}

Result<std::string> GithubDestination::CheckAccess() {
  KR_ASSIGN_OR_RETURN(PublicKey key, FetchPublicKey());
  std::string scope = target_.scope == GithubTarget::Scope::kOrganization ? "organization " + target_.owner
                      : target_.scope == GithubTarget::Scope::kEnvironment
                          ? target_.owner + "/" + target_.repo + " environment " + target_.environment
                          : target_.owner + "/" + target_.repo;
  return "read the Actions secrets public key of " + scope + " (key id " + key.key_id + ")";
}

std::vector<std::string> GithubRequirements(const GithubTarget& target) {
  switch (target.scope) {
    case GithubTarget::Scope::kRepository:
      return {"GitHub App or fine-grained token: repository permission \"Secrets\" read and write on " + target.owner +
                  "/" + target.repo,
              "classic token: the repo scope"};
    case GithubTarget::Scope::kEnvironment:
      return {"GitHub App or fine-grained token: repository permission \"Environments\" read and write on " +
                  target.owner + "/" + target.repo + " (environment " + target.environment + ")",
              "classic token: the repo scope"};
    case GithubTarget::Scope::kOrganization:
      return {"GitHub App or fine-grained token: organization permission \"Secrets\" read and write on " +
                  target.owner,
              "classic token: the admin:org scope"};
  }
  return {};
}

// "Get a repository public key" (and the environment/organization forms):
// 200 {"key_id": "...", "key": base64 of the 32-byte curve25519 key}.
Result<GithubDestination::PublicKey> GithubDestination::FetchPublicKey() {
  KR_ASSIGN_OR_RETURN(GithubReply reply,
                      api_->Call("GET", target_.SecretsPath() + "/public-key", "", "getting the secrets public key"));
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  PublicKey key;
  std::string b64;
  if (doc.is_object()) {
    if (auto it = doc.find("key_id"); it != doc.end() && it->is_string()) key.key_id = it->get<std::string>();
    if (auto it = doc.find("key"); it != doc.end() && it->is_string()) b64 = it->get<std::string>();
  }
  std::optional<std::string> raw = Base64Decode(b64);
  if (key.key_id.empty() || !raw || raw->size() != crypto_box_PUBLICKEYBYTES) {
    return Status::ParseError("the public key reply has no key_id or no 32-byte base64 key");
  }
  key.key = std::move(*raw);
  return key;
}

// "Create or update a repository secret": PUT {"encrypted_value", "key_id"}
// (organizations add "visibility") -> 201 created, 204 updated.
Status GithubDestination::PutOne(const std::string& name, const Secret& value, PublicKey* key) {
  for (int round = 0;; ++round) {
    KR_ASSIGN_OR_RETURN(std::string sealed, SealForGithub(value, key->key));
    nlohmann::json body = {{"encrypted_value", sealed}, {"key_id", key->key_id}};
    if (target_.scope == GithubTarget::Scope::kOrganization) body["visibility"] = target_.visibility;
    Result<GithubReply> put = api_->Call("PUT", target_.SecretsPath() + "/" + name, body.dump(), "writing " + name);
    if (put.ok()) return Status::Ok();
    // 422 after the scope's key was rotated under us: the key id we sealed
    // to is no longer GitHub's. Fetch the key again, once.
    if (round == 0 && api_->last_http_status() == 422) {
      KR_ASSIGN_OR_RETURN(PublicKey fresh, FetchPublicKey());
      if (fresh.key_id != key->key_id) {
        *key = std::move(fresh);
        continue;
      }
    }
    return put.status();
  }
}

Status GithubDestination::Put(const KeyHandoff& key) {
  if (key.access_key_id.empty() || key.secret_access_key.empty()) {
    return Status::InvalidArgument(spec_ + ": the key has no access key id or secret");
  }
  Result<PublicKey> public_key = FetchPublicKey();
  if (!public_key.ok()) return public_key.status().WithContext(spec_);
  if (!target_.name.empty()) {
    KR_ASSIGN_OR_RETURN(Secret value, RenderValue(value_template_, key));
    return PutOne(target_.name, value, &*public_key).WithContext(spec_);
  }
  // Two secrets cannot be written at once: a workflow that starts between the
  // writes sees the new id with the old secret. The id goes first, so the
  // mismatch lasts one request; a single JSON secret (#NAME) avoids it.
  KR_RETURN_IF_ERROR(PutOne("AWS_ACCESS_KEY_ID", Secret(key.access_key_id), &*public_key).WithContext(spec_));
  return PutOne("AWS_SECRET_ACCESS_KEY", key.secret_access_key, &*public_key).WithContext(spec_);
}

Result<std::unique_ptr<Destination>> MakeGithubDestination(std::string_view spec, std::string_view kind,
                                                           std::string_view rest, const aws::ClientFactory& aws,
                                                           const DestinationOptions& options) {
  auto bad = [&](const Status& s) {
    return Status::InvalidArgument("destination '" + std::string(spec) + "': " + s.message());
  };
  Result<GithubTarget> target = ParseGithubSpec(kind, rest, options.github_visibility);
  if (!target.ok()) return bad(target.status());
  GithubApiSettings settings;
  settings.api_url = options.github_api_url;
  settings.token_file = options.github_token_file;
  settings.app_id = options.github_app_id;
  settings.app_key_file = options.github_app_key_file;
  settings.installation_id = options.github_app_installation_id;
  settings.env = options.github_env;
  const aws::ClientContext& ctx = aws.context();
  Result<std::unique_ptr<GithubApi>> api = GithubApi::Make(settings, ctx.transport, ctx.clock, ctx.timeouts);
  if (!api.ok()) return bad(api.status());
  return std::unique_ptr<Destination>(std::make_unique<GithubDestination>(
      std::string(spec), std::move(target).value(), std::move(api).value(), options.value_template));
}

}  // namespace keyrotor::destinations
