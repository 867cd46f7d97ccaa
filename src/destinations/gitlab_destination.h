// GitLab CI/CD variables:
//   gitlab:PROJECT[#KEY][?OPTIONS]        project variables
//   gitlab-group:GROUP[#KEY][?OPTIONS]    group variables
// PROJECT / GROUP is a numeric id or a full path (group/subgroup/project).
// OPTIONS: masked=true|false (default true), protected=true|false (default
// true), environment_scope=SCOPE (default *), joined by '&'.
// Without KEY the key is written as two variables, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (what the AWS CLI reads in a job); with KEY as one
// variable holding the rendered value template (JSON), which GitLab cannot
// mask: such a spec needs masked=false.
//
// Write-only, like GitHub's secrets: keyrotor never reads a variable's value
// back (ReadsBack() false, Snapshot empty, Restore refused), so a value that
// left this machine is never fetched again.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "destinations/destination.h"
#include "destinations/gitlab_api.h"

namespace keyrotor::destinations {

struct GitlabTarget {
  bool group = false;
  std::string id;   // as written: a number or a full path
  std::string key;  // empty: the two AWS_* variables
  bool masked = true;
  bool protected_ = true;
  std::string environment_scope = "*";
  // "/projects/acme%2Fapp" or "/groups/42": the id URL-encoded as GitLab's
  // "Namespaced paths" asks.
  std::string ApiPath() const;
  // "project acme/app" / "group acme".
  std::string Noun() const;
};

// Parses what follows "gitlab:" or "gitlab-group:". InvalidArgument naming
// GitLab's rule that is broken.
Result<GitlabTarget> ParseGitlabSpec(std::string_view kind, std::string_view rest);

// Whether GitLab would accept `value` for a masked variable ("CI/CD
// variables", "Mask a CI/CD variable"; gitlab-org/gitlab#367220 words the
// rule): at least 8 characters, one line, only the Base64 alphabet (RFC 4648,
// standard and URL-safe) and @ : . ~. Newer GitLab releases accept more;
// this is the strictest rule still in supported versions, so a value it
// passes is masked everywhere. An AWS key id and secret always pass.
bool GitlabMaskable(std::string_view value);

class GitlabDestination : public Destination {
 public:
  GitlabDestination(std::string spec, GitlabTarget target, std::unique_ptr<GitlabApi> api, std::string value_template);
  std::string Describe() const override { return spec_; }
  bool ReadsBack() const override { return false; }
  Result<Secret> Snapshot(const KeyHandoff& key) override;
  // Creates each variable (POST); one that exists in this environment scope
  // (400 "has already been taken") is updated (PUT, filtered by scope).
  // Writing the same value again is harmless, so a repeated Put converges.
  Status Put(const KeyHandoff& key) override;
  // PermissionDenied, always: keyrotor does not read values back.
  Status Restore(const KeyHandoff& key, const Secret& snapshot) override;
  // The token (active, api scope) and its user's role on the project or group.
  Result<std::string> CheckAccess() override;

  GitlabApi* api() { return api_.get(); }

 private:
  Status PutOne(const std::string& key, const Secret& value);
  std::string spec_;
  GitlabTarget target_;
  std::unique_ptr<GitlabApi> api_;
  std::string value_template_;
};

Result<std::unique_ptr<Destination>> MakeGitlabDestination(std::string_view spec, std::string_view kind,
                                                           std::string_view rest, const aws::ClientFactory& aws,
                                                           const DestinationOptions& options);

// keyrotor policy: the token scope and the role.
std::vector<std::string> GitlabRequirements(const GitlabTarget& target);

}  // namespace keyrotor::destinations
