// A Kubernetes Secret:
//   kubernetes:NAMESPACE/NAME[#KEY][?restart=DEPLOYMENT1,DEPLOYMENT2]
// Without KEY the Secret gets the data keys AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (what an envFrom: secretRef hands the AWS SDKs); with
// KEY one data key holding the rendered value template (JSON, as for Secrets
// Manager). Other keys of an existing Secret are kept. A Secret keyrotor
// creates is type Opaque, labelled app.kubernetes.io/managed-by: keyrotor.
//
// Writes use the API's optimistic concurrency (kubernetes.io "API Concepts",
// "Resource versions"; Secret v1 reference): GET, then PUT carrying the
// metadata.resourceVersion read; a 409 Conflict (someone wrote in between)
// reads again and retries, a bounded number of times. A missing Secret is
// POSTed; 409 AlreadyExists (created in between) goes back to GET + PUT.
//
// ?restart= names Deployments to restart after the Secret changes, the way
// `kubectl rollout restart` does: a strategic-merge PATCH of the pod
// template's kubectl.kubernetes.io/restartedAt annotation (RFC 3339). Its
// value is the new key's creation time, not "now": a Put repeated after a
// crash (which cannot know whether its restart happened) patches the same
// value again, which changes nothing when the restart did happen (the
// template is unchanged, so no second rollout) and restarts when it did not.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "destinations/destination.h"
#include "destinations/kubernetes_api.h"

namespace keyrotor::destinations {

struct KubernetesTarget {
  std::string namespace_;
  std::string name;
  std::string key;                       // empty: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
  std::vector<std::string> deployments;  // ?restart=

  std::string SecretPath() const;  // /api/v1/namespaces/NS/secrets/NAME
};

// Parses what follows "kubernetes:". InvalidArgument with the reason.
Result<KubernetesTarget> ParseKubernetesSpec(std::string_view rest);

class KubernetesDestination : public Destination {
 public:
  KubernetesDestination(std::string spec, KubernetesTarget target, std::unique_ptr<KubernetesApi> api,
                        std::string value_template, Clock* clock);

  std::string Describe() const override { return spec_; }
  // The managed keys' values (and whether the Secret existed, and whether
  // keyrotor created it), as JSON.
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  // Idempotent: a Secret that already holds exactly this key is not written
  // again (the restart is still patched: see the file comment).
  Status Put(const KeyHandoff& key) override;
  // While the Secret holds this rotation's key: puts the snapshot's values
  // back (removes the managed keys the snapshot did not have; deletes a
  // Secret keyrotor created that holds nothing else) and restarts the
  // Deployments again. A different key there: FailedPrecondition
  // (superseded). Already as in the snapshot, or gone: nothing to do.
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;
  // SelfSubjectAccessReview for each verb Put needs.
  Result<std::string> CheckAccess() override;

  const KubernetesTarget& target() const { return target_; }

 private:
  // The managed keys and the values Put writes.
  Result<std::map<std::string, Secret>> Desired(const KeyHandoff& key) const;
  std::vector<std::string> ManagedKeys() const;
  bool HoldsKey(const std::map<std::string, Secret>& values, const KeyHandoff& key) const;
  Status Restart(const std::string& restarted_at);

  std::string spec_;
  KubernetesTarget target_;
  std::unique_ptr<KubernetesApi> api_;
  std::string value_template_;
  Clock* clock_;
};

Result<std::unique_ptr<Destination>> MakeKubernetesDestination(std::string_view spec, std::string_view rest,
                                                               const aws::ClientFactory& aws,
                                                               const DestinationOptions& options);

// The RBAC rules `target` needs (keyrotor policy).
std::vector<std::string> KubernetesRequirements(const KubernetesTarget& target);

}  // namespace keyrotor::destinations
