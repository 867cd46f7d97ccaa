#include "destinations/destination.h"

#include <algorithm>
#include <set>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/subprocess.h"
#include "destinations/credentials_file_destination.h"
#include "destinations/destination_util.h"
#include "destinations/exec_destination.h"
#include "destinations/github_destination.h"
#include "destinations/gitlab_destination.h"
#include "destinations/kubernetes_destination.h"
#include "destinations/secretsmanager_destination.h"
#include "destinations/ssm_destination.h"
#include "destinations/vault_destination.h"
#include "destinations/vault_kv_destination.h"

namespace keyrotor::destinations {
namespace {

// Every kind MakeDestination knows, for its errors.
constexpr char kKinds[] =
    "credentials-file, secretsmanager, ssm, vault, vault-kv, github, github-org, gitlab, gitlab-group, kubernetes "
    "or exec";

Status BadSpec(std::string_view spec, std::string_view why) {
  return Status::InvalidArgument("destination '" + std::string(spec) + "': " + std::string(why));
}

// Splits "NAME?kms_key_id=K" into NAME and the kms key id ("" when absent).
// kms_key_id is the only option; anything else is a typo worth reporting.
Status SplitQuery(std::string_view spec, std::string_view rest, std::string* name, std::string* kms_key_id) {
  size_t q = rest.find('?');
  *name = std::string(rest.substr(0, q));
  if (q == std::string_view::npos) return Status::Ok();
  for (const std::string& param : Split(rest.substr(q + 1), '&')) {
    size_t eq = param.find('=');
    std::string key = param.substr(0, eq);
    if (key != "kms_key_id") return BadSpec(spec, "unknown option '" + key + "' (only kms_key_id is accepted)");
    std::string value = eq == std::string::npos ? "" : UriDecode(param.substr(eq + 1));
    if (value.empty()) return BadSpec(spec, "kms_key_id needs a value");
    *kms_key_id = value;
  }
  return Status::Ok();
}

// Secrets Manager accepts names of 1–512 characters from [A-Za-z0-9/_+=.@-]
// (CreateSecret's rule); an ARN names an existing secret.
Status ValidateSecretName(std::string_view spec, const std::string& name) {
  if (name.empty()) return BadSpec(spec, "the secret name is empty");
  if (StartsWith(name, "arn:")) return Status::Ok();
  if (name.size() > 512) return BadSpec(spec, "a secret name has at most 512 characters");
  bool valid = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("/_+=.@-").find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (!valid) return BadSpec(spec, "a secret name may hold only letters, digits and /_+=.@-");
  return Status::Ok();
}

// "PATH#NAME" split at the LAST '#': a path may contain '#', a profile or
// entry name does not.
void SplitFragment(std::string_view rest, std::string* path, std::string* fragment) {
  size_t hash = rest.rfind('#');
  *path = std::string(rest.substr(0, hash));
  *fragment = hash == std::string_view::npos ? "" : std::string(rest.substr(hash + 1));
}

}  // namespace

Result<std::unique_ptr<Destination>> MakeDestination(std::string_view spec, const aws::ClientFactory& aws,
                                                     const DestinationOptions& options) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return BadSpec(spec, std::string("expected KIND:TARGET (") + kKinds + ")");
  }
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  const std::string spec_text(spec);

  if (kind == "credentials-file") {
    std::string path, profile;
    SplitFragment(rest, &path, &profile);
    if (rest.find('#') == std::string_view::npos || profile.empty()) {
      return BadSpec(spec, "expected credentials-file:PATH#PROFILE (the profile is required)");
    }
    if (path.empty()) return BadSpec(spec, "the credentials file path is empty");
    if (profile.find_first_of("[]\r\n") != std::string::npos || Trim(profile) != profile) {
      return BadSpec(spec, "a profile name cannot contain brackets, line breaks or surrounding spaces");
    }
    return std::unique_ptr<Destination>(
        std::make_unique<CredentialsFileDestination>(spec_text, std::move(path), std::move(profile), nullptr,
                                                     options.credentials_file_backup));
  }
  if (kind == "secretsmanager") {
    std::string name, kms = options.kms_key_id;
    KR_RETURN_IF_ERROR(SplitQuery(spec, rest, &name, &kms));
    KR_RETURN_IF_ERROR(ValidateSecretName(spec, name));
    return std::unique_ptr<Destination>(
        std::make_unique<SecretsManagerDestination>(spec_text, aws, std::move(name), options.value_template, kms));
  }
  if (kind == "ssm") {
    std::string name, kms = options.kms_key_id;
    KR_RETURN_IF_ERROR(SplitQuery(spec, rest, &name, &kms));
    Status valid = ValidateParameterName(name);
    if (!valid.ok()) return BadSpec(spec, valid.message());
    return std::unique_ptr<Destination>(
        std::make_unique<SsmDestination>(spec_text, aws, std::move(name), options.value_template, kms));
  }
  if (kind == "vault") {
    std::string path, entry;
    SplitFragment(rest, &path, &entry);
    if (path.empty()) return BadSpec(spec, "expected vault:PATH[#ENTRY] (the vault path is empty)");
    if (rest.find('#') != std::string_view::npos && entry.empty())
      return BadSpec(spec, "the entry name after '#' is empty");
    return std::unique_ptr<Destination>(
        std::make_unique<VaultDestination>(spec_text, std::move(path), std::move(entry), options.vault_key_file));
  }
  if (kind == "github" || kind == "github-org") return MakeGithubDestination(spec, kind, rest, aws, options);
  if (kind == "gitlab" || kind == "gitlab-group") return MakeGitlabDestination(spec, kind, rest, aws, options);
  if (kind == "vault-kv") return MakeVaultKvDestination(spec, rest, aws, options);
  if (kind == "kubernetes") return MakeKubernetesDestination(spec, rest, aws, options);
  if (auto extra = options.extra_kinds.find(kind); extra != options.extra_kinds.end()) {
    return extra->second(spec, rest, options);
  }
  if (kind == "exec") {
    Result<std::vector<std::string>> argv = SplitCommandLine(rest);
    if (!argv.ok()) return BadSpec(spec, argv.status().message());
    if (argv->empty()) return BadSpec(spec, "no program named");
    // Refused here, before any key exists: a program that cannot run could
    // neither take the new key nor, later, put the old one back.
    if (Result<std::string> exe = FindExecutable(argv->front(), options.exec_env); !exe.ok()) {
      return BadSpec(spec, exe.status().message());
    }
    return MakeExecDestination(std::string(spec), std::move(argv).value(), options);
  }
  return BadSpec(
      spec, "unknown kind '" + std::string(kind) + "' (expected " + kKinds + ")");
}

Result<std::vector<std::string>> DestinationRequirements(std::string_view spec, const DestinationOptions& options) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return BadSpec(spec, "expected KIND:TARGET");
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  if (kind == "github" || kind == "github-org") {
    Result<GithubTarget> target = ParseGithubSpec(kind, rest, options.github_visibility);
    if (!target.ok()) return BadSpec(spec, target.status().message());
    return GithubRequirements(*target);
  }
  if (kind == "gitlab" || kind == "gitlab-group") {
    Result<GitlabTarget> target = ParseGitlabSpec(kind, rest);
    if (!target.ok()) return BadSpec(spec, target.status().message());
    return GitlabRequirements(*target);
  }
  if (kind == "vault-kv") {
    Result<VaultKvTarget> target = ParseVaultKvSpec(rest);
    if (!target.ok()) return BadSpec(spec, target.status().message());
    return VaultKvRequirements(*target);
  }
  if (kind == "kubernetes") {
    Result<KubernetesTarget> target = ParseKubernetesSpec(rest);
    if (!target.ok()) return BadSpec(spec, target.status().message());
    return KubernetesRequirements(*target);
  }
  static const std::set<std::string, std::less<>> kAwsOnly = {"credentials-file", "secretsmanager", "ssm", "vault",
                                                              "exec"};
  if (!kAwsOnly.contains(kind)) return BadSpec(spec, "unknown kind '" + std::string(kind) + "' (expected " + kKinds + ")");
  return std::vector<std::string>{};
}

Result<std::vector<std::string>> TemplateRequirements(std::string_view spec, const DestinationOptions& options) {
  // Markers every kind's name rules accept (GitHub upper-cases secret
  // names), put back as written afterwards.
  static const std::pair<std::string, std::string> kMarkers[] = {
      {"keyrotoruserplaceholder", "{user}"}, {"KEYROTORUSERPLACEHOLDER", "{user}"}, {"000000000000", "{account}"}};
  auto put_back = [](std::string text) {
    for (const auto& [marker, name] : kMarkers) {
      for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at)) {
        text.replace(at, marker.size(), name);
      }
    }
    return text;
  };
  KR_ASSIGN_OR_RETURN(std::string expanded, ExpandSpec(spec, kMarkers[0].first, kMarkers[2].first));
  Result<std::vector<std::string>> lines = DestinationRequirements(expanded, options);
  if (!lines.ok()) return Status::InvalidArgument(put_back(std::string(lines.status().message())));
  for (std::string& line : *lines) line = put_back(std::move(line));
  return lines;
}

Result<Secret> RenderValue(const std::string& value_template, const KeyHandoff& key) {
  if (key.access_key_id.empty() || key.secret_access_key.empty()) {
    return Status::InvalidArgument("rendering a destination value: the key has no access key id or secret");
  }
  std::string secret = JsonEscape(key.secret_access_key.reveal());
  std::string out;
  if (value_template.empty()) {
    // The classic format Lambda rotation functions and many apps read.
    out = "{\"AccessKey\":\"" + JsonEscape(key.access_key_id) + "\",\"SecretKey\":\"" + secret + "\"}";
    WipeString(secret);
    return Secret(std::move(out));
  }
  bool has_secret = false;
  size_t pos = 0;
  while (pos < value_template.size()) {
    size_t open = value_template.find("{{", pos);
    if (open == std::string::npos) {
      out.append(value_template, pos, std::string::npos);
      break;
    }
    out.append(value_template, pos, open - pos);
    size_t close = value_template.find("}}", open + 2);
    if (close == std::string::npos) {
      WipeString(out);
      WipeString(secret);
      return Status::InvalidArgument("value template: '{{' without a closing '}}'");
    }
    std::string name(Trim(std::string_view(value_template).substr(open + 2, close - open - 2)));
    if (name == "access_key_id") {
      out += JsonEscape(key.access_key_id);
    } else if (name == "secret_access_key") {
      out += secret;
      has_secret = true;
    } else if (name == "user") {
      out += JsonEscape(key.user);
    } else if (name == "account") {
      out += JsonEscape(key.account);
    } else if (name == "created") {
      out += FormatIso8601(key.created);
    } else {
      WipeString(out);
      WipeString(secret);
      return Status::InvalidArgument("value template: unknown placeholder {{" + name +
                                     "}} (known: access_key_id, secret_access_key, user, account, created)");
    }
    pos = close + 2;
  }
  WipeString(secret);
  if (!has_secret) {
    WipeString(out);
    return Status::InvalidArgument("value template: it has no {{secret_access_key}}, so the key would be unusable");
  }
  // Checked without exceptions: a parse error's text quotes the input, which holds the secret.
  if (!nlohmann::json::accept(out)) {
    WipeString(out);
    return Status::InvalidArgument(
        "value template does not render to valid JSON (placeholders go inside quotes: \"{{secret_access_key}}\")");
  }
  return Secret(std::move(out));
}

}  // namespace keyrotor::destinations
