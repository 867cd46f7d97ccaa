#include "engine/rotator.h"

#include <algorithm>
#include <map>
#include <set>

#include "aws/retry.h"
#include "base/crypto.h"
#include "destinations/destination_util.h"
#include "engine/verify.h"

namespace keyrotor::engine {
namespace {

using Outcome = UserOutcome::Result;
using Step = DestinationProgress::Step;

constexpr char kNewSecretSlot[] = "new_secret";
SealedChanges WipeAllSealed() {
  SealedChanges c;
  c.wipe_all = true;
  return c;
}
std::string UndoSlot(size_t i) { return "undo/" + std::to_string(i); }

int64_t AgeDays(TimePoint now, TimePoint then) {
  return std::chrono::duration_cast<Days>(now - then).count();
}

const aws::AccessKeyMetadata* FindKey(const std::vector<aws::AccessKeyMetadata>& keys, const std::string& id) {
  for (const auto& k : keys) {
    if (k.access_key_id == id) return &k;
  }
  return nullptr;
}

// How many runs try to restore a destination whose restore failed in a way
// that may pass (a network error, throttling, a program that timed out): this
// one and the next two. Meanwhile the abandoned key stays (its secret sealed)
// in case the destination still uses it; then the destination is given up as
// needing attention and the key is deleted, so a rollback always ends. Any
// other failure (a program missing or refusing, access denied) is given up at
// once: a later run would fail the same way.
constexpr int kMaxRestoreAttempts = 3;

bool MayPass(const Status& s) {
  return aws::Classify(s, /*idempotent=*/true) != aws::RetryClass::kNone || s.code() == StatusCode::kIoError;
}

// A delete retried after the key vanished has done its job.
Status DeleteKey(aws::IamClient& iam, const std::string& user, const std::string& id) {
  Status s = iam.DeleteAccessKey(user, id);
  return s.IsAws("NoSuchEntity") ? Status::Ok() : s;
}

}  // namespace

std::string ResultName(UserOutcome::Result result) {
  switch (result) {
    case Outcome::kNotDue: return "not_due";
    case Outcome::kProgressed: return "progressed";
    case Outcome::kCompleted: return "completed";
    case Outcome::kDeferred: return "deferred";
    case Outcome::kSkipped: return "skipped";
    case Outcome::kLocked: return "locked";
    case Outcome::kFailed: return "failed";
    case Outcome::kRolledBack: return "rolled_back";
  }
  return "unknown";
}

nlohmann::json OutcomeToJson(const UserOutcome& o) {
  nlohmann::json j = {{"user", o.user},
                      {"account", o.account},
                      {"result", ResultName(o.result)},
                      {"state", o.state},
                      {"rotation_id", o.rotation_id},
                      {"old_access_key_id", o.old_key_id},
                      {"new_access_key_id", o.new_key_id},
                      {"actions", o.actions},
                      {"message", o.message},
                      {"needs_attention", o.needs_attention},
                      {"notifications_owed", nlohmann::json::array()},
                      {"notification_failures", o.notification_failures},
                      {"notification_error", o.notification_error}};
  for (notify::EventKind kind : o.notifications_owed) j["notifications_owed"].push_back(notify::EventName(kind));
  if (o.next_step_at) j["next_step_at"] = FormatIso8601(*o.next_step_at);
  return j;
}

// One run over one user. Each Step* method either moves record_ to its next
// state (saved before the side effect that follows it) and returns true, or
// fills out_ and returns false to end the run.
class Rotator::Run {
 public:
  Run(Rotator& rotator, std::string user, const StepOverrides& overrides)
      : r_(rotator), opts_(rotator.options_), policy_(rotator.options_.policy), o_(overrides) {
    out_.user = std::move(user);
  }

  UserOutcome Go();

 private:
  Clock* clock() const { return r_.admin_.context().clock; }
  TimePoint Now() const { return clock()->Now(); }
  const std::string& user() const { return out_.user; }

  bool Start();
  bool Adopt();
  bool StepPlanned();
  bool StepKeyCreated();
  bool StepVerified();
  bool StepStored();
  bool StepOldDeactivated();
  bool StepRollingBack();

  // Ends the run with `result`.
  bool Stop(Outcome result, std::string message) {
    out_.result = result;
    out_.message = std::move(message);
    return false;
  }
  bool Fail(const Status& status) {
    if (!record_.id.empty() && !opts_.dry_run) {
      // A refusal (the new key gone, the old one re-activated...) needs a
      // person: tell the owners once. Transient errors just retry next run.
      bool first = record_.last_error != status.ToString();
      record_.last_error = status.ToString();
      if (first && status.code() == StatusCode::kFailedPrecondition) Owe(notify::EventKind::kRotationFailed);
      (void)Save();
      DrainEvents();
    }
    Audit("run", "failed", "", "", status.ToString());
    return Stop(Outcome::kFailed, status.ToString());
  }
  // Nothing (more) is due now; "progressed" when this run did something.
  bool NotDue(TimePoint at, std::string message) {
    out_.next_step_at = at;
    return Stop(out_.actions.empty() ? Outcome::kNotDue : Outcome::kProgressed, std::move(message));
  }
  // A dry run reports the side effect it reached and stops there.
  bool Would(std::string action) {
    out_.actions.push_back("would " + action);
    return Stop(Outcome::kProgressed, "dry run: nothing changed");
  }
  bool BeginRollback(const Status& why);
  // Ends a rollback's run early, to be resumed by the next run; unlike Fail it
  // keeps record_.last_error, the reason the rotation was abandoned.
  bool RetryLater(const std::string& why) {
    Audit("run", "failed", "", "", why);
    DrainEvents();
    return Stop(Outcome::kFailed, why);
  }

  Status Save(const SealedChanges& sealed = {}) { return Save(record_, sealed); }
  Status Save(RotationRecord& record, const SealedChanges& sealed = {}) {
    if (opts_.dry_run) return Status::Ok();
    record.updated = Now();
    return r_.journal_->Save(record, sealed);
  }
  // Saves, and ends the run if the journal cannot be written: a step whose
  // transition is not durable must not be followed by its side effect.
  bool SaveOrStop(const SealedChanges& sealed = {}) {
    Status s = Save(sealed);
    if (s.ok()) return true;
    return Stop(Outcome::kFailed, s.WithContext("writing the journal").ToString());
  }
  void Audit(const std::string& action, const std::string& outcome, const std::string& key_id,
             const std::string& request_id, const std::string& detail) {
    Audit(record_, action, outcome, key_id, request_id, detail);
  }
  void Audit(const RotationRecord& record, const std::string& action, const std::string& outcome,
             const std::string& key_id, const std::string& request_id, const std::string& detail) {
    if (opts_.dry_run) return;
    AuditRecord a;
    a.time = Now();
    a.rotation_id = record.id;
    a.account = out_.account;
    a.user = user();
    a.action = action;
    a.outcome = outcome;
    a.access_key_id = key_id;
    a.request_id = request_id;
    a.detail = detail;
    (void)r_.journal_->AppendAudit(a);  // the audit trail must not stop a rotation half way
    if (outcome != "ok") return;
    // What the run did, for people: "create_key AKIA...", "store secretsmanager:app/x".
    bool names_target = action == "store" || action == "notify";
    std::string what = names_target ? detail : key_id;
    out_.actions.push_back(action + (what.empty() ? "" : " " + what));
  }
  void Owe(notify::EventKind kind) { record_.pending_events.push_back(kind); }
  // Sends what `record` owes to the notifiers it recorded (its own, whatever
  // today's options say), keeps what could not be delivered, and saves it.
  void DrainEvents(RotationRecord& record);
  void DrainEvents() { DrainEvents(record_); }
  // The new key's secret: in memory since this run created it, else unsealed.
  Result<Secret> NewSecret();
  destinations::KeyHandoff Handoff(const Secret& secret) const {
    return {record_.id, record_.account, record_.user, record_.new_key_id, secret, record_.new_key_created,
            record_.old_key_id};
  }
  bool IsKnownRetiredKey(const std::string& key_id);
  Result<std::vector<aws::AccessKeyMetadata>> ListKeys() { return iam_->ListAccessKeys(user()); }

  Rotator& r_;
  const EngineOptions& opts_;
  const Policy& policy_;
  StepOverrides o_;
  UserOutcome out_;
  std::optional<aws::IamClient> iam_;
  RotationRecord record_;
  bool resumed_ = false;
  std::optional<Secret> new_secret_;
  // Notifiers by spec, made once per run: the notifier, or why it could not be made.
  std::map<std::string, Result<std::unique_ptr<notify::Notifier>>> notifiers_;
};

UserOutcome Rotator::Run::Go() {
  if (!aws::IsValidUserName(user())) {
    return Stop(Outcome::kFailed, "invalid IAM user name (must be 1-128 of letters, digits and +=,.@_-)"), out_;
  }
  Result<std::string> account = r_.Account();
  if (!account.ok()) return Stop(Outcome::kFailed, account.status().WithContext("identifying the account").ToString()), out_;
  out_.account = *account;
  Result<aws::IamClient> iam = r_.admin_.Iam();
  if (!iam.ok()) return Stop(Outcome::kFailed, iam.status().ToString()), out_;
  iam_.emplace(std::move(iam).value());

  Result<std::unique_ptr<UserLock>> lock = r_.journal_->TryLockUser(out_.account, user());
  if (!lock.ok()) return Stop(Outcome::kFailed, lock.status().ToString()), out_;
  if (!*lock) return Stop(Outcome::kLocked, "another keyrotor is working on this user"), out_;

  // Notifications finished rotations still owe (their notifier was down, or
  // the process died between the last transition and sending them).
  if (!opts_.dry_run) {
    Result<std::vector<RotationRecord>> past = r_.journal_->Rotations(out_.account, user());
    if (past.ok()) {
      for (RotationRecord& rec : *past) {
        if (IsTerminal(rec.state) && !rec.pending_events.empty()) {
          DrainEvents(rec);
          out_.notifications_owed.insert(out_.notifications_owed.end(), rec.pending_events.begin(),
                                         rec.pending_events.end());
        }
      }
    }
  }

  Result<std::optional<RotationRecord>> open = r_.journal_->OpenRotation(out_.account, user());
  if (!open.ok()) return Stop(Outcome::kFailed, open.status().ToString()), out_;
  bool go_on;
  if (open->has_value()) {
    record_ = std::move(**open);
    resumed_ = true;
    go_on = true;
    DrainEvents();  // notifications an earlier run could not deliver
  } else {
    go_on = o_.adopt_old_key_id.empty() ? Start() : Adopt();
  }
  // Each pass moves one state; a rotation has at most seven.
  for (int guard = 0; go_on && guard < 16; ++guard) {
    switch (record_.state) {
      case RotationState::kPlanned: go_on = StepPlanned(); break;
      case RotationState::kKeyCreated: go_on = StepKeyCreated(); break;
      case RotationState::kVerified: go_on = StepVerified(); break;
      case RotationState::kStored: go_on = StepStored(); break;
      case RotationState::kOldDeactivated: go_on = StepOldDeactivated(); break;
      case RotationState::kRollingBack: go_on = StepRollingBack(); break;
      case RotationState::kDone: go_on = Stop(Outcome::kCompleted, "rotation complete"); break;
      case RotationState::kRolledBack: go_on = Stop(Outcome::kRolledBack, record_.last_error); break;
    }
  }
  out_.rotation_id = record_.id;
  out_.state = record_.id.empty() ? "" : StateName(record_.state);
  if (!record_.id.empty()) {
    out_.old_key_id = record_.old_key_id;
    out_.new_key_id = record_.new_key_id;
    if (!opts_.dry_run) {
      out_.notifications_owed.insert(out_.notifications_owed.end(), record_.pending_events.begin(),
                                     record_.pending_events.end());
    }
    for (const DestinationProgress& d : record_.destinations) {
      if (d.step == Step::kNeedsAttention) out_.needs_attention.push_back(d.spec);
    }
    if (!out_.oldest_active_key_created) {
      // The old key stays active until its deactivation; after that the new one is the oldest.
      bool old_active = record_.state == RotationState::kPlanned || record_.state == RotationState::kKeyCreated ||
                        record_.state == RotationState::kVerified || record_.state == RotationState::kStored ||
                        record_.state == RotationState::kRollingBack || record_.state == RotationState::kRolledBack;
      if (old_active && record_.mode != RotationMode::kDeleteFirst) {
        out_.oldest_active_key_created = record_.old_key_created;
      } else if (!record_.new_key_id.empty()) {
        out_.oldest_active_key_created = record_.new_key_created;
      }
    }
  }
  return out_;
}

bool Rotator::Run::IsKnownRetiredKey(const std::string& key_id) {
  if (!o_.known_retired_key_id.empty() && key_id == o_.known_retired_key_id) return true;
  Result<std::vector<RotationRecord>> past = r_.journal_->Rotations(out_.account, user());
  if (!past.ok()) return false;
  return std::any_of(past->begin(), past->end(), [&](const RotationRecord& rec) {
    return rec.old_key_id == key_id &&
           (rec.state == RotationState::kOldDeactivated || rec.state == RotationState::kDone);
  });
}

// No open rotation: is one due?
bool Rotator::Run::Start() {
  if (!policy_.exempt_tags.empty()) {
    Result<std::vector<aws::Tag>> tags = iam_->ListUserTags(user());
    if (!tags.ok()) return Fail(tags.status().WithContext("reading the user's tags"));
    for (const aws::Tag& t : *tags) {
      for (const aws::Tag& e : policy_.exempt_tags) {
        if (t.key == e.key && t.value == e.value) return Stop(Outcome::kSkipped, "exempt by tag " + e.key + "=" + e.value);
      }
    }
  }
  if (!policy_.exempt_groups.empty()) {
    Result<std::vector<aws::IamGroup>> groups = iam_->ListGroupsForUser(user());
    if (!groups.ok()) return Fail(groups.status().WithContext("reading the user's groups"));
    for (const aws::IamGroup& g : *groups) {
      if (std::find(policy_.exempt_groups.begin(), policy_.exempt_groups.end(), g.group_name) !=
          policy_.exempt_groups.end()) {
        return Stop(Outcome::kSkipped, "exempt as a member of group " + g.group_name);
      }
    }
  }
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  std::vector<const aws::AccessKeyMetadata*> active;
  const aws::AccessKeyMetadata* inactive = nullptr;
  for (const auto& k : *keys) (k.active() ? active.push_back(&k) : void(inactive = &k));
  if (active.empty()) {
    return Stop(Outcome::kSkipped, keys->empty() ? "user has no access key" : "user has no active access key");
  }
  for (const aws::AccessKeyMetadata* k : active) {
    if (!out_.oldest_active_key_created || k->create_date < *out_.oldest_active_key_created) {
      out_.oldest_active_key_created = k->create_date;
    }
  }
  if (active.size() > 1) {
    return Fail(Status::FailedPrecondition("user has two active keys (" + active[0]->access_key_id + " and " +
                                           active[1]->access_key_id +
                                           "): keyrotor rotates a user's one active key and never retires a key "
                                           "it cannot tell is unused; deactivate the one not in use"));
  }
  const aws::AccessKeyMetadata& old = *active[0];
  Duration threshold = policy_.RotationThreshold();
  if (!o_.force_rotate && Now() - old.create_date < threshold) {
    return NotDue(old.create_date + threshold, "key " + old.access_key_id + " is " +
                                                   std::to_string(AgeDays(Now(), old.create_date)) +
                                                   " days old; due at " + FormatDuration(threshold));
  }
  // The two-key limit: decided before anything is created.
  if (inactive && policy_.mode != RotationMode::kDeleteFirst && !policy_.delete_unknown_inactive &&
      !IsKnownRetiredKey(inactive->access_key_id)) {
    return Fail(Status::FailedPrecondition(
        "user is at the two-key limit with inactive key " + inactive->access_key_id +
        " that keyrotor did not retire; delete it, or allow deleting unknown inactive keys"));
  }
  std::string reason = o_.force_rotate ? "forced" : "key " + std::to_string(AgeDays(Now(), old.create_date)) +
                                                        " days old";
  if (opts_.dry_run) {
    if (inactive && policy_.mode != RotationMode::kDeleteFirst) {
      out_.actions.push_back("would delete inactive key " + inactive->access_key_id + " (two-key limit)");
    }
    if (policy_.mode == RotationMode::kDeleteFirst) out_.actions.push_back("would delete old key " + old.access_key_id);
    out_.old_key_id = old.access_key_id;
    return Would("create a new key to replace " + old.access_key_id + " (" + reason + ", mode " +
                 ModeName(policy_.mode) + ")");
  }
  // Before the record exists: a spec this user cannot have fails the run, nothing changed.
  Result<std::vector<std::string>> destination_specs =
      destinations::ExpandSpecs(opts_.destinations, user(), out_.account);
  if (!destination_specs.ok()) return Fail(destination_specs.status());
  Result<std::vector<std::string>> notify_specs = destinations::ExpandSpecs(opts_.notify, user(), out_.account);
  if (!notify_specs.ok()) return Fail(notify_specs.status());
  record_.id = RandomUuid();
  record_.account = out_.account;
  record_.user = user();
  record_.mode = policy_.mode;
  record_.state = RotationState::kPlanned;
  record_.old_key_id = old.access_key_id;
  record_.old_key_created = old.create_date;
  for (const auto& k : *keys) record_.keys_before.push_back(k.access_key_id);
  record_.started = Now();
  for (std::string& spec : *destination_specs) record_.destinations.push_back({std::move(spec), Step::kPending});
  record_.notify = std::move(*notify_specs);
  if (!SaveOrStop()) return false;
  Audit("plan", "ok", old.access_key_id, "", "rotation started (" + reason + ", mode " + ModeName(policy_.mode) + ")");
  return true;
}

// The classic Lambda flow created the new key itself: take the rotation over
// at the point it reached, so the engine's guards apply to the retirement.
bool Rotator::Run::Adopt() {
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* old_key = FindKey(*keys, o_.adopt_old_key_id);
  const aws::AccessKeyMetadata* new_key = FindKey(*keys, o_.adopt_new_key_id);
  if (!old_key) return Stop(Outcome::kSkipped, "key " + o_.adopt_old_key_id + " no longer exists: nothing to retire");
  if (o_.adopt_old_key_id == o_.adopt_new_key_id || !new_key || !new_key->active()) {
    return Fail(Status::FailedPrecondition("the current key " + o_.adopt_new_key_id +
                                           " is not an active key of the user: not retiring " + o_.adopt_old_key_id));
  }
  if (opts_.dry_run) return Would("take over the rotation from " + old_key->access_key_id + " to " + new_key->access_key_id);
  Result<std::vector<std::string>> notify_specs = destinations::ExpandSpecs(opts_.notify, user(), out_.account);
  if (!notify_specs.ok()) return Fail(notify_specs.status());
  record_.id = RandomUuid();
  record_.account = out_.account;
  record_.user = user();
  record_.mode = RotationMode::kStaged;
  record_.old_key_id = old_key->access_key_id;
  record_.old_key_created = old_key->create_date;
  for (const auto& k : *keys) record_.keys_before.push_back(k.access_key_id);
  record_.new_key_id = new_key->access_key_id;
  record_.new_key_created = new_key->create_date;
  record_.handed_out = new_key->create_date;
  record_.started = Now();
  record_.state = old_key->active() ? RotationState::kStored : RotationState::kOldDeactivated;
  if (!old_key->active()) record_.old_deactivated = Now();
  record_.notify = std::move(*notify_specs);
  if (!SaveOrStop()) return false;
  Audit("adopt", "ok", old_key->access_key_id, "", "took over the rotation to " + new_key->access_key_id);
  return true;
}

bool Rotator::Run::StepPlanned() {
  if (opts_.dry_run) return Would("resume rotation " + record_.id + ": create the new key");
  // A process killed between CreateAccessKey and the journal leaves a key
  // whose secret nobody has. Give IAM's listing time to show it first.
  if (resumed_ && opts_.orphan_settle.count() > 0) {
    TimePoint settled = record_.updated + opts_.orphan_settle;
    if (Now() < settled) clock()->SleepFor(std::chrono::duration_cast<Duration>(settled - Now()));
  }
  Result<std::vector<aws::AccessKeyMetadata>> listed = ListKeys();
  if (!listed.ok()) return Fail(listed.status().WithContext("listing the user's keys"));
  std::vector<aws::AccessKeyMetadata> keys;
  for (const auto& k : *listed) {
    bool known = std::find(record_.keys_before.begin(), record_.keys_before.end(), k.access_key_id) !=
                 record_.keys_before.end();
    if (known) {
      keys.push_back(k);
      continue;
    }
    Status deleted = DeleteKey(*iam_, user(), k.access_key_id);
    Audit("delete_orphan", deleted.ok() ? "ok" : "failed", k.access_key_id, iam_->last_request_id(),
          deleted.ok() ? "a key created by an interrupted run; its secret was never stored" : deleted.ToString());
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting orphan key " + k.access_key_id));
  }
  if (record_.mode == RotationMode::kDeleteFirst) {
    if (const aws::AccessKeyMetadata* old = FindKey(keys, record_.old_key_id)) {
      Status deleted = DeleteKey(*iam_, user(), old->access_key_id);
      if (!deleted.ok()) return Fail(deleted.WithContext("deleting the old key first"));
      Audit("delete_old", "ok", record_.old_key_id, iam_->last_request_id(), "delete-first mode");
      Owe(notify::EventKind::kOldKeyDeleted);
      keys.erase(std::remove_if(keys.begin(), keys.end(),
                                [&](const auto& k) { return k.access_key_id == record_.old_key_id; }),
                 keys.end());
    }
  }
  // Two-key limit: only an Inactive key keyrotor retired (or, when allowed,
  // any Inactive key) makes room. Never an active one.
  if (keys.size() >= 2) {
    const aws::AccessKeyMetadata* other = nullptr;
    for (const auto& k : keys) {
      if (k.access_key_id != record_.old_key_id) other = &k;
    }
    if (!other || other->active()) {
      return BeginRollback(Status::FailedPrecondition("user has two active keys; not creating a third"));
    }
    if (!policy_.delete_unknown_inactive && !IsKnownRetiredKey(other->access_key_id)) {
      return BeginRollback(Status::FailedPrecondition("user is at the two-key limit with inactive key " +
                                                      other->access_key_id + " that keyrotor did not retire"));
    }
    Status deleted = DeleteKey(*iam_, user(), other->access_key_id);
    Audit("delete_inactive", deleted.ok() ? "ok" : "failed", other->access_key_id, iam_->last_request_id(),
          "two-key limit");
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting inactive key " + other->access_key_id));
  }
  Result<aws::NewAccessKey> created = iam_->CreateAccessKey(user());
  if (!created.ok()) {
    Audit("create_key", "failed", "", "", created.status().ToString());
    // A lost response the client could not reconcile: the orphan check above
    // runs again on the next attempt, so stay planned.
    if (created.status().IsUnknownOutcome() || created.status().code() == StatusCode::kNetworkError) {
      return Fail(created.status().WithContext("creating the new key"));
    }
    return BeginRollback(created.status().WithContext("creating the new key"));
  }
  record_.new_key_id = created->metadata.access_key_id;
  record_.new_key_created = created->metadata.create_date;
  record_.state = RotationState::kKeyCreated;
  new_secret_ = created->secret_access_key;
  Status saved = Save({.put = {{kNewSecretSlot, &*new_secret_}}});
  if (!saved.ok()) {
    // Without a durable record the key must not survive this process.
    Status deleted = DeleteKey(*iam_, user(), record_.new_key_id);
    return Stop(Outcome::kFailed, saved.WithContext("writing the journal").ToString() +
                                      (deleted.ok() ? "; new key deleted" : "; new key could NOT be deleted"));
  }
  Audit("create_key", "ok", record_.new_key_id, iam_->last_request_id(), "");
  return true;
}

Result<Secret> Rotator::Run::NewSecret() {
  if (new_secret_) return *new_secret_;
  KR_ASSIGN_OR_RETURN(std::optional<Secret> sealed, r_.journal_->GetSealed(record_.id, kNewSecretSlot));
  if (!sealed) return Status::NotFound("the new key's sealed secret is not in the journal");
  new_secret_ = std::move(*sealed);
  return *new_secret_;
}

bool Rotator::Run::StepKeyCreated() {
  if (opts_.dry_run) return Would("verify new key " + record_.new_key_id + " with STS");
  Result<Secret> secret = NewSecret();
  if (!secret.ok()) return BeginRollback(secret.status());
  Result<aws::CallerIdentity> who = VerifyKeyWorks(r_.admin_, record_.new_key_id, *secret, policy_.verify_timeout);
  if (!who.ok()) return BeginRollback(who.status().WithContext("verifying the new key"));
  if (aws::UserNameFromArn(who->arn) != user() || who->account != out_.account) {
    return BeginRollback(Status::FailedPrecondition("the new key answers as " + who->arn));
  }
  record_.state = RotationState::kVerified;
  if (!SaveOrStop()) return false;
  Audit("verify", "ok", record_.new_key_id, "", "sts:GetCallerIdentity accepted the new key");
  return true;
}

bool Rotator::Run::StepVerified() {
  if (opts_.dry_run) return Would("hand new key " + record_.new_key_id + " to its destinations");
  Result<Secret> secret = NewSecret();
  if (!secret.ok()) return BeginRollback(secret.status());
  destinations::KeyHandoff handoff = Handoff(*secret);
  for (size_t i = 0; i < record_.destinations.size(); ++i) {
    DestinationProgress& d = record_.destinations[i];
    if (d.step == Step::kWritten) continue;
    Result<std::unique_ptr<destinations::Destination>> dest =
        destinations::MakeDestination(d.spec, r_.admin_, opts_.destination_options);
    if (!dest.ok()) return BeginRollback(dest.status());
    if (d.step == Step::kPending) {
      // What the destination holds now, kept (sealed) before we overwrite it,
      // so an abandoned rotation can put it back even after a crash.
      Result<Secret> snapshot = (*dest)->Snapshot(handoff);
      if (!snapshot.ok()) return BeginRollback(snapshot.status().WithContext("reading " + d.spec));
      d.step = Step::kSnapshotted;
      if (!SaveOrStop({.put = {{UndoSlot(i), &*snapshot}}})) return false;
    }
    Status put = (*dest)->Put(handoff);
    if (!put.ok()) {
      Audit("store", "failed", record_.new_key_id, "", d.spec + ": " + put.ToString());
      return BeginRollback(put.WithContext("storing the new key in " + d.spec));
    }
    d.step = Step::kWritten;
    if (!SaveOrStop()) return false;
    Audit("store", "ok", record_.new_key_id, "", d.spec);
  }
  record_.state = RotationState::kStored;
  record_.handed_out = Now();
  Owe(notify::EventKind::kKeyCreated);
  // Every destination holds the key: the journal lets go of its secret.
  if (!SaveOrStop(WipeAllSealed())) return false;
  if (new_secret_) new_secret_->Wipe();
  new_secret_.reset();
  DrainEvents();
  if (o_.stop_after_store) {
    return Stop(Outcome::kProgressed, "new key " + record_.new_key_id + " created and stored; old key " +
                                          record_.old_key_id + " still active");
  }
  return true;
}

bool Rotator::Run::StepStored() {
  if (record_.mode != RotationMode::kStaged) {
    if (record_.mode == RotationMode::kImmediate && !record_.old_key_id.empty()) {
      if (opts_.dry_run) return Would("delete old key " + record_.old_key_id);
      Status deleted = DeleteKey(*iam_, user(), record_.old_key_id);
      if (!deleted.ok()) return Fail(deleted.WithContext("deleting the old key"));
      Audit("delete_old", "ok", record_.old_key_id, iam_->last_request_id(), "immediate mode");
      Owe(notify::EventKind::kOldKeyDeleted);
    }
    record_.state = RotationState::kDone;
    if (!SaveOrStop()) return false;
    DrainEvents();
    return true;
  }
  TimePoint due = record_.new_key_created + policy_.deactivate_after;
  TimePoint forced = policy_.ForcedDeactivationAt(record_.new_key_created, record_.old_key_created);
  if (!o_.deactivate_now && Now() < due && Now() < forced) {
    return NotDue(std::min(due, forced), "old key " + record_.old_key_id + " is deactivated " +
                                             FormatDuration(policy_.deactivate_after) + " after the new key");
  }
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* new_key = FindKey(*keys, record_.new_key_id);
  if (!new_key || !new_key->active()) {
    return Fail(Status::FailedPrecondition("the new key " + record_.new_key_id + " is " +
                                           (new_key ? "inactive" : "gone") + ": keeping old key " +
                                           record_.old_key_id + " active"));
  }
  const aws::AccessKeyMetadata* old_key = FindKey(*keys, record_.old_key_id);
  if (!old_key || !old_key->active()) {
    // Someone retired it already: carry on from where they left it.
    record_.state = old_key ? RotationState::kOldDeactivated : RotationState::kDone;
    record_.old_deactivated = Now();
    Audit("deactivate_old", "ok", record_.old_key_id, "", old_key ? "already inactive" : "already deleted");
    return SaveOrStop();
  }
  // The last-used guard: an old key used after the hand-over, and recently,
  // still has a user somewhere.
  Result<aws::AccessKeyLastUsed> used = iam_->GetAccessKeyLastUsed(record_.old_key_id);
  if (!used.ok()) return Fail(used.status().WithContext("checking when the old key was last used"));
  // IAM reports LastUsedDate in whole seconds.
  TimePoint handed_out = std::chrono::floor<std::chrono::seconds>(record_.handed_out);
  bool in_use = used->last_used_date && *used->last_used_date >= handed_out &&
                Now() - *used->last_used_date < policy_.quiet_period;
  if (in_use && Now() < forced) {
    std::string why = "old key " + record_.old_key_id + " was used at " + FormatIso8601(*used->last_used_date) +
                      " (" + used->service_name + ", " + used->region + ") after the new key was handed out";
    if (opts_.dry_run) return Would("defer deactivating: " + why);
    if (!record_.deferred_since) {
      record_.deferred_since = Now();
      Owe(notify::EventKind::kStepDeferred);
    }
    record_.last_error = why;
    if (!SaveOrStop()) return false;
    Audit("defer", "deferred", record_.old_key_id, iam_->last_request_id(), why);
    DrainEvents();
    out_.next_step_at = std::min(forced, *used->last_used_date + policy_.quiet_period);
    return Stop(Outcome::kDeferred, why + "; deactivation deferred until it is quiet for " +
                                        FormatDuration(policy_.quiet_period) + " (at the latest " +
                                        FormatIso8601(forced) + ")");
  }
  if (opts_.dry_run) return Would("deactivate old key " + record_.old_key_id);
  Status deactivated = iam_->UpdateAccessKey(user(), record_.old_key_id, /*active=*/false);
  if (!deactivated.ok()) return Fail(deactivated.WithContext("deactivating the old key"));
  record_.state = RotationState::kOldDeactivated;
  record_.old_deactivated = Now();
  record_.deferred_since.reset();
  record_.last_error.clear();
  Owe(notify::EventKind::kOldKeyDeactivated);
  if (!SaveOrStop()) return false;
  Audit("deactivate_old", "ok", record_.old_key_id, iam_->last_request_id(),
        in_use ? "still in use, deactivated at the policy's limit" : "");
  DrainEvents();
  return true;
}

bool Rotator::Run::StepOldDeactivated() {
  TimePoint due = record_.old_deactivated + policy_.delete_after;
  if (!o_.delete_now && Now() < due) {
    return NotDue(due, "old key " + record_.old_key_id + " is inactive; deleted " +
                           FormatDuration(policy_.delete_after) + " after deactivation");
  }
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* old_key = FindKey(*keys, record_.old_key_id);
  if (old_key && old_key->active()) {
    return Fail(Status::FailedPrecondition("old key " + record_.old_key_id +
                                           " was re-activated after keyrotor deactivated it: not deleting it"));
  }
  if (opts_.dry_run) return Would("delete old key " + record_.old_key_id);
  if (old_key) {
    Status deleted = DeleteKey(*iam_, user(), record_.old_key_id);
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting the old key"));
    Audit("delete_old", "ok", record_.old_key_id, iam_->last_request_id(), "");
  } else {
    // A run killed between DeleteAccessKey and this step's save deleted it:
    // the audit trail and the owners must still hear of it (found by the
    // random-instant crash trials).
    Audit("delete_old", "ok", record_.old_key_id, "", "already deleted");
  }
  Owe(notify::EventKind::kOldKeyDeleted);
  record_.state = RotationState::kDone;
  if (!SaveOrStop()) return false;
  DrainEvents();
  return true;
}

bool Rotator::Run::BeginRollback(const Status& why) {
  if (opts_.dry_run) return Would("abandon the rotation: " + why.ToString());
  record_.last_error = why.ToString();
  record_.state = RotationState::kRollingBack;
  Owe(notify::EventKind::kRotationFailed);
  if (!SaveOrStop()) return false;
  Audit("rollback", "started", record_.new_key_id, "", why.ToString());
  return true;
}

bool Rotator::Run::StepRollingBack() {
  if (opts_.dry_run) return Would("finish abandoning rotation " + record_.id);
  destinations::KeyHandoff handoff = Handoff(Secret());
  std::string retry;  // why this run stops before deleting the new key
  for (size_t n = record_.destinations.size(); n > 0; --n) {
    size_t i = n - 1;
    DestinationProgress& d = record_.destinations[i];
    if (d.step != Step::kSnapshotted && d.step != Step::kWritten) continue;
    Result<std::optional<Secret>> snapshot = r_.journal_->GetSealed(record_.id, UndoSlot(i));
    if (!snapshot.ok()) return Fail(snapshot.status());
    Result<std::unique_ptr<destinations::Destination>> dest =
        destinations::MakeDestination(d.spec, r_.admin_, opts_.destination_options);
    Status restored = dest.ok() ? (*dest)->Restore(handoff, snapshot->value_or(Secret())) : dest.status();
    // FailedPrecondition: the destination holds a key newer than this
    // rotation's (someone wrote it since); it is not ours to take back.
    bool superseded = restored.code() == StatusCode::kFailedPrecondition;
    if (restored.ok() || superseded) {
      Audit("restore", restored.ok() ? "ok" : "skipped", record_.new_key_id, "",
            d.spec + (restored.ok() ? "" : ": " + restored.ToString()));
      d.step = Step::kRestored;
    } else if (MayPass(restored) && ++d.restore_attempts < kMaxRestoreAttempts) {
      std::string attempt = "attempt " + std::to_string(d.restore_attempts) + " of " +
                            std::to_string(kMaxRestoreAttempts) + "; will retry";
      Audit("restore", "failed", record_.new_key_id, "", d.spec + ": " + restored.ToString() + " (" + attempt + ")");
      if (retry.empty()) retry = "restoring " + d.spec + " (" + attempt + "): " + restored.ToString();
    } else {
      // Given up: the new key is deleted all the same (below), so the user is
      // not left with a key nobody holds and its secret leaves the journal.
      d.step = Step::kNeedsAttention;
      std::string note = d.spec + " could not be restored and needs attention (it may still hold abandoned key " +
                         record_.new_key_id + ", which is deleted): " + restored.ToString();
      Audit("restore", "failed", record_.new_key_id, "", note);
      record_.last_error += "; " + note;
      // The owners hear of it, even if they were told of the failure already.
      if (std::find(record_.pending_events.begin(), record_.pending_events.end(),
                    notify::EventKind::kRotationFailed) == record_.pending_events.end()) {
        Owe(notify::EventKind::kRotationFailed);
      }
    }
    if (!SaveOrStop()) return false;
  }
  if (!retry.empty()) return RetryLater(retry);
  if (!record_.new_key_id.empty()) {
    Status deleted = DeleteKey(*iam_, user(), record_.new_key_id);
    if (!deleted.ok()) return RetryLater(deleted.WithContext("deleting the abandoned new key (will retry)").ToString());
    Audit("delete_new", "ok", record_.new_key_id, iam_->last_request_id(), "abandoned");
  }
  record_.state = RotationState::kRolledBack;
  if (!SaveOrStop(WipeAllSealed())) return false;
  Audit("rollback", "ok", record_.old_key_id, "",
        record_.mode == RotationMode::kDeleteFirst ? "old key was deleted first: the user has no key"
                                                   : "old key kept");
  DrainEvents();
  return true;
}

void Rotator::Run::DrainEvents(RotationRecord& record) {
  if (record.pending_events.empty() || opts_.dry_run) return;
  std::vector<notify::EventKind> still_owed;
  for (notify::EventKind kind : record.pending_events) {
    notify::Event event;
    event.kind = kind;
    event.time = Now();
    event.rotation_id = record.id;
    event.account = record.account;
    event.user = record.user;
    event.new_access_key_id = record.new_key_id;
    event.old_access_key_id = record.old_key_id;
    event.message = kind == notify::EventKind::kRotationFailed || kind == notify::EventKind::kStepDeferred
                        ? record.last_error
                        : "";
    const std::string name = notify::EventName(kind);
    bool delivered = true;
    for (const std::string& spec : record.notify) {
      auto made = notifiers_.find(spec);
      if (made == notifiers_.end()) {
        made = notifiers_.emplace(spec, notify::MakeNotifier(spec, r_.admin_, opts_.notifier_options)).first;
      }
      // A notifier that cannot be made is a failed delivery, not a skipped
      // one: the event stays owed. Its error quotes no secret part of the spec.
      Status s = made->second.ok() ? (*made->second)->Notify(event) : made->second.status();
      std::string detail = name + (made->second.ok() ? " -> " + (*made->second)->Describe() : std::string()) +
                           (s.ok() ? "" : ": " + s.ToString());
      Audit(record, "notify", s.ok() ? "ok" : "failed", "", "", detail);
      if (!s.ok()) {
        delivered = false;
        ++out_.notification_failures;
        out_.notification_error = detail;
      }
    }
    if (!delivered) still_owed.push_back(kind);
  }
  record.pending_events = std::move(still_owed);
  (void)Save(record);
}

Status ValidateEngineOptions(const EngineOptions& options, const aws::ClientFactory& admin) {
  KR_RETURN_IF_ERROR(options.policy.Validate());
  for (const std::string& spec : options.destinations) {
    KR_ASSIGN_OR_RETURN(std::string expanded, destinations::ExpandSpec(spec, "example-user", "123456789012"));
    Result<std::unique_ptr<destinations::Destination>> d =
        destinations::MakeDestination(expanded, admin, options.destination_options);
    if (!d.ok()) return d.status();
  }
  for (const std::string& spec : options.notify) {
    KR_ASSIGN_OR_RETURN(std::string expanded, destinations::ExpandSpec(spec, "example-user", "123456789012"));
    Result<std::unique_ptr<notify::Notifier>> n = notify::MakeNotifier(expanded, admin, options.notifier_options);
    if (!n.ok()) return n.status();
  }
  return Status::Ok();
}

Rotator::Rotator(aws::ClientFactory admin, Journal* journal, EngineOptions options)
    : admin_(std::move(admin)), journal_(journal), options_(std::move(options)) {}

Result<std::string> Rotator::Account() {
  std::lock_guard<std::mutex> lock(account_mu_);
  if (!account_.empty()) return account_;
  KR_ASSIGN_OR_RETURN(aws::StsClient sts, admin_.Sts());
  KR_ASSIGN_OR_RETURN(aws::CallerIdentity who, sts.GetCallerIdentity());
  account_ = who.account;
  return account_;
}

UserOutcome Rotator::RotateUser(const std::string& user, const StepOverrides& overrides) {
  return Run(*this, user, overrides).Go();
}

}  // namespace keyrotor::engine
