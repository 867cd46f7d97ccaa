// Responding to an exposed key: a rotation whose old key is the exposed one,
// retired at once instead of after the staged wait and the last-used guard
// (docs/leak-response.md).
//
//   rotate-first:     create -> verify -> hand over -> deactivate the exposed key -> (exposed_delete_after) delete
//   deactivate-first: deactivate the exposed key -> create -> verify -> hand over -> (exposed_delete_after) delete
//
// At the two-key limit the exposed key makes room (it is deleted before the
// new key is created). Every call is the admin's: a quarantine policy on the
// user does not stop it, and is left in place for a person.
#include "base/strings.h"
#include "engine/exposure.h"
#include "engine/rotator_run.h"

namespace keyrotor::engine {

using Outcome = UserOutcome::Result;
using rotator_internal::DeleteKey;
using rotator_internal::FindKey;

ExposureRecord Rotator::Run::NewExposureRecord() const {
  ExposureRecord x;
  x.order = policy_.on_exposure;
  x.delete_after = policy_.exposed_delete_after;
  x.lookup_window = policy_.exposure_lookup_window;
  x.lookup_regions = policy_.exposure_lookup_regions;
  x.trigger = o_.exposure->trigger;
  x.event_id = o_.exposure->event_id;
  x.reported = o_.exposure->reported == TimePoint{} ? Now() : o_.exposure->reported;
  return x;
}

bool Rotator::Run::StartExposure() {
  const std::string& key_id = o_.exposure->access_key_id;
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* exposed = FindKey(*keys, key_id);
  if (!exposed) {
    // A later report of a key a response already retired (AWS sends several).
    Result<std::vector<RotationRecord>> past = r_.journal_->Rotations(out_.account, user());
    if (past.ok()) {
      for (const RotationRecord& rec : *past) {
        if (rec.old_key_id == key_id) {
          return Stop(Outcome::kSkipped, "exposed key " + key_id + " no longer exists: rotation " + rec.id +
                                             " (" + StateName(rec.state) + ") retired it");
        }
      }
    }
    return Stop(Outcome::kSkipped, "exposed key " + key_id + " no longer exists: nothing to do");
  }
  const aws::AccessKeyMetadata* other_active = nullptr;
  for (const auto& k : *keys) {
    if (k.access_key_id != key_id && k.active()) other_active = &k;
  }
  if (!exposed->active() && other_active) {
    return Stop(Outcome::kSkipped, "exposed key " + key_id + " is already inactive and the user works with key " +
                                       other_active->access_key_id +
                                       ": nothing to rotate; delete the exposed key once the investigation allows");
  }
  std::string how = "responding to the exposure of " + key_id + " (" + o_.exposure->trigger + ", " +
                    ExposureOrderName(policy_.on_exposure) + ")";
  if (opts_.dry_run) {
    out_.old_key_id = key_id;
    if (policy_.on_exposure == ExposureOrder::kDeactivateFirst && exposed->active()) {
      out_.actions.push_back("would deactivate exposed key " + key_id);
    }
    if (keys->size() >= 2) out_.actions.push_back("would delete exposed key " + key_id + " (two-key limit)");
    if (opts_.destinations.empty()) {
      return Would("deactivate exposed key " + key_id + " and make no successor (no destination): " + how);
    }
    return Would("create a new key to replace " + key_id + ": " + how);
  }
  Result<std::vector<std::string>> destination_specs =
      destinations::ExpandSpecs(opts_.destinations, user(), out_.account);
  if (!destination_specs.ok()) return Fail(destination_specs.status());
  Result<std::vector<std::string>> notify_specs = destinations::ExpandSpecs(opts_.notify, user(), out_.account);
  if (!notify_specs.ok()) return Fail(notify_specs.status());
  record_.id = RandomUuid();
  record_.account = out_.account;
  record_.user = user();
  // No staged wait and no delete-first: the response's own order decides.
  record_.mode = RotationMode::kImmediate;
  record_.state = RotationState::kPlanned;
  record_.old_key_id = key_id;
  record_.old_key_created = exposed->create_date;
  for (const auto& k : *keys) record_.keys_before.push_back(k.access_key_id);
  listed_keys_ = *keys;
  record_.started = Now();
  for (std::string& spec : *destination_specs) record_.destinations.push_back({std::move(spec), Step::kPending});
  record_.notify = std::move(*notify_specs);
  record_.exposure = NewExposureRecord();
  if (!exposed->active()) record_.exposure->deactivated = Now();  // someone cut it off already
  if (!SaveOrStop()) return false;
  Audit("plan", "ok", key_id, "", how);
  return true;
}

bool Rotator::Run::JoinExposure() {
  const std::string& key_id = o_.exposure->access_key_id;
  if (record_.exposure && record_.old_key_id == key_id) {
    // AWS sends several events for one key: the response in progress is the answer to all.
    // Not an action of its own ("skipped"): the response in progress answers this report too.
    Audit("exposure", "skipped", key_id, "", "reported again (" + o_.exposure->trigger + "): joined response " + record_.id);
    return true;
  }
  if (record_.old_key_id == key_id && !record_.exposure) {
    if (opts_.dry_run) return Would("take rotation " + record_.id + " over as the response to the exposure of " + key_id);
    record_.exposure = NewExposureRecord();
    record_.mode = RotationMode::kImmediate;
    if (record_.state == RotationState::kOldDeactivated) record_.exposure->deactivated = record_.old_deactivated;
    if (!SaveOrStop()) return false;
    Audit("exposure", "ok", key_id, "",
          "rotation " + record_.id + " (" + StateName(record_.state) +
              ") now responds to the exposure: the exposed key is retired at once");
    return true;
  }
  std::string which = record_.new_key_id == key_id ? "is the new key of" : "is not part of";
  return Fail(Status::FailedPrecondition(
      "exposed key " + key_id + " " + which + " rotation " + record_.id + " in progress (" + StateName(record_.state) +
      ", replacing " + record_.old_key_id + "): finish that rotation first (keyrotor rotate --user " + user() +
      " --force), then respond again"));
}

bool Rotator::Run::RetireExposedBeforeCreating(std::vector<aws::AccessKeyMetadata>& keys) {
  ExposureRecord& x = *record_.exposure;
  auto exposed = std::find_if(keys.begin(), keys.end(),
                              [&](const aws::AccessKeyMetadata& k) { return k.access_key_id == record_.old_key_id; });
  if (exposed == keys.end()) {
    if (x.deactivated == TimePoint{}) x.deactivated = Now();
    if (!record_.destinations.empty()) return true;
    record_.state = RotationState::kDone;  // gone, and no successor to make
    return SaveOrStop();
  }
  // With no destination nothing could take a successor: the key is only cut off.
  bool no_successor = record_.destinations.empty();
  if (exposed->active() && (x.order == ExposureOrder::kDeactivateFirst || no_successor)) {
    Status s = iam_->UpdateAccessKey(user(), exposed->access_key_id, /*active=*/false);
    if (!s.ok()) return Fail(s.WithContext("deactivating the exposed key"));
    exposed->status = "Inactive";
    if (x.deactivated == TimePoint{}) x.deactivated = Now();
    Owe(notify::EventKind::kOldKeyDeactivated);
    if (!SaveOrStop()) return false;
    Audit("deactivate_exposed", "ok", record_.old_key_id, iam_->last_request_id(),
          no_successor ? "no destination to hand a successor to: the key is cut off, a person issues a new one"
                       : "deactivate-first: refused before its successor exists");
  }
  if (no_successor) {
    // A key nobody receives would be a second secret to lose: none is made.
    record_.old_deactivated = x.deactivated == TimePoint{} ? Now() : x.deactivated;
    if (x.deactivated == TimePoint{}) x.deactivated = record_.old_deactivated;
    record_.state = RotationState::kOldDeactivated;
    return SaveOrStop();
  }
  if (keys.size() >= 2) {
    // The two-key limit: the exposed key is the one that makes room.
    Status deleted = DeleteKey(*iam_, user(), record_.old_key_id);
    if (!deleted.ok()) return Fail(deleted.WithContext("deleting the exposed key to make room"));
    if (x.deactivated == TimePoint{}) x.deactivated = Now();
    Owe(notify::EventKind::kOldKeyDeleted);
    keys.erase(exposed);
    if (!SaveOrStop()) return false;
    Audit("delete_exposed", "ok", record_.old_key_id, iam_->last_request_id(),
          "two-key limit: the exposed key makes room for its successor");
  }
  return true;
}

bool Rotator::Run::RetireExposedAfterStoring() {
  ExposureRecord& x = *record_.exposure;
  if (opts_.dry_run) return Would("deactivate exposed key " + record_.old_key_id);
  Result<std::vector<aws::AccessKeyMetadata>> keys = ListKeys();
  if (!keys.ok()) return Fail(keys.status().WithContext("listing the user's keys"));
  const aws::AccessKeyMetadata* new_key = FindKey(*keys, record_.new_key_id);
  if (!new_key || !new_key->active()) {
    return Fail(Status::FailedPrecondition("the new key " + record_.new_key_id + " is " +
                                           (new_key ? "inactive" : "gone") + ": not retiring exposed key " +
                                           record_.old_key_id + " (it may be all the user has)"));
  }
  const aws::AccessKeyMetadata* exposed = FindKey(*keys, record_.old_key_id);
  if (!exposed) {
    if (x.deactivated == TimePoint{}) x.deactivated = Now();
    record_.old_deactivated = x.deactivated;
    record_.state = RotationState::kDone;
    return SaveOrStop();
  }
  if (exposed->active()) {
    // rotate-first: its successor is in every destination; no wait, no last-used guard.
    Status s = iam_->UpdateAccessKey(user(), record_.old_key_id, /*active=*/false);
    if (!s.ok()) return Fail(s.WithContext("deactivating the exposed key"));
    x.deactivated = Now();
    Owe(notify::EventKind::kOldKeyDeactivated);
    Audit("deactivate_exposed", "ok", record_.old_key_id, iam_->last_request_id(),
          "rotate-first: its successor is in every destination");
  } else if (x.deactivated == TimePoint{}) {
    x.deactivated = Now();
  }
  record_.old_deactivated = x.deactivated;
  record_.state = RotationState::kOldDeactivated;
  if (!SaveOrStop()) return false;
  DrainEvents();
  return true;
}

void Rotator::Run::ReportExposure() {
  if (opts_.dry_run || !record_.exposure || record_.exposure->reported_out) return;
  ExposureRecord& x = *record_.exposure;
  std::vector<std::string> regions = x.lookup_regions;
  if (regions.empty()) {
    // The account's region, and us-east-1 where IAM's (global) events are.
    if (!r_.admin_.region().empty()) regions.push_back(r_.admin_.region());
    if (std::find(regions.begin(), regions.end(), "us-east-1") == regions.end()) regions.push_back("us-east-1");
  }
  KeyActivity activity = LookupKeyActivity(r_.admin_, record_.old_key_id, x.reported - x.lookup_window, Now(), regions);
  nlohmann::json summary = ActivityToJson(activity);
  x.quarantine_policies.clear();
  Result<std::vector<aws::AttachedPolicy>> attached = iam_->ListAttachedUserPolicies(user());
  if (attached.ok()) {
    for (const aws::AttachedPolicy& p : *attached) {
      if (StartsWith(p.policy_name, "AWSCompromisedKeyQuarantine")) x.quarantine_policies.push_back(p.policy_name);
    }
  } else {
    summary["quarantine_error"] = attached.status().ToString();
  }
  x.activity = summary.dump();
  x.reported_out = true;
  Owe(notify::EventKind::kKeyExposed);
  std::string line = ActivitySummaryLine(summary);
  if (!x.quarantine_policies.empty()) {
    line += "; quarantine left in place: " + Join(x.quarantine_policies, ", ");
  }
  Audit("activity", activity.lookup_errors.empty() ? "ok" : "failed", record_.old_key_id, "", line);
  (void)Save();
  DrainEvents();
}

// The key_exposed notification's details: what the key did and what was done.
nlohmann::json ExposureDetails(const RotationRecord& record) {
  const ExposureRecord& x = *record.exposure;
  nlohmann::json activity = nlohmann::json::parse(x.activity, nullptr, /*allow_exceptions=*/false);
  nlohmann::json j = {{"exposed_access_key_id", record.old_key_id},
                      {"trigger", x.trigger},
                      {"on_exposure", ExposureOrderName(x.order)},
                      {"state", StateName(record.state)},
                      {"new_access_key_id", record.new_key_id},
                      {"quarantine_policies", x.quarantine_policies},
                      {"activity", activity.is_discarded() ? nlohmann::json(nullptr) : activity}};
  if (!x.event_id.empty()) j["health_event_arn"] = x.event_id;
  if (x.deactivated != TimePoint{}) {
    j["exposed_key_deactivated"] = FormatIso8601(x.deactivated);
    j["exposed_key_deleted_after"] = FormatIso8601(x.deactivated + x.delete_after);
  }
  return j;
}

std::string ExposureMessage(const RotationRecord& record) {
  const ExposureRecord& x = *record.exposure;
  std::string done;
  if (record.new_key_id.empty() && record.destinations.empty()) {
    done = "no destination was configured, so no new key was made; exposed key " + record.old_key_id +
           " deactivated" + (record.state == RotationState::kDone ? " and deleted" : "") +
           ": a person must give the user's application a new key";
  } else if (record.state == RotationState::kRolledBack || record.state == RotationState::kRollingBack) {
    done = "no new key could be made (" + record.last_error + "); exposed key " + record.old_key_id +
           (x.deactivated != TimePoint{} ? " is deactivated" : " is STILL ACTIVE: deactivate it by hand");
  } else {
    done = "new key " + record.new_key_id + " verified and handed over; exposed key " + record.old_key_id +
           (record.state == RotationState::kDone ? " deleted" : " deactivated, deleted at " +
                                                                     FormatIso8601(x.deactivated + x.delete_after));
  }
  nlohmann::json activity = nlohmann::json::parse(x.activity, nullptr, /*allow_exceptions=*/false);
  std::string text = "Exposed key " + record.old_key_id + " (" + x.trigger + ", " + ExposureOrderName(x.order) +
                     "): " + done + ". " + ActivitySummaryLine(activity);
  if (!x.quarantine_policies.empty()) {
    text += ". AWS's quarantine (" + Join(x.quarantine_policies, ", ") +
            ") is left in place: detach it after the investigation";
  }
  return text;
}

}  // namespace keyrotor::engine
