// Everything the sandbox remembers: one account's IAM users, keys and groups,
// STS sessions, secrets, parameters and topics. Plain data guarded by the
// Sandbox's mutex; the services mutate it, the authenticator reads it.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/secret.h"
#include "sandbox/sandbox.h"

namespace keyrotor::sandbox {

struct AccessKeyRecord {
  std::string id;        // AKIA...
  std::string user_key;  // the owner's lower-cased name (State::users key)
  std::string user_id;   // the owner's AIDA... id: a later user of the same name does not inherit the key
  Secret secret;
  TimePoint created;
  bool active = true;
  bool deleted = false;  // kept only while a deleted key still signs (consistency window)
  // When the key became usable (true) or unusable (false) for signing, in
  // time order. Authentication reads the entry in force consistency_ms ago,
  // which is how a new key is refused and a deleted one accepted for a while.
  std::vector<std::pair<TimePoint, bool>> signing_history;
  std::optional<KeyUse> last_used;

  bool SignsAt(TimePoint now, Duration consistency) const;
};

struct Tag {
  std::string key;
  std::string value;
};

struct UserRecord {
  std::string name;  // as created
  std::string id;    // AIDA...
  std::string path;
  std::string arn;
  TimePoint created;
  std::vector<Tag> tags;  // insertion order
  UserPermissions permissions = UserPermissions::kSelfManageKeys;
  std::vector<std::string> key_ids;  // live keys, creation order
  std::set<std::string> groups;      // lower-cased group names
  std::vector<std::string> attached_policies;  // managed policy ARNs, attach order (iam_policies.cc)
};

struct GroupRecord {
  std::string name, id, path, arn;
  TimePoint created;
  std::set<std::string> members;  // lower-cased user names
};

// Temporary credentials from AssumeRole / AssumeRoleWithWebIdentity.
struct RoleSession {
  std::string access_key_id;  // ASIA...
  Secret secret;
  Secret session_token;
  TimePoint expiration;
  std::string role_name;
  std::string assumed_role_id;   // AROA...:session
  std::string assumed_role_arn;  // arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
};

struct SecretVersion {
  std::string id;
  Secret value;  // SecretString, or the raw bytes of SecretBinary
  bool binary = false;
  TimePoint created;
  std::vector<std::string> stages;
};

struct SecretRecord {
  std::string name, arn, description, kms_key_id;
  TimePoint created, last_changed;
  std::optional<TimePoint> last_accessed;
  std::vector<Tag> tags;
  std::vector<SecretVersion> versions;  // creation order

  SecretVersion* FindVersion(std::string_view id);
  SecretVersion* VersionWithStage(std::string_view stage);
};

struct ParameterVersion {
  int64_t version = 0;
  Secret value;
  std::string type;  // String | StringList | SecureString
  std::string key_id;
  std::string description;
  std::string tier;
  std::string ciphertext;  // SecureString: what GetParameter returns without WithDecryption
  TimePoint modified;
};

struct ParameterRecord {
  std::string name;
  std::vector<ParameterVersion> versions;  // oldest first
};

struct Topic {
  std::string name, arn;
};

// A role another account may assume. Only accounts made by the sandbox's
// Organization have explicit roles; the home account keeps its old rule
// (every role ARN exists and trusts the account's own admins).
struct RoleRecord {
  std::string name;
  std::set<std::string> trusted_accounts;  // account ids whose admins may assume it
};

// The IAM credential report (GenerateCredentialReport): a CSV snapshot made
// when generation starts, visible once `ready`.
struct CredentialReportRecord {
  TimePoint started;
  TimePoint ready;
  std::string csv;
};

// One served request, as CloudTrail's event history records it
// (cloudtrail_service.cc). `sequence` orders them: LookupEvents pages newest
// first by it, so events recorded while a client pages do not shift pages.
struct TrailRecord {
  uint64_t sequence = 0;
  std::string event_id;
  TimePoint time;
  std::string event_name;    // the operation
  std::string event_source;  // "iam.amazonaws.com"
  std::string access_key_id;
  std::string user_name;      // the signing user; the role session's name for an assumed role
  std::string principal_arn;
  std::string identity_type;  // "IAMUser" | "AssumedRole"
  std::string region;         // awsRegion: us-east-1 for IAM and Organizations
  std::string source_ip;
  std::string error_code;  // empty: the call succeeded
  bool read_only = false;
};
inline constexpr size_t kTrailCapacity = 200000;

class State;

// AWS Organizations, as the sandbox keeps it (organization.cc).
struct OrgAccount {
  std::string id, name, email;
  std::string state = "ACTIVE";  // ACTIVE | SUSPENDED | PENDING_CLOSURE | CLOSED
  std::string parent_id;          // r-... or ou-...
  TimePoint joined;
};

struct OrgUnit {
  std::string id, name, parent_id;
};

struct Organization {
  std::string id;       // o-...
  std::string root_id;  // r-...
  std::string management_account;
  std::string management_email;
  std::vector<OrgAccount> accounts;  // creation order, the management account first
  std::vector<OrgUnit> units;        // creation order
  std::set<std::string> delegated_administrators;

  std::string Arn() const;
  std::string AccountArn(const std::string& account_id) const;
  std::string UnitArn(const std::string& unit_id) const;
  std::string RootArn() const;
  bool HasParent(std::string_view parent_id) const;
};

// Every account the sandbox serves: the home account (SandboxOptions::
// account_id) and an Organization's members. Guarded by the Sandbox's mutex.
struct World {
  std::map<std::string, std::unique_ptr<State>> accounts;  // by account id
  std::optional<Organization> org;

  State* Find(std::string_view account_id);
};

class State {
 public:
  State(const SandboxOptions& options, std::string account_id, World* world);

  UserRecord* FindUser(std::string_view name);
  const UserRecord* FindUser(std::string_view name) const;
  GroupRecord* FindGroup(std::string_view name);
  // A live (not deleted) key.
  AccessKeyRecord* FindLiveKey(std::string_view id);

  // Creates the user; the caller has validated the name and checked it is free.
  UserRecord& AddUser(const std::string& name, const std::string& path, TimePoint now);
  // Adds a key without checking the per-user quota (callers do).
  AccessKeyRecord& AddKey(UserRecord& user, TimePoint created);
  void SetKeyActive(AccessKeyRecord& key, bool active, TimePoint now);
  void DeleteKey(AccessKeyRecord& key, TimePoint now);
  // Drops deleted keys whose consistency window has passed.
  void PurgeDeletedKeys(TimePoint now);

  std::string RoleId(const std::string& role_name);  // stable AROA... per role name

  std::string UserArn(const std::string& path, const std::string& name) const;

  const SandboxOptions& options;
  std::string account_id;
  World* world;  // every account, for AssumeRole and Organizations
  Duration consistency;
  std::map<std::string, UserRecord> users;  // by lower-cased name: unique case-insensitively, listed in name order
  std::unordered_map<std::string, AccessKeyRecord> keys;       // live keys and recently deleted ones
  std::deque<std::pair<TimePoint, std::string>> deleted_keys;  // deletion time order, for purging
  std::map<std::string, GroupRecord> groups;                   // by lower-cased name
  std::map<std::string, std::string> role_ids;                 // role name -> AROA...
  bool implicit_roles = true;                                  // any role exists (the home account)
  std::map<std::string, RoleRecord> roles;                     // explicit roles, by name
  std::optional<CredentialReportRecord> credential_report;
  // Actions ("iam:GetCredentialReport") an explicit deny takes from every
  // principal of this account: what a permissions boundary or an SCP does.
  std::set<std::string> denied_actions;
  // CloudTrail's event history of this account, oldest first, at most
  // kTrailCapacity records (the oldest are dropped).
  std::deque<TrailRecord> trail;
  uint64_t trail_sequence = 0;
  std::unordered_map<std::string, RoleSession> sessions;       // by ASIA... id
  std::map<std::string, SecretRecord> secrets;                 // by name
  std::map<std::string, ParameterRecord> parameters;           // by name
  std::map<std::string, Topic> topics;                         // by ARN
  std::vector<PublishedMessage> published;
  std::string kms_key;  // stands in for KMS: keys the opaque SecureString ciphertext
};

// "AKIA" + 16 chars of [A-Z2-7], the shape of real unique ids (aws-wire.md §2.1).
std::string NewUniqueId(std::string_view prefix, size_t random_chars);
// 40 chars of [A-Za-z0-9+/].
Secret NewSecretAccessKey();

}  // namespace keyrotor::sandbox
