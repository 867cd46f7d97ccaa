#include "aws/clients.h"

namespace keyrotor::aws {

ClientFactory::ClientFactory(ClientContext context, std::string region, EndpointSettings endpoints, EnvMap env)
    : context_(std::move(context)), region_(std::move(region)), endpoints_(std::move(endpoints)), env_(std::move(env)) {}

Result<ServiceEndpoint> ClientFactory::Endpoint(Service service) const {
  return ResolveEndpoint(service, region_, endpoints_, env_);
}

Result<IamClient> ClientFactory::Iam() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kIam));
  if (!iam_rate_limiter_) return IamClient(context_, std::move(e));
  ClientContext context = context_;
  context.service_rate_limiter = iam_rate_limiter_;
  return IamClient(std::move(context), std::move(e));
}

Result<StsClient> ClientFactory::Sts() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kSts));
  return StsClient(context_, std::move(e));
}

Result<SecretsManagerClient> ClientFactory::SecretsManager() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kSecretsManager));
  return SecretsManagerClient(context_, std::move(e));
}

Result<SsmClient> ClientFactory::Ssm() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kSsm));
  return SsmClient(context_, std::move(e));
}

Result<CloudTrailClient> ClientFactory::CloudTrail() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kCloudTrail));
  return CloudTrailClient(context_, std::move(e));
}

Result<OrganizationsClient> ClientFactory::Organizations() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kOrganizations));
  return OrganizationsClient(context_, std::move(e));
}

Result<SnsClient> ClientFactory::Sns() const {
  KR_ASSIGN_OR_RETURN(ServiceEndpoint e, Endpoint(Service::kSns));
  return SnsClient(context_, std::move(e));
}

ClientFactory ClientFactory::WithCredentials(std::shared_ptr<CredentialsProvider> credentials) const {
  ClientFactory copy = *this;
  copy.context_.credentials = std::move(credentials);
  return copy;
}

ClientFactory ClientFactory::WithRegion(std::string region) const {
  ClientFactory copy = *this;
  copy.region_ = std::move(region);
  return copy;
}

ClientFactory ClientFactory::WithRateLimiter(AdaptiveRateLimiter* limiter) const {
  ClientFactory copy = *this;
  copy.context_.rate_limiter = limiter;
  return copy;
}

ClientFactory ClientFactory::WithIamRateLimiter(AdaptiveRateLimiter* limiter) const {
  ClientFactory copy = *this;
  copy.iam_rate_limiter_ = limiter;
  return copy;
}

}  // namespace keyrotor::aws
