// GitHub Actions secrets:
//   github:OWNER/REPO[#NAME]                 repository secrets
//   github:OWNER/REPO@ENVIRONMENT[#NAME]     an environment's secrets
//   github-org:ORG[#NAME][?visibility=V]     organization secrets; V is all,
//                                            private (the default) or selected
// Without NAME the key is written as two secrets, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (what aws-actions/configure-aws-credentials and the
// AWS CLI read); with NAME as one secret holding the rendered value template
// (JSON, as for Secrets Manager).
//
// Each value is sealed to the scope's public key with libsodium's
// crypto_box_seal and PUT with that key's id (docs.github.com, REST "GitHub
// Actions Secrets": "Get a repository public key", "Create or update a
// repository secret", and the environment and organization forms).
//
// GitHub never returns a secret's value, so this destination is write-only:
// Snapshot holds nothing and Restore cannot put a previous key back.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "destinations/destination.h"
#include "destinations/github_api.h"

namespace keyrotor::destinations {

struct GithubTarget {
  enum class Scope { kRepository, kEnvironment, kOrganization };
  Scope scope = Scope::kRepository;
  std::string owner;        // repository owner, or the organization
  std::string repo;         // empty for an organization
  std::string environment;  // kEnvironment only
  std::string name;         // upper case; empty: the two AWS_* secrets
  std::string visibility;   // kOrganization only: all, private or selected

  // "/repos/OWNER/REPO/actions/secrets", "/repos/OWNER/REPO/environments/ENV/secrets"
  // or "/orgs/ORG/actions/secrets": where public-key and NAME hang.
  std::string SecretsPath() const;
};

// Parses what follows "github:" or "github-org:" (kind says which).
// `default_visibility` applies to github-org without ?visibility= (empty:
// private). InvalidArgument with the reason (the caller names the spec).
Result<GithubTarget> ParseGithubSpec(std::string_view kind, std::string_view rest, std::string_view default_visibility);

// GitHub's rule for secret names ("Naming your secrets"): letters, digits and
// '_' only, not starting with a digit or GITHUB_ (case-insensitive, as
// GitHub stores names upper case). Returns the name upper-cased.
Result<std::string> NormalizeGithubSecretName(std::string_view name);

class GithubDestination : public Destination {
 public:
  GithubDestination(std::string spec, GithubTarget target, std::unique_ptr<GithubApi> api, std::string value_template);

  std::string Describe() const override { return spec_; }
  bool ReadsBack() const override { return false; }
  // Always empty: GitHub has no API that returns a secret's value.
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  // Writes every secret of this destination; a retry writes them again (a PUT
  // of the same value is idempotent). A stale key id (GitHub rotated the
  // scope's key: 422) refetches the public key once.
  Status Put(const KeyHandoff& key) override;
  // PermissionDenied, always: the previous value cannot be read back, so it
  // cannot be put back (and deleting the secret could break workflows that
  // read it). The engine treats ReadsBack() false destinations accordingly.
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;
  // Reads the scope's public key: a credential that cannot read it cannot
  // write the secret either (GitHub has no "may I write" query).
  Result<std::string> CheckAccess() override;

  const GithubTarget& target() const { return target_; }

 private:
  struct PublicKey {
    std::string key_id;
    std::string key;  // 32 raw bytes
  };
  Result<PublicKey> FetchPublicKey();
  Status PutOne(const std::string& name, const Secret& value, PublicKey* key);

  std::string spec_;
  GithubTarget target_;
  std::unique_ptr<GithubApi> api_;
  std::string value_template_;
};

// The spec's destination, with credentials and API URL from `options`
// (github_* fields and github_env) and the transport, clock and timeouts of
// `aws`'s context.
Result<std::unique_ptr<Destination>> MakeGithubDestination(std::string_view spec, std::string_view kind,
                                                           std::string_view rest, const aws::ClientFactory& aws,
                                                           const DestinationOptions& options);

// What the GitHub credentials need for `target` (keyrotor policy), per
// docs.github.com "Permissions required for fine-grained personal access
// tokens" / "...for GitHub Apps" under "Actions Secrets" and "Scopes for
// OAuth apps" for a classic token.
std::vector<std::string> GithubRequirements(const GithubTarget& target);

// crypto_box_seal of `plaintext` to a 32-byte curve25519 public key, base64
// (what GitHub's encrypted_value is).
Result<std::string> SealForGithub(const Secret& plaintext, std::string_view public_key);

}  // namespace keyrotor::destinations
