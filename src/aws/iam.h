// IAM (query protocol, API 2010-05-08): the calls keyrotor needs, typed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aws/client.h"
#include "base/secret.h"

namespace keyrotor::aws {

struct Tag {
  std::string key;
  std::string value;
};

struct IamUser {
  std::string path;
  std::string user_name;
  std::string user_id;
  std::string arn;
  TimePoint create_date;
  std::vector<Tag> tags;
};

struct AccessKeyMetadata {
  std::string user_name;
  std::string access_key_id;
  std::string status;  // "Active" | "Inactive"
  TimePoint create_date;
  bool active() const { return status == "Active"; }
};

struct NewAccessKey {
  AccessKeyMetadata metadata;
  Secret secret_access_key;
};

// A managed policy attached to a user (ListAttachedUserPolicies).
struct AttachedPolicy {
  std::string policy_name;
  std::string policy_arn;
};

struct AccessKeyLastUsed {
  std::string user_name;
  std::optional<TimePoint> last_used_date;  // absent: never used
  std::string service_name;                 // "N/A" when never used
  std::string region;
};

struct IamGroup {
  std::string path;
  std::string group_name;
  std::string group_id;
  std::string arn;
};

struct SimulatedDecision {
  std::string action;    // "iam:CreateAccessKey"
  std::string decision;  // "allowed" | "explicitDeny" | "implicitDeny"
  bool allowed() const { return decision == "allowed"; }
};

// A user as GetAccountAuthorizationDetails describes it: with its groups and tags.
struct IamUserDetail {
  IamUser user;  // tags included
  std::vector<std::string> groups;  // group names
};

struct AuthorizationDetails {
  std::vector<IamUserDetail> users;
  std::vector<std::string> group_names;  // every group of the account
};

// GenerateCredentialReport's answer.
enum class ReportState { kStarted, kInProgress, kComplete };

struct CredentialReport {
  std::string csv;  // decoded Content
  TimePoint generated;
};

// IAM user names: [\w+=,.@-]{1,64} for new users, up to 128 as a parameter.
bool IsValidUserName(std::string_view name, size_t max_len = 128);

class IamClient : public QueryClient {
 public:
  IamClient(ClientContext context, ServiceEndpoint endpoint);

  // user empty = the caller.
  Result<IamUser> GetUser(const std::string& user = "");
  // Pages of up to 1,000 users (MaxItems), the most IAM sends at once.
  Result<std::vector<IamUser>> ListUsers(const std::string& path_prefix = "");
  // Every user with groups, path and tags, and every group's name
  // (Filter=User, Group), 1,000 entities a page.
  Result<AuthorizationDetails> GetUsersAndGroups();
  Result<ReportState> GenerateCredentialReport();
  Result<CredentialReport> GetCredentialReport();
  Result<std::vector<AccessKeyMetadata>> ListAccessKeys(const std::string& user = "");
  // CreateAccessKey is not idempotent. When its outcome is unknown (timeout,
  // reset after sending), the key may exist with a secret we never saw: we list
  // the user's keys, delete any key that was not there before, and try again,
  // so no key we cannot use survives.
  Result<NewAccessKey> CreateAccessKey(const std::string& user = "");
  // The same, when the caller has just listed the user's keys itself: the
  // listing is the "before" that a lost response is compared with, and no
  // second ListAccessKeys is made.
  Result<NewAccessKey> CreateAccessKey(const std::string& user, const std::vector<std::string>& keys_before);
  Status UpdateAccessKey(const std::string& user, const std::string& access_key_id, bool active);
  Status DeleteAccessKey(const std::string& user, const std::string& access_key_id);
  Result<AccessKeyLastUsed> GetAccessKeyLastUsed(const std::string& access_key_id);
  Result<std::vector<Tag>> ListUserTags(const std::string& user);
  Result<std::vector<AttachedPolicy>> ListAttachedUserPolicies(const std::string& user);
  Result<std::vector<IamGroup>> ListGroupsForUser(const std::string& user);
  // The group's members.
  Result<std::vector<IamUser>> GetGroup(const std::string& group);

  // What the principal's policies allow, one decision per action (all resources).
  Result<std::vector<SimulatedDecision>> SimulatePrincipalPolicy(const std::string& policy_source_arn,
                                                                 const std::vector<std::string>& actions);

  // Used by the demo and tests to build fleets.
  Result<IamUser> CreateUser(const std::string& user, const std::string& path = "/", const std::vector<Tag>& tags = {});

 private:
  Result<NewAccessKey> CreateAccessKeyOnce(const std::string& user);
};

}  // namespace keyrotor::aws
