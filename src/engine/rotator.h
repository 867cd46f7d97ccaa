// The rotation engine: one IAM user's key rotation as a crash-safe state
// machine (journal.h), driven one run at a time.
//
//   planned -> key_created -> verified -> stored -> old_deactivated -> done
//                 \______________\___________-> rolling_back -> rolled_back
//
// Every transition is saved to the journal before its side effect. A run
// takes the user's lock, resumes the open rotation if there is one (finishing
// whatever a killed process left half done), or starts one when the policy
// says the key is due, then advances as far as time allows: in staged mode
// the old key is deactivated `deactivate_after` after its successor was
// created, and deleted `delete_after` later, by later runs.
//
// Invariants (checked by tests/integration/rotate_crash_test.cc):
//   - the new key is verified with STS before any destination gets it, and
//     before the old key is touched;
//   - a key whose secret keyrotor never saw (a lost CreateAccessKey response,
//     a process killed right after creating) is found and deleted;
//   - if the new key cannot be verified or stored it is deleted, the
//     destinations are restored and the old key stays: a managed user is
//     never left without a working key (except in delete-first mode);
//   - an active key that is not the managed old key is never deactivated or
//     deleted; the old key is not deactivated while it is still being used
//     (the last-used guard), until the policy's hard limit.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aws/clients.h"
#include "destinations/destination.h"
#include "engine/journal.h"
#include "engine/policy.h"
#include "notify/notifier.h"

namespace keyrotor::engine {

struct EngineOptions {
  Policy policy;
  // --to and --notify specs; "{user}" and "{account}" are replaced per user.
  std::vector<std::string> destinations;
  std::vector<std::string> notify;
  destinations::DestinationOptions destination_options;
  notify::NotifierOptions notifier_options;
  bool dry_run = false;  // decide and report; change nothing (not even the journal)
  // Before looking for keys a killed process may have created, wait until the
  // planned record is this old: IAM's ListAccessKeys is eventually consistent.
  Duration orphan_settle{5000};
};

// What bulk reads (GetAccountAuthorizationDetails, the credential report)
// already say about a user, so a fleet pass need not ask IAM per user.
struct UserFacts {
  std::optional<std::vector<aws::Tag>> tags;         // known: exemption by tag needs no ListUserTags
  std::optional<std::vector<std::string>> groups;    // known: exemption by group needs no ListGroupsForUser
  struct ReportedKey {
    bool active = false;
    TimePoint last_rotated{};  // created, or last changed (the report's "last rotated")
  };
  // From the credential report; unset when the user is not in it (made after
  // it was generated) or the report could not be read.
  std::optional<std::vector<ReportedKey>> keys;
};

// A report that one of the user's keys is exposed (an AWS Health event, or a
// person): the run responds instead of rotating on schedule (exposure.h,
// docs/leak-response.md). The policy's on_exposure, exposed_delete_after and
// exposure_lookup_* settings say how.
struct ExposureRequest {
  std::string access_key_id;
  std::string trigger = "manual";  // the Health event type, or "manual"
  std::string event_id;            // the Health event's ARN, if any
  TimePoint reported{};            // when it was reported (epoch: now)
};

// What a caller may ask beyond the policy (the CLI's --force, the classic
// Lambda events).
struct StepOverrides {
  bool force_rotate = false;    // start a rotation even if the key is not due
  bool deactivate_now = false;  // the old key's deactivation is due now (the last-used guard still applies)
  bool delete_now = false;      // the old key's deletion is due now (it must be Inactive)
  // Take over a rotation done by someone else (the classic Lambda flow): when
  // the user has no open rotation, treat `adopt_old_key_id` as the managed old
  // key and `adopt_new_key_id` as its successor already handed out.
  std::string adopt_old_key_id;
  std::string adopt_new_key_id;
  bool stop_after_store = false;  // do not retire the old key in this run (the classic "create" event)
  // An Inactive key known to be the previous managed key by other means (the
  // classic flow's AWSPREVIOUS): it may make room at the two-key limit.
  std::string known_retired_key_id;
  // Tags and groups read in bulk: a run starting a rotation uses them for the
  // exemptions instead of asking IAM again. Not owned; may be null.
  const UserFacts* facts = nullptr;
  // Respond to this exposed key (not owned; may be null). A rotation in
  // progress that retires the same key takes the response over; a second
  // report of the same key joins the response in progress.
  const ExposureRequest* exposure = nullptr;
  // Take back the open rotation whose new key this is, after the engine
  // handed it over (stored, or the old key already deactivated): the
  // caller's own hand-over failed later (a Keeper rotation's record update).
  // The old key is re-activated if keyrotor deactivated it, then the rotation
  // is abandoned as any other (destinations restored, the new key deleted).
  // Refused once the old key is gone: then there is nothing to go back to.
  std::string revert_new_key_id;
};

struct UserOutcome {
  enum class Result {
    kNotDue,      // nothing to do yet (see next_step_at)
    kProgressed,  // one or more steps done; more later
    kCompleted,   // the rotation finished (old key deleted)
    kDeferred,    // the old key is still in use: deactivation waits
    kSkipped,     // exempt, no key, or nothing keyrotor may touch
    kLocked,      // another keyrotor is working on this user
    kFailed,      // refused or failed; the journal and audit say why
    kRolledBack,  // the new key was abandoned; the old key stays
  };
  std::string user;
  std::string account;
  Result result = Result::kFailed;
  std::string rotation_id;
  std::string state;  // journal state after the run, empty when none
  std::string old_key_id;
  std::string new_key_id;
  std::vector<std::string> actions;  // what was done (or would be, in a dry run), in order
  // What this run did to keys, for callers that act on it (profiles rotate):
  // the new key when this run created it, and an inactive key it deleted to
  // make room under the two-key limit. Empty when it did not.
  std::string created_key_id;
  std::string deleted_inactive_key_id;
  std::string message;               // never a secret
  // Destinations an abandoned rotation could not restore: they may still hold
  // the abandoned key (deleted all the same) and need a person.
  std::vector<std::string> needs_attention;
  // Notifications this user's rotations still owe after the run: later runs
  // retry them. `notification_failures` counts this run's failed deliveries
  // (one per event and notifier); `notification_error` is the last one.
  std::vector<notify::EventKind> notifications_owed;
  int notification_failures = 0;
  std::string notification_error;  // "key_created -> sns:ARN: ..."; never a secret
  std::optional<TimePoint> next_step_at;
  // When the user's oldest active key was created, as this run saw it (for
  // key-age metrics); unset when the run did not learn it.
  std::optional<TimePoint> oldest_active_key_created;
  bool failed() const { return result == Result::kFailed || result == Result::kRolledBack; }
};
std::string ResultName(UserOutcome::Result result);  // "not_due", "progressed", ...
// {"user", "account", "result", "state", "rotation_id", "old_access_key_id",
//  "new_access_key_id", "actions", "message", "needs_attention", "notifications_owed",
//  "notification_failures", "notification_error", "next_step_at"?}: never a secret.
nlohmann::json OutcomeToJson(const UserOutcome& outcome);

// Checks every destination and notifier spec (with {user} and {account}
// filled in with examples) and the policy, so bad input is refused before
// anything changes.
Status ValidateEngineOptions(const EngineOptions& options, const aws::ClientFactory& admin);

class Rotator {
 public:
  // `admin` signs IAM calls (and Secrets Manager, SSM, SNS for destinations
  // and notifications); `journal` outlives the Rotator.
  Rotator(aws::ClientFactory admin, Journal* journal, EngineOptions options);

  // One run for one user. Thread-safe across users (fleet runs call it from
  // several threads); the journal's lock keeps two runs off the same user.
  UserOutcome RotateUser(const std::string& user, const StepOverrides& overrides = {});

  // Decides from bulk facts and the journal alone, without an IAM call,
  // whether `user` needs a run now: nullopt when it does (a key may be due,
  // a rotation is open, a notification is owed, or the facts do not tell);
  // otherwise the outcome a run would have reported (not due, exempt, no
  // key). The same rules as RotateUser's start; a run still re-reads the keys
  // before acting, because a credential report can be hours old.
  std::optional<UserOutcome> Triage(const std::string& user, const UserFacts& facts);

  // The account the admin credentials belong to (STS, asked once).
  Result<std::string> Account();

 private:
  class Run;
  aws::ClientFactory admin_;
  Journal* journal_;
  EngineOptions options_;
  std::mutex account_mu_;
  std::string account_;
};

}  // namespace keyrotor::engine
