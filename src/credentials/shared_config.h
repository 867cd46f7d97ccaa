// The shared config and credentials files together, and the settings they
// give a profile, resolved as botocore does: the environment first, then the
// credentials file over the config file. Credentials: credentials/chain.h.
#pragma once

#include <optional>
#include <string>

#include "aws/credentials.h"
#include "aws/endpoints.h"
#include "aws/retry.h"
#include "base/environment.h"
#include "credentials/ini_file.h"

namespace keyrotor::credentials {

// ~/.aws/config or AWS_CONFIG_FILE; ~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE ('~' expanded).
std::string ConfigFilePath(const EnvMap& env);
std::string CredentialsFilePath(const EnvMap& env);
std::string ExpandHome(const std::string& path, const EnvMap& env);

struct SharedFiles {
  std::optional<IniFile> config;       // absent when the file does not exist
  std::optional<IniFile> credentials;

  // A malformed file is an error naming file:line; a missing one is not.
  static Result<SharedFiles> Load(const EnvMap& env);
  static Result<SharedFiles> Load(const std::string& config_path, const std::string& credentials_path);

  // A profile's value for `key`: credentials file first, then config file.
  std::optional<std::string> Get(const std::string& profile, std::string_view key) const;
  // "FILE:LINE" of where Get() found the value, for error messages.
  std::string Where(const std::string& profile, std::string_view key) const;
  bool HasProfile(const std::string& profile) const;
};

struct Overrides {
  std::string profile;       // --profile
  std::string region;        // --region
  std::string endpoint_url;  // --endpoint-url
};

struct Settings {
  std::string profile;          // the profile in effect
  bool profile_explicit = false;  // named by --profile (then env credentials are skipped)
  std::string region;
  std::string region_source;
  aws::EndpointSettings endpoints;
  aws::RetryOptions retry;
  std::string retry_mode = "standard";
  std::string ca_bundle;
};

Result<Settings> ResolveSettings(const EnvMap& env, const SharedFiles& files, const Overrides& overrides);

}  // namespace keyrotor::credentials
