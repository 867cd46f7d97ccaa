#include "credentials/shared_config.h"

#include "base/strings.h"

namespace keyrotor::credentials {
namespace {

Result<std::optional<IniFile>> LoadOptional(const std::string& path) {
  Result<IniFile> file = IniFile::Load(path);
  if (file.ok()) return std::optional<IniFile>(std::move(file).value());
  if (file.status().IsNotFound()) return std::optional<IniFile>();
  return file.status();
}

std::optional<std::string> GetFrom(const std::optional<IniFile>& file, FileKind kind, const std::string& profile,
                                   std::string_view key, std::string* where) {
  if (!file) return std::nullopt;
  std::optional<std::string> section = file->SectionForProfile(profile, kind);
  if (!section) return std::nullopt;
  std::optional<std::string> value = file->Get(*section, key);
  if (value && where) *where = file->path() + ":" + std::to_string(file->LineOf(*section, key));
  return value;
}

Result<int> ParseAttempts(const std::string& text, const std::string& where) {
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || n > 1000) return Status::InvalidArgument(where + ": max_attempts must be a positive integer");
    n = n * 10 + (c - '0');
  }
  if (n < 1) return Status::InvalidArgument(where + ": max_attempts must be a positive integer");
  return n;
}

}  // namespace

std::string ExpandHome(const std::string& path, const EnvMap& env) {
  if (path.empty() || path[0] != '~') return path;
  std::string home = EnvValue(env, "HOME").value_or("");
  return home + path.substr(1);
}

std::string ConfigFilePath(const EnvMap& env) {
  return ExpandHome(EnvValue(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
}

std::string CredentialsFilePath(const EnvMap& env) {
  return ExpandHome(EnvValue(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env);
}

Result<SharedFiles> SharedFiles::Load(const EnvMap& env) { return Load(ConfigFilePath(env), CredentialsFilePath(env)); }

Result<SharedFiles> SharedFiles::Load(const std::string& config_path, const std::string& credentials_path) {
  SharedFiles files;
  KR_ASSIGN_OR_RETURN(files.config, LoadOptional(config_path));
  KR_ASSIGN_OR_RETURN(files.credentials, LoadOptional(credentials_path));
  return files;
}

std::optional<std::string> SharedFiles::Get(const std::string& profile, std::string_view key) const {
  if (auto v = GetFrom(credentials, FileKind::kCredentials, profile, key, nullptr)) return v;
  return GetFrom(config, FileKind::kConfig, profile, key, nullptr);
}

std::string SharedFiles::Where(const std::string& profile, std::string_view key) const {
  std::string where;
  if (GetFrom(credentials, FileKind::kCredentials, profile, key, &where)) return where;
  if (GetFrom(config, FileKind::kConfig, profile, key, &where)) return where;
  return "";
}

bool SharedFiles::HasProfile(const std::string& profile) const {
  return (credentials && credentials->SectionForProfile(profile, FileKind::kCredentials)) ||
         (config && config->SectionForProfile(profile, FileKind::kConfig));
}

Result<Settings> ResolveSettings(const EnvMap& env, const SharedFiles& files, const Overrides& overrides) {
  Settings s;
  if (!overrides.profile.empty()) {
    s.profile = overrides.profile;
    s.profile_explicit = true;
  } else {
    // botocore looks at AWS_DEFAULT_PROFILE before AWS_PROFILE (configprovider.py).
    s.profile = EnvValue(env, "AWS_DEFAULT_PROFILE").value_or(EnvValue(env, "AWS_PROFILE").value_or("default"));
  }
  bool named = s.profile_explicit || EnvValue(env, "AWS_PROFILE") || EnvValue(env, "AWS_DEFAULT_PROFILE");
  if (named && !files.HasProfile(s.profile)) {
    return Status::NotFound("profile '" + s.profile + "' is not in " + ConfigFilePath(env) + " or " +
                            CredentialsFilePath(env));
  }
  auto profile_value = [&](std::string_view key) { return files.Get(s.profile, key); };

  if (!overrides.region.empty()) {
    s.region = overrides.region, s.region_source = "--region";
  } else if (auto r = EnvValue(env, "AWS_REGION")) {
    s.region = *r, s.region_source = "AWS_REGION";
  } else if (auto r2 = EnvValue(env, "AWS_DEFAULT_REGION")) {
    s.region = *r2, s.region_source = "AWS_DEFAULT_REGION";
  } else if (auto r3 = profile_value("region")) {
    s.region = *r3, s.region_source = files.Where(s.profile, "region");
  }

  if (auto v = EnvValue(env, "AWS_MAX_ATTEMPTS")) {
    KR_ASSIGN_OR_RETURN(s.retry.max_attempts, ParseAttempts(*v, "AWS_MAX_ATTEMPTS"));
  } else if (auto v2 = profile_value("max_attempts")) {
    KR_ASSIGN_OR_RETURN(s.retry.max_attempts, ParseAttempts(*v2, files.Where(s.profile, "max_attempts")));
  }
  if (auto m = EnvValue(env, "AWS_RETRY_MODE")) {
    s.retry_mode = *m;
  } else if (auto m2 = profile_value("retry_mode")) {
    s.retry_mode = *m2;
  }
  if (s.retry_mode != "standard" && s.retry_mode != "adaptive" && s.retry_mode != "legacy") {
    return Status::InvalidArgument("retry mode '" + s.retry_mode + "' is not one of standard, adaptive, legacy");
  }

  s.ca_bundle = EnvValue(env, "AWS_CA_BUNDLE").value_or(profile_value("ca_bundle").value_or(""));
  s.ca_bundle = ExpandHome(s.ca_bundle, env);

  s.endpoints.explicit_url = overrides.endpoint_url;
  s.endpoints.profile_endpoint_url = profile_value("endpoint_url").value_or("");
  if (auto ignore = profile_value("ignore_configured_endpoint_urls")) {
    s.endpoints.ignore_configured = EqualsIgnoreCase(*ignore, "true");
  }
  // services = NAME points at a [services NAME] section of nested blocks:
  //   iam =
  //     endpoint_url = http://127.0.0.1:4566
  if (auto services = profile_value("services"); services && files.config) {
    std::string section = "services " + *services;
    if (!files.config->HasSection(section)) {
      return Status::InvalidArgument(files.Where(s.profile, "services") + ": no [" + section + "] section");
    }
    for (const auto& [key, value] : files.config->Items(section)) {
      auto nested = files.config->GetNested(section, key);
      if (!nested) continue;
      auto url = nested->find("endpoint_url");
      if (url != nested->end()) s.endpoints.services_urls[key] = url->second;
    }
  }
  return s;
}

}  // namespace keyrotor::credentials
