#include "aws/endpoints.h"

#include "aws/curl_transport.h"
#include "base/strings.h"

namespace keyrotor::aws {
namespace {

constexpr ServiceInfo kServices[] = {
    {Service::kIam, "iam", "IAM", "iam"},
    {Service::kSts, "sts", "STS", "sts"},
    {Service::kSecretsManager, "secretsmanager", "SECRETS_MANAGER", "secrets_manager"},
    {Service::kSsm, "ssm", "SSM", "ssm"},
    {Service::kSns, "sns", "SNS", "sns"},
    {Service::kSso, "awsssoportal", "SSO", "sso"},
    {Service::kOrganizations, "organizations", "ORGANIZATIONS", "organizations"},
    {Service::kCloudTrail, "cloudtrail", "CLOUDTRAIL", "cloudtrail"},
};

std::string DnsSuffix(const std::string& region) {
  return StartsWith(region, "cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

Result<ServiceEndpoint> Custom(const ServiceInfo& info, std::string url, const std::string& region,
                               std::string source) {
  KR_ASSIGN_OR_RETURN(Url parsed, ParseUrl(url));
  Status safe = CheckUrlIsSafe(parsed);
  if (!safe.ok()) return safe.WithContext(source);
  // botocore signs with the client's region when the endpoint is custom, IAM
  // included (aws-wire.md §0); without a region, IAM's global one.
  std::string signing_region = region.empty() ? "us-east-1" : region;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return ServiceEndpoint{url + "/", {signing_region, info.signing_name}, std::move(source)};
}

}  // namespace

const ServiceInfo& InfoFor(Service service) {
  for (const auto& info : kServices) {
    if (info.service == service) return info;
  }
  return kServices[0];
}

Result<ServiceEndpoint> ResolveEndpoint(Service service, const std::string& region, const EndpointSettings& settings,
                                        const EnvMap& env) {
  const ServiceInfo& info = InfoFor(service);
  if (!settings.explicit_url.empty()) return Custom(info, settings.explicit_url, region, "--endpoint-url");
  bool ignore = settings.ignore_configured || EnvFlag(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  if (!ignore) {
    std::string specific = std::string("AWS_ENDPOINT_URL_") + info.env_suffix;
    if (auto v = EnvValue(env, specific)) return Custom(info, *v, region, specific);
    if (auto v = EnvValue(env, "AWS_ENDPOINT_URL")) return Custom(info, *v, region, "AWS_ENDPOINT_URL");
    auto it = settings.services_urls.find(info.config_key);
    if (it != settings.services_urls.end() && !it->second.empty()) {
      return Custom(info, it->second, region, std::string("[services] ") + info.config_key);
    }
    if (!settings.profile_endpoint_url.empty()) {
      return Custom(info, settings.profile_endpoint_url, region, "profile endpoint_url");
    }
  }
  if (service == Service::kIam) {
    // IAM is a global service with one endpoint per partition.
    if (StartsWith(region, "cn-")) return ServiceEndpoint{"https://iam.cn-north-1.amazonaws.com.cn/", {"cn-north-1", "iam"}, "default"};
    if (StartsWith(region, "us-gov-")) return ServiceEndpoint{"https://iam.us-gov.amazonaws.com/", {"us-gov-west-1", "iam"}, "default"};
    return ServiceEndpoint{"https://iam.amazonaws.com/", {"us-east-1", "iam"}, "default"};
  }
  if (service == Service::kOrganizations) {
    // Organizations is global too: one endpoint per partition, in its home region.
    if (StartsWith(region, "cn-")) {
      return ServiceEndpoint{"https://organizations.cn-northwest-1.amazonaws.com.cn/", {"cn-northwest-1", "organizations"}, "default"};
    }
    if (StartsWith(region, "us-gov-")) {
      return ServiceEndpoint{"https://organizations.us-gov-west-1.amazonaws.com/", {"us-gov-west-1", "organizations"}, "default"};
    }
    return ServiceEndpoint{"https://organizations.us-east-1.amazonaws.com/", {"us-east-1", "organizations"}, "default"};
  }
  if (service == Service::kSso) {
    if (region.empty()) return Status::InvalidArgument("no sso_region for the IAM Identity Center portal");
    return ServiceEndpoint{"https://portal.sso." + region + "." + DnsSuffix(region) + "/", {region, info.signing_name},
                           "default"};
  }
  if (service == Service::kSts && region.empty()) {
    // With no region at all, STS's legacy global endpoint (signing us-east-1)
    // still answers; a laptop without a configured region keeps working.
    return ServiceEndpoint{"https://sts.amazonaws.com/", {"us-east-1", "sts"}, "default (global, no region set)"};
  }
  if (region.empty()) {
    return Status::InvalidArgument(std::string("no region configured for ") + info.signing_name +
                                   ": set AWS_REGION, AWS_DEFAULT_REGION or the profile's region");
  }
  for (char c : region) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
      return Status::InvalidArgument("invalid region '" + region + "'");
    }
  }
  return ServiceEndpoint{std::string("https://") + info.signing_name + "." + region + "." + DnsSuffix(region) + "/",
                         {region, info.signing_name},
                         "default"};
}

}  // namespace keyrotor::aws
