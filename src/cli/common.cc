#include "cli/common.h"

#include <fmt/core.h>

#include <cstdio>

#include "credentials/chain.h"

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
  if (with_profile) {
    app.add_option("--mfa-token", flags.mfa_token,
                   "MFA code for a role profile with mfa_serial (otherwise asked on the terminal; never stored)");
  }
}

namespace {

// The MFA code: from --mfa-token, else asked on the controlling terminal.
credentials::MfaTokenCallback MfaPrompt(const std::string& flag_value) {
  return [flag_value]() -> Result<std::string> {
    if (!flag_value.empty()) return flag_value;
    FILE* tty = std::fopen("/dev/tty", "r+");
    if (!tty) return Status::FailedPrecondition("an MFA code is needed: pass --mfa-token (no terminal to ask on)");
    std::fputs("MFA code: ", tty);
    std::fflush(tty);
    char buf[64] = {0};
    bool read = std::fgets(buf, sizeof buf, tty) != nullptr;
    std::fclose(tty);
    std::string code = read ? std::string(buf) : "";
    while (!code.empty() && (code.back() == '\n' || code.back() == '\r')) code.pop_back();
    if (code.empty()) return Status::FailedPrecondition("no MFA code entered");
    return code;
  };
}

}  // namespace

aws::HttpTransport* SharedTransport(const std::string& ca_bundle) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<aws::CurlTransport>> transports;
  std::lock_guard<std::mutex> lock(mu);
  auto& t = transports[ca_bundle];
  if (!t) {
    aws::CurlTransportOptions options;
    options.ca_bundle = ca_bundle;
    EnvMap env = ProcessEnvironment();
    for (const char* name : {"SSL_CERT_FILE", "SSL_CERT_DIR"}) {
      if (auto value = EnvValue(env, name)) options.env[name] = *value;
    }
    t = std::make_unique<aws::CurlTransport>(std::move(options));
  }
  return t.get();
}

Result<aws::ClientFactory> BuildClientFactory(const GlobalFlags& flags, const EnvMap& env, bool with_credentials,
                                              credentials::Settings* settings_out, std::string* source_out) {
  KR_ASSIGN_OR_RETURN(credentials::SharedFiles files, credentials::SharedFiles::Load(env));
  KR_ASSIGN_OR_RETURN(credentials::Settings settings,
                      credentials::ResolveSettings(env, files, {flags.profile, flags.region, flags.endpoint_url}));
  aws::ClientContext context;
  context.transport = SharedTransport(settings.ca_bundle);
  context.retry = settings.retry;
  static aws::RetryQuota quota;
  context.quota = &quota;
  if (settings.retry_mode == "adaptive") {
    static aws::AdaptiveRateLimiter limiter(Clock::Real());
    context.rate_limiter = &limiter;
  }
  aws::ClientFactory factory(context, settings.region, settings.endpoints, env);
  if (with_credentials) {
    // The chain's own STS calls (AssumeRole, web identity) use the same
    // settings, unsigned; providers copy what they keep, so these locals suffice.
    credentials::ChainContext chain;
    chain.env = env;
    chain.files = &files;
    chain.settings = settings;
    chain.unsigned_clients = &factory;
    chain.transport = context.transport;
    chain.mfa_token = MfaPrompt(flags.mfa_token);
    KR_ASSIGN_OR_RETURN(credentials::ResolvedCredentials resolved, credentials::ResolveCredentialChain(chain));
    if (source_out) *source_out = resolved.source;
    factory = factory.WithCredentials(resolved.provider);
  }
  if (settings_out) *settings_out = settings;
  // Resolve the endpoints every command needs now, so a bad URL (or plain
  // http to a remote host) is refused before anything is changed.
  for (aws::Service service : {aws::Service::kIam, aws::Service::kSts}) {
    KR_RETURN_IF_ERROR(factory.Endpoint(service).status());
  }
  return factory;
}

void PrintError(const Status& status) { fmt::print(stderr, "keyrotor: error: {}\n", status.ToString()); }

Result<std::pair<std::string, int>> ParseListenAddress(std::string_view flag, const std::string& text) {
  const std::string name(flag);
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument(name + " wants HOST:PORT, got '" + text + "'");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return Status::InvalidArgument(name + ": bad port in '" + text + "'");
  }
  return std::make_pair(host, std::stoi(port_text));
}

}  // namespace keyrotor::cli
