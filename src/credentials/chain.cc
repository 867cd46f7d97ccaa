#include "credentials/chain.h"

#include <set>

#include "credentials/caching_provider.h"
#include "credentials/container_provider.h"
#include "credentials/imds_provider.h"
#include "credentials/process_provider.h"
#include "credentials/sso_provider.h"
#include "credentials/web_identity_provider.h"

namespace keyrotor::credentials {
namespace {

using Provider = std::shared_ptr<aws::CredentialsProvider>;

Provider Cached(const ChainContext& ctx, Provider inner) {
  CachingOptions options;
  options.clock = ctx.clock;
  return std::make_shared<CachingCredentialsProvider>(std::move(inner), options);
}

Provider Static(aws::Credentials c) { return std::make_shared<aws::StaticCredentialsProvider>(std::move(c)); }

// botocore's EnvProvider: both halves or neither (a lone half is an error,
// not a reason to fall through to other keys); AWS_SECURITY_TOKEN is tried
// before AWS_SESSION_TOKEN (its TOKENS order).
Result<std::optional<aws::Credentials>> EnvironmentKeys(const EnvMap& env) {
  auto id = EnvValue(env, "AWS_ACCESS_KEY_ID");
  auto secret = EnvValue(env, "AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) return std::optional<aws::Credentials>();
  if (!id || !secret) {
    if (secret) WipeString(*secret);
    return Status::InvalidArgument(std::string("environment: partial credentials, ") +
                                   (id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") + " is not set");
  }
  aws::Credentials c;
  c.access_key_id = *id;
  c.secret_access_key = TakeSecret(*secret);
  if (auto legacy = EnvValue(env, "AWS_SECURITY_TOKEN")) {
    c.session_token = TakeSecret(*legacy);
  } else if (auto token = EnvValue(env, "AWS_SESSION_TOKEN")) {
    c.session_token = TakeSecret(*token);
  }
  c.provider = "environment";
  return std::optional<aws::Credentials>(std::move(c));
}

// Static keys from one of the two files only, as botocore's
// SharedCredentialProvider / ConfigProvider each read one file.
std::optional<Result<aws::Credentials>> FileKeys(const std::optional<IniFile>& file, FileKind kind,
                                                 const std::string& profile) {
  if (!file) return std::nullopt;
  auto section = file->SectionForProfile(profile, kind);
  if (!section) return std::nullopt;
  auto id = file->Get(*section, "aws_access_key_id");
  auto secret = file->Get(*section, "aws_secret_access_key");
  if (!id && !secret) return std::nullopt;
  std::string where = file->path() + ":" + std::to_string(file->LineOf(*section, id ? "aws_access_key_id" : "aws_secret_access_key"));
  if (!id || !secret) {
    if (secret) WipeString(*secret);
    return Result<aws::Credentials>(Status::InvalidArgument(
        where + ": profile '" + profile + "' has only one of aws_access_key_id and aws_secret_access_key"));
  }
  aws::Credentials c;
  c.access_key_id = *id;
  c.secret_access_key = TakeSecret(*secret);
  // botocore tries aws_security_token first (SharedCredentialProvider.TOKENS).
  auto token = file->Get(*section, "aws_security_token");
  if (!token) token = file->Get(*section, "aws_session_token");
  if (token) c.session_token = TakeSecret(*token);
  c.provider = "profile " + profile + " (" + where + ")";
  return Result<aws::Credentials>(std::move(c));
}

Result<int> DurationOf(const ChainContext& ctx, const std::string& profile) {
  auto text = ctx.files->Get(profile, "duration_seconds");
  if (!text) return 3600;
  int n = 0;
  for (char c : *text) {
    if (c < '0' || c > '9' || n > 1000000) {
      return Status::InvalidArgument(ctx.files->Where(profile, "duration_seconds") + ": duration_seconds must be a number");
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

// The chain's last resort: on a laptop IMDS is simply not there, and the
// error must say what was looked for before it.
class LastResortProvider : public aws::CredentialsProvider {
 public:
  LastResortProvider(Provider inner, std::string tried) : inner_(std::move(inner)), tried_(std::move(tried)) {}
  Result<aws::Credentials> GetCredentials() override {
    Result<aws::Credentials> c = inner_->GetCredentials();
    if (c.ok()) return c;
    return c.status().WithContext("no credentials found (" + tried_ + ")");
  }

 private:
  Provider inner_;
  std::string tried_;
};

class ProfileResolver {
 public:
  explicit ProfileResolver(const ChainContext& ctx) : ctx_(ctx) {}

  // Credentials for `profile` used as a role's source, or as the profile in effect.
  Result<ResolvedCredentials> Resolve(const std::string& profile) {
    if (visiting_.count(profile)) {
      std::string chain;
      for (const auto& p : order_) chain += p + " -> ";
      return Status::InvalidArgument("profile '" + profile + "': source_profile cycle (" + chain + profile + ")");
    }
    visiting_.insert(profile);
    order_.push_back(profile);
    if (!ctx_.files->HasProfile(profile)) {
      return Status::NotFound("profile '" + profile + "' is not in " + ConfigFilePath(ctx_.env) + " or " +
                              CredentialsFilePath(ctx_.env));
    }
    if (ctx_.files->Get(profile, "role_arn")) return Role(profile);
    return NonRole(profile);
  }

 private:
  std::string Where(const std::string& profile, std::string_view key) { return ctx_.files->Where(profile, key); }

  Result<ResolvedCredentials> Role(const std::string& profile) {
    const std::string role_arn = *ctx_.files->Get(profile, "role_arn");
    auto source_profile = ctx_.files->Get(profile, "source_profile");
    auto credential_source = ctx_.files->Get(profile, "credential_source");
    auto token_file = ctx_.files->Get(profile, "web_identity_token_file");
    if (source_profile && credential_source) {
      return Status::InvalidArgument(Where(profile, "credential_source") + ": profile '" + profile +
                                     "' sets both source_profile and credential_source");
    }
    if (!source_profile && !credential_source) {
      if (token_file) {
        WebIdentityOptions options;
        options.profile = profile;
        options.token_file = ExpandHome(*token_file, ctx_.env);
        options.role_arn = role_arn;
        options.session_name = ctx_.files->Get(profile, "role_session_name").value_or("");
        auto provider = std::make_shared<WebIdentityCredentialsProvider>(*ctx_.unsigned_clients, options);
        return ResolvedCredentials{Cached(ctx_, provider),
                                   "web identity " + role_arn + " (profile " + profile + ", " +
                                       Where(profile, "web_identity_token_file") + ")", "assume-role-with-web-identity"};
      }
      return Status::InvalidArgument(Where(profile, "role_arn") + ": profile '" + profile +
                                     "' has role_arn but neither source_profile nor credential_source");
    }
    ResolvedCredentials source;
    if (source_profile) {
      if (*source_profile == profile) {
        // A profile may name itself: its own static keys assume its role.
        auto keys = StaticOf(profile);
        if (!keys) {
          return Status::InvalidArgument(Where(profile, "source_profile") + ": profile '" + profile +
                                         "' is its own source_profile but has no static keys");
        }
        if (!keys->ok()) return keys->status();
        source = {Static((**keys).Clone()), (**keys).provider, "shared-credentials-file"};
      } else {
        KR_ASSIGN_OR_RETURN(source, Resolve(*source_profile));
      }
    } else {
      KR_ASSIGN_OR_RETURN(source, CredentialSource(profile, *credential_source));
    }
    AssumeRoleOptions options;
    options.profile = profile;
    options.role_arn = role_arn;
    options.external_id = ctx_.files->Get(profile, "external_id").value_or("");
    options.role_session_name = ctx_.files->Get(profile, "role_session_name").value_or("");
    KR_ASSIGN_OR_RETURN(options.duration_seconds, DurationOf(ctx_, profile));
    if (auto serial = ctx_.files->Get(profile, "mfa_serial")) {
      if (!ctx_.mfa_token) {
        return Status::FailedPrecondition(Where(profile, "mfa_serial") + ": profile '" + profile +
                                          "' needs an MFA code: pass --mfa-token or run on a terminal");
      }
      options.mfa_serial = *serial;
      options.mfa_token = ctx_.mfa_token;
    }
    auto provider = std::make_shared<AssumeRoleCredentialsProvider>(*ctx_.unsigned_clients, source.provider, options);
    return ResolvedCredentials{Cached(ctx_, provider),
                               "assume-role " + role_arn + " (profile " + profile + ", " + Where(profile, "role_arn") +
                                   ") from " + source.source, "assume-role"};
  }

  Result<ResolvedCredentials> CredentialSource(const std::string& profile, const std::string& source) {
    if (source == "Environment") {
      KR_ASSIGN_OR_RETURN(std::optional<aws::Credentials> keys, EnvironmentKeys(ctx_.env));
      if (!keys) {
        return Status::NotFound(Where(profile, "credential_source") +
                                ": credential_source Environment, but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are unset");
      }
      return ResolvedCredentials{Static(keys->Clone()), "environment", "env"};
    }
    if (source == "Ec2InstanceMetadata") return Imds();
    if (source == "EcsContainer") return Container();
    return Status::InvalidArgument(Where(profile, "credential_source") + ": credential_source '" + source +
                                   "' is not one of Environment, Ec2InstanceMetadata, EcsContainer");
  }

  // Static keys from the credentials file first, then the config file.
  std::optional<Result<aws::Credentials>> StaticOf(const std::string& profile) {
    if (auto keys = FileKeys(ctx_.files->credentials, FileKind::kCredentials, profile)) return keys;
    return FileKeys(ctx_.files->config, FileKind::kConfig, profile);
  }

  // IAM Identity Center: [profile X] with sso_session (and an
  // [sso-session NAME] section) or the legacy sso_start_url/sso_region keys.
  Result<ResolvedCredentials> Sso(const std::string& profile) {
    SsoOptions options;
    options.profile = profile;
    options.clock = ctx_.clock;
    options.cache_dir = ExpandHome("~/.aws/sso/cache", ctx_.env);
    if (auto session = ctx_.files->Get(profile, "sso_session")) {
      std::string section = "sso-session " + *session;
      if (!ctx_.files->config || !ctx_.files->config->HasSection(section)) {
        return Status::InvalidArgument(Where(profile, "sso_session") + ": no [" + section + "] section");
      }
      options.session_name = *session;
      options.start_url = ctx_.files->config->Get(section, "sso_start_url").value_or("");
      options.sso_region = ctx_.files->config->Get(section, "sso_region").value_or("");
      if (options.start_url.empty() || options.sso_region.empty()) {
        return Status::InvalidArgument(ctx_.files->config->path() + ":" +
                                       std::to_string(ctx_.files->config->LineOf(section)) + ": [" + section +
                                       "] needs sso_start_url and sso_region");
      }
    } else {
      options.start_url = ctx_.files->Get(profile, "sso_start_url").value_or("");
      options.sso_region = ctx_.files->Get(profile, "sso_region").value_or("");
      if (options.sso_region.empty()) {
        return Status::InvalidArgument(Where(profile, "sso_start_url") + ": profile '" + profile +
                                       "' has sso_start_url but no sso_region");
      }
    }
    options.account_id = ctx_.files->Get(profile, "sso_account_id").value_or("");
    options.role_name = ctx_.files->Get(profile, "sso_role_name").value_or("");
    if (options.account_id.empty() || options.role_name.empty()) {
      return Status::InvalidArgument(Where(profile, options.session_name.empty() ? "sso_start_url" : "sso_session") +
                                     ": SSO profile '" + profile + "' needs sso_account_id and sso_role_name");
    }
    KR_ASSIGN_OR_RETURN(aws::ServiceEndpoint portal,
                        aws::ResolveEndpoint(aws::Service::kSso, options.sso_region, ctx_.settings.endpoints, ctx_.env));
    options.portal_url = portal.url;
    std::string where = Where(profile, options.session_name.empty() ? "sso_start_url" : "sso_session");
    return ResolvedCredentials{Cached(ctx_, std::make_shared<SsoCredentialsProvider>(ctx_.transport, options)),
                               "SSO role " + options.role_name + " in " + options.account_id + " (profile " + profile +
                                   ", " + where + ")",
                               "sso"};
  }

  Result<ResolvedCredentials> NonRole(const std::string& profile) {
    if (ctx_.files->Get(profile, "sso_session") || ctx_.files->Get(profile, "sso_start_url")) return Sso(profile);
    if (auto keys = FileKeys(ctx_.files->credentials, FileKind::kCredentials, profile)) {
      if (!keys->ok()) return keys->status();
      return ResolvedCredentials{Static((**keys).Clone()), (**keys).provider, "shared-credentials-file"};
    }
    if (auto command = ctx_.files->Get(profile, "credential_process")) {
      ProcessOptions options;
      options.profile = profile;
      options.command_line = *command;
      options.env = ctx_.env;
      return ResolvedCredentials{Cached(ctx_, std::make_shared<ProcessCredentialsProvider>(options)),
                                 "credential_process (profile " + profile + ", " + Where(profile, "credential_process") +
                                     ")", "custom-process"};
    }
    if (auto keys = FileKeys(ctx_.files->config, FileKind::kConfig, profile)) {
      if (!keys->ok()) return keys->status();
      return ResolvedCredentials{Static((**keys).Clone()), (**keys).provider, "config-file"};
    }
    return Status::NotFound("profile '" + profile + "' has no credentials (no keys, role or credential_process)");
  }

 public:
  Result<ResolvedCredentials> Container() {
    ContainerOptions options;
    options.env = ctx_.env;
    options.clock = ctx_.clock;
    return ResolvedCredentials{
        Cached(ctx_, std::make_shared<ContainerCredentialsProvider>(ctx_.transport, options)), "container credentials", "container-role"};
  }
  Result<ResolvedCredentials> Imds() {
    ImdsOptions options;
    options.env = ctx_.env;
    options.config_endpoint = ctx_.files->Get(ctx_.settings.profile, "ec2_metadata_service_endpoint").value_or("");
    return ResolvedCredentials{Cached(ctx_, std::make_shared<ImdsCredentialsProvider>(ctx_.transport, options)),
                               "EC2 instance metadata (IMDSv2)", "iam-role"};
  }

 private:
  const ChainContext& ctx_;
  std::set<std::string> visiting_;
  std::vector<std::string> order_;
};

}  // namespace

Result<ResolvedCredentials> ResolveCredentialChain(const ChainContext& ctx) {
  if (!ctx.files || !ctx.unsigned_clients || !ctx.transport) {
    return Status::Internal("credential chain: missing files, clients or transport");
  }
  const std::string& profile = ctx.settings.profile;
  if (!ctx.settings.profile_explicit) {
    KR_ASSIGN_OR_RETURN(std::optional<aws::Credentials> keys, EnvironmentKeys(ctx.env));
    if (keys) return ResolvedCredentials{Static(keys->Clone()), "environment", "env"};
  }
  ProfileResolver resolver(ctx);
  bool have_profile = ctx.files->HasProfile(profile);
  if (have_profile && ctx.files->Get(profile, "role_arn")) return resolver.Resolve(profile);
  auto token_file = EnvValue(ctx.env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role_arn = EnvValue(ctx.env, "AWS_ROLE_ARN");
  if (token_file && role_arn) {
    WebIdentityOptions options;
    options.token_file = *token_file;
    options.role_arn = *role_arn;
    options.session_name = EnvValue(ctx.env, "AWS_ROLE_SESSION_NAME").value_or("");
    auto provider = std::make_shared<WebIdentityCredentialsProvider>(*ctx.unsigned_clients, options);
    return ResolvedCredentials{Cached(ctx, provider),
                               "web identity " + *role_arn + " (AWS_WEB_IDENTITY_TOKEN_FILE)", "assume-role-with-web-identity"};
  }
  if (have_profile) {
    Result<ResolvedCredentials> from_profile = resolver.Resolve(profile);
    // A profile that only holds settings (region, endpoints) falls through
    // to the container and instance providers, as in botocore.
    if (from_profile.ok() || !from_profile.status().IsNotFound()) return from_profile;
  } else if (ctx.settings.profile_explicit) {
    return Status::NotFound("profile '" + profile + "' is not in " + ConfigFilePath(ctx.env) + " or " +
                            CredentialsFilePath(ctx.env));
  }
  if (ContainerCredentialsProvider::IsConfigured(ctx.env)) return resolver.Container();
  if (EnvFlag(ctx.env, "AWS_EC2_METADATA_DISABLED")) {
    return Status::NotFound("no credentials: none in the environment, profile '" + profile +
                            "' has none, and instance metadata is disabled (AWS_EC2_METADATA_DISABLED)");
  }
  KR_ASSIGN_OR_RETURN(ResolvedCredentials imds, resolver.Imds());
  std::string tried = std::string(ctx.settings.profile_explicit ? "" : "environment, ") + "profile '" + profile +
                      "', container credentials, then instance metadata";
  imds.provider = std::make_shared<LastResortProvider>(imds.provider, tried);
  return imds;
}

}  // namespace keyrotor::credentials
