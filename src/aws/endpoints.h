// Endpoint and signing-region resolution, as the SDKs do it: an explicit
// --endpoint-url, then AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the
// profile's [services] section, the profile's endpoint_url, then the service's
// default (IAM is global and signs us-east-1 in the aws partition).
#pragma once

#include <map>
#include <string>

#include "aws/sigv4.h"
#include "base/environment.h"
#include "base/status.h"

namespace keyrotor::aws {

// kSso is IAM Identity Center's portal (GetRoleCredentials), used unsigned.
enum class Service { kIam, kSts, kSecretsManager, kSsm, kSns, kSso, kOrganizations, kCloudTrail };

struct ServiceInfo {
  Service service;
  const char* signing_name;  // SigV4 service and endpoint prefix: "secretsmanager"
  const char* env_suffix;    // AWS_ENDPOINT_URL_<suffix>: "SECRETS_MANAGER"
  const char* config_key;    // key inside a [services] section: "secrets_manager"
};
const ServiceInfo& InfoFor(Service service);

struct EndpointSettings {
  std::string explicit_url;                          // --endpoint-url: always honoured
  std::string profile_endpoint_url;                  // endpoint_url in the profile
  std::map<std::string, std::string> services_urls;  // config_key -> endpoint_url from [services NAME]
  bool ignore_configured = false;                    // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / ignore_configured_endpoint_urls
};

struct ServiceEndpoint {
  std::string url;
  SigningScope scope;
  std::string source;  // for `whoami`: "AWS_ENDPOINT_URL_IAM", "default", ...
};

// `region` may be empty only for IAM with its default endpoint.
Result<ServiceEndpoint> ResolveEndpoint(Service service, const std::string& region, const EndpointSettings& settings,
                                        const EnvMap& env);

}  // namespace keyrotor::aws
