// Builds service clients for one identity and one set of settings, so callers
// never repeat endpoint resolution and context wiring.
#pragma once

#include <memory>
#include <string>

#include "aws/client.h"
#include "aws/cloudtrail.h"
#include "aws/iam.h"
#include "aws/organizations.h"
#include "aws/secretsmanager.h"
#include "aws/sns.h"
#include "aws/ssm.h"
#include "aws/sts.h"
#include "base/environment.h"

namespace keyrotor::aws {

class ClientFactory {
 public:
  ClientFactory(ClientContext context, std::string region, EndpointSettings endpoints, EnvMap env);

  Result<IamClient> Iam() const;
  Result<StsClient> Sts() const;
  Result<SecretsManagerClient> SecretsManager() const;
  Result<SsmClient> Ssm() const;
  Result<SnsClient> Sns() const;
  Result<OrganizationsClient> Organizations() const;
  Result<CloudTrailClient> CloudTrail() const;  // in this factory's region (WithRegion for another)
  Result<ServiceEndpoint> Endpoint(Service service) const;

  // The same settings, signing with other credentials.
  ClientFactory WithCredentials(std::shared_ptr<CredentialsProvider> credentials) const;
  // The same settings in another region: a resource's ARN names its region
  // (an SNS topic in eu-west-1 is published to there, whatever our default).
  ClientFactory WithRegion(std::string region) const;
  // The same settings, paced by another rate limiter (a fleet account's own;
  // nullptr: none). The limiter outlives the factory and its clients.
  ClientFactory WithRateLimiter(AdaptiveRateLimiter* limiter) const;
  // A limiter for IAM's calls alone, on top of the general one (IAM
  // throttles per account, apart from every other service); nullptr: none.
  ClientFactory WithIamRateLimiter(AdaptiveRateLimiter* limiter) const;
  const ClientContext& context() const { return context_; }
  const std::string& region() const { return region_; }

 private:
  ClientContext context_;
  AdaptiveRateLimiter* iam_rate_limiter_ = nullptr;
  std::string region_;
  EndpointSettings endpoints_;
  EnvMap env_;
};

}  // namespace keyrotor::aws
