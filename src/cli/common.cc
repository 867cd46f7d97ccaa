#include "cli/common.h"

#include <fmt/core.h>

#include <map>
#include <mutex>

namespace keyrotor::cli {

void AddGlobalFlags(CLI::App& app, GlobalFlags& flags, bool with_profile) {
  if (with_profile) {
    app.add_option("--profile", flags.profile, "Profile of the shared config/credentials files for admin credentials");
  }
  app.add_option("--region", flags.region, "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, profile region)");
  app.add_option("--endpoint-url", flags.endpoint_url,
                 "Send every AWS call to this endpoint (https, or http on loopback only)");
}

aws::HttpTransport* SharedTransport(const std::string& ca_bundle) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<aws::CurlTransport>> transports;
  std::lock_guard<std::mutex> lock(mu);
  auto& t = transports[ca_bundle];
  if (!t) t = std::make_unique<aws::CurlTransport>(aws::CurlTransportOptions{ca_bundle, 64});
  return t.get();
}

Result<aws::ClientFactory> BuildClientFactory(const GlobalFlags& flags, const EnvMap& env, bool with_credentials,
                                              credentials::Settings* settings_out) {
  KR_ASSIGN_OR_RETURN(credentials::SharedFiles files, credentials::SharedFiles::Load(env));
  KR_ASSIGN_OR_RETURN(credentials::Settings settings,
                      credentials::ResolveSettings(env, files, {flags.profile, flags.region, flags.endpoint_url}));
  aws::ClientContext context;
  context.transport = SharedTransport(settings.ca_bundle);
  context.retry = settings.retry;
  static aws::RetryQuota quota;
  context.quota = &quota;
  if (with_credentials) {
    KR_ASSIGN_OR_RETURN(aws::Credentials creds, credentials::ResolveStaticCredentials(env, files, settings));
    context.credentials = std::make_shared<aws::StaticCredentialsProvider>(std::move(creds));
  }
  if (settings_out) *settings_out = settings;
  aws::ClientFactory factory(std::move(context), settings.region, settings.endpoints, env);
  // Resolve the endpoints every command needs now, so a bad URL (or plain
  // http to a remote host) is refused before anything is changed.
  for (aws::Service service : {aws::Service::kIam, aws::Service::kSts}) {
    KR_RETURN_IF_ERROR(factory.Endpoint(service).status());
  }
  return factory;
}

void PrintError(const Status& status) { fmt::print(stderr, "keyrotor: error: {}\n", status.ToString()); }

}  // namespace keyrotor::cli
