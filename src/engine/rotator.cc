#include "engine/rotator_run.h"

namespace keyrotor::engine {

using Outcome = UserOutcome::Result;
using rotator_internal::AgeDays;
using rotator_internal::FindKey;

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
  if (!o_.revert_new_key_id.empty()) {
    if (!open->has_value() || (*open)->new_key_id != o_.revert_new_key_id) {
      return Stop(Outcome::kFailed, "no rotation in progress created key " + o_.revert_new_key_id +
                                        ": nothing to roll back (it finished, or was rolled back already)"),
             out_;
    }
    record_ = std::move(**open);
    resumed_ = true;
    go_on = Revert();
  } else if (open->has_value()) {
    record_ = std::move(**open);
    resumed_ = true;
    go_on = true;
    DrainEvents();  // notifications an earlier run could not deliver
    if (o_.exposure) go_on = JoinExposure();
  } else if (o_.exposure) {
    go_on = StartExposure();
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
      case RotationState::kDone:
        ReportExposure();  // a response whose exposed key made room at the two-key limit
        go_on = Stop(Outcome::kCompleted, "rotation complete");
        break;
      case RotationState::kRolledBack:
        ReportExposure();
        go_on = Stop(Outcome::kRolledBack, record_.last_error);
        break;
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

namespace {

// Why a user is exempt (empty: not exempt).
std::string ExemptionByTag(const Policy& policy, const std::vector<aws::Tag>& tags) {
  for (const aws::Tag& t : tags) {
    for (const aws::Tag& e : policy.exempt_tags) {
      if (t.key == e.key && t.value == e.value) return "exempt by tag " + e.key + "=" + e.value;
    }
  }
  return "";
}

std::string ExemptionByGroup(const Policy& policy, const std::vector<std::string>& groups) {
  for (const std::string& g : groups) {
    if (std::find(policy.exempt_groups.begin(), policy.exempt_groups.end(), g) != policy.exempt_groups.end()) {
      return "exempt as a member of group " + g;
    }
  }
  return "";
}

}  // namespace

// No open rotation: is one due?
bool Rotator::Run::Start() {
  const UserFacts* facts = o_.facts;
  if (!policy_.exempt_tags.empty()) {
    std::string why;
    if (facts && facts->tags) {
      why = ExemptionByTag(policy_, *facts->tags);
    } else {
      Result<std::vector<aws::Tag>> tags = iam_->ListUserTags(user());
      if (!tags.ok()) return Fail(tags.status().WithContext("reading the user's tags"));
      why = ExemptionByTag(policy_, *tags);
    }
    if (!why.empty()) return Stop(Outcome::kSkipped, why);
  }
  if (!policy_.exempt_groups.empty()) {
    std::string why;
    if (facts && facts->groups) {
      why = ExemptionByGroup(policy_, *facts->groups);
    } else {
      Result<std::vector<aws::IamGroup>> groups = iam_->ListGroupsForUser(user());
      if (!groups.ok()) return Fail(groups.status().WithContext("reading the user's groups"));
      std::vector<std::string> names;
      for (const aws::IamGroup& g : *groups) names.push_back(g.group_name);
      why = ExemptionByGroup(policy_, names);
    }
    if (!why.empty()) return Stop(Outcome::kSkipped, why);
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
  if (!o_.force_rotate && Now() < policy_.DueAt(old.create_date)) {
    return NotDue(policy_.DueAt(old.create_date), "key " + old.access_key_id + " is " +
                                                      std::to_string(AgeDays(Now(), old.create_date)) +
                                                      " days old; due at " +
                                                      FormatDuration(policy_.RotationThreshold()));
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
  listed_keys_ = *keys;  // StepPlanned needs no second listing in this run
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
    if (kind == notify::EventKind::kKeyExposed && record.exposure) {
      event.message = ExposureMessage(record);
      event.details = ExposureDetails(record);
    }
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

std::optional<UserOutcome> Rotator::Triage(const std::string& user, const UserFacts& facts) {
  UserOutcome out;
  out.user = user;
  if (!aws::IsValidUserName(user)) return std::nullopt;  // the run reports it
  Result<std::string> account = Account();
  if (!account.ok()) return std::nullopt;
  out.account = *account;
  // A rotation in progress, or notifications still owed: the run's business.
  Result<std::vector<RotationRecord>> past = journal_->Rotations(out.account, user);
  if (!past.ok()) return std::nullopt;
  for (const RotationRecord& rec : *past) {
    if (!IsTerminal(rec.state) || !rec.pending_events.empty()) return std::nullopt;
  }
  const Policy& policy = options_.policy;
  if (!policy.exempt_tags.empty()) {
    if (!facts.tags) return std::nullopt;
    if (std::string why = ExemptionByTag(policy, *facts.tags); !why.empty()) {
      out.result = UserOutcome::Result::kSkipped;
      out.message = why;
      return out;
    }
  }
  if (!policy.exempt_groups.empty()) {
    if (!facts.groups) return std::nullopt;
    if (std::string why = ExemptionByGroup(policy, *facts.groups); !why.empty()) {
      out.result = UserOutcome::Result::kSkipped;
      out.message = why;
      return out;
    }
  }
  if (!facts.keys) return std::nullopt;
  std::vector<const UserFacts::ReportedKey*> active;
  for (const UserFacts::ReportedKey& k : *facts.keys) {
    if (k.active) active.push_back(&k);
  }
  if (active.empty()) {
    out.result = UserOutcome::Result::kSkipped;
    out.message = facts.keys->empty() ? "user has no access key" : "user has no active access key";
    return out;
  }
  if (active.size() > 1) return std::nullopt;  // the run reports the two active keys
  TimePoint last_rotated = active[0]->last_rotated;
  out.oldest_active_key_created = last_rotated;
  TimePoint now = admin_.context().clock->Now();
  if (now >= policy.DueAt(last_rotated)) return std::nullopt;
  out.result = UserOutcome::Result::kNotDue;
  out.next_step_at = policy.DueAt(last_rotated);
  out.message = "key is " + std::to_string(rotator_internal::AgeDays(now, last_rotated)) + " days old; due at " +
                FormatDuration(policy.RotationThreshold()) + " (credential report)";
  return out;
}

}  // namespace keyrotor::engine
