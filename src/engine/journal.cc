#include "engine/journal.h"

#include <array>
#include <chrono>
#include <utility>

namespace keyrotor::engine {
namespace {

// One table for both directions, so a state added later cannot be written
// under one name and read back under another.
constexpr std::array<std::pair<RotationState, std::string_view>, 8> kStateNames = {{
    {RotationState::kPlanned, "planned"},
    {RotationState::kKeyCreated, "key_created"},
    {RotationState::kVerified, "verified"},
    {RotationState::kStored, "stored"},
    {RotationState::kOldDeactivated, "old_deactivated"},
    {RotationState::kRollingBack, "rolling_back"},
    {RotationState::kDone, "done"},
    {RotationState::kRolledBack, "rolled_back"},
}};

constexpr std::array<std::pair<DestinationProgress::Step, std::string_view>, 5> kStepNames = {{
    {DestinationProgress::Step::kPending, "pending"},
    {DestinationProgress::Step::kSnapshotted, "snapshotted"},
    {DestinationProgress::Step::kWritten, "written"},
    {DestinationProgress::Step::kRestored, "restored"},
    {DestinationProgress::Step::kNeedsAttention, "needs_attention"},
}};


// Field readers that turn a wrong type into a ParseError instead of the
// exception nlohmann::json would throw.
Status ReadString(const nlohmann::json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_string()) return Status::ParseError(std::string("field '") + key + "' is not a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadTime(const nlohmann::json& j, const char* key, TimePoint* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) return Status::ParseError(std::string("field '") + key + "' is not an integer");
  *out = FromMillis(it->get<int64_t>());
  return Status::Ok();
}

Status ReadStrings(const nlohmann::json& j, const char* key, std::vector<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array()) return Status::ParseError(std::string("field '") + key + "' is not an array");
  out->clear();
  for (const auto& e : *it) {
    if (!e.is_string()) return Status::ParseError(std::string("field '") + key + "' holds a non-string");
    out->push_back(e.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

std::string StateName(RotationState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return std::string(name);
  }
  return "unknown";
}

Result<RotationState> ParseState(std::string_view name) {
  for (const auto& [s, n] : kStateNames) {
    if (n == name) return s;
  }
  return Status::ParseError("unknown rotation state \"" + std::string(name) + "\"");
}

bool IsTerminal(RotationState state) { return state == RotationState::kDone || state == RotationState::kRolledBack; }

nlohmann::json AuditToJson(const AuditRecord& record) {
  nlohmann::json j = nlohmann::json::object();
  j["time"] = FormatIso8601(record.time);
  auto put_if = [&j](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  put_if("rotation_id", record.rotation_id);
  put_if("account", record.account);
  // user, action and outcome are always present: a history line without them
  // would be ambiguous to a script filtering on them.
  j["user"] = record.user;
  j["action"] = record.action;
  j["outcome"] = record.outcome;
  put_if("access_key_id", record.access_key_id);
  put_if("request_id", record.request_id);
  put_if("detail", record.detail);
  return j;
}

Result<AuditRecord> AuditFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Status::ParseError("audit record is not a JSON object");
  AuditRecord r;
  std::string time;
  KR_RETURN_IF_ERROR(ReadString(json, "time", &time));
  if (!time.empty()) {
    KR_ASSIGN_OR_RETURN(r.time, ParseIso8601(time));
  }
  KR_RETURN_IF_ERROR(ReadString(json, "rotation_id", &r.rotation_id));
  KR_RETURN_IF_ERROR(ReadString(json, "account", &r.account));
  KR_RETURN_IF_ERROR(ReadString(json, "user", &r.user));
  KR_RETURN_IF_ERROR(ReadString(json, "action", &r.action));
  KR_RETURN_IF_ERROR(ReadString(json, "outcome", &r.outcome));
  KR_RETURN_IF_ERROR(ReadString(json, "access_key_id", &r.access_key_id));
  KR_RETURN_IF_ERROR(ReadString(json, "request_id", &r.request_id));
  KR_RETURN_IF_ERROR(ReadString(json, "detail", &r.detail));
  return r;
}

nlohmann::json RotationToJson(const RotationRecord& record) {
  nlohmann::json destinations = nlohmann::json::array();
  for (const auto& d : record.destinations) {
    std::string_view step = "pending";
    for (const auto& [s, name] : kStepNames) {
      if (s == d.step) step = name;
    }
    nlohmann::json entry = {{"spec", d.spec}, {"step", step}};
    // Absent when zero, so records without a failed restore keep their shape.
    if (d.restore_attempts > 0) entry["restore_attempts"] = d.restore_attempts;
    destinations.push_back(std::move(entry));
  }
  // Stored by name, as before the kinds were typed: records on disk read back.
  nlohmann::json pending_events = nlohmann::json::array();
  for (notify::EventKind kind : record.pending_events) pending_events.push_back(notify::EventName(kind));
  nlohmann::json j = {
      {"id", record.id},
      {"account", record.account},
      {"user", record.user},
      {"mode", ModeName(record.mode)},
      {"state", StateName(record.state)},
      {"old_key_id", record.old_key_id},
      {"old_key_created_ms", ToMillis(record.old_key_created)},
      {"keys_before", record.keys_before},
      {"new_key_id", record.new_key_id},
      {"started_ms", ToMillis(record.started)},
      {"updated_ms", ToMillis(record.updated)},
      {"new_key_created_ms", ToMillis(record.new_key_created)},
      {"handed_out_ms", ToMillis(record.handed_out)},
      {"old_deactivated_ms", ToMillis(record.old_deactivated)},
      {"deferred_since_ms",
       record.deferred_since ? nlohmann::json(ToMillis(*record.deferred_since)) : nlohmann::json(nullptr)},
      {"last_error", record.last_error},
      {"destinations", std::move(destinations)},
      {"notify", record.notify},
      {"pending_events", std::move(pending_events)},
  };
  if (record.rolls_forward) j["rolls_forward"] = true;  // absent when false: records keep their shape
  // Absent for ordinary rotations, so their records keep their shape.
  if (record.exposure) {
    const ExposureRecord& e = *record.exposure;
    j["exposure"] = {{"order", ExposureOrderName(e.order)},
                     {"delete_after_ms", e.delete_after.count()},
                     {"lookup_window_ms", e.lookup_window.count()},
                     {"lookup_regions", e.lookup_regions},
                     {"trigger", e.trigger},
                     {"event_id", e.event_id},
                     {"reported_ms", ToMillis(e.reported)},
                     {"deactivated_ms", ToMillis(e.deactivated)},
                     {"reported_out", e.reported_out},
                     {"activity", e.activity},
                     {"quarantine_policies", e.quarantine_policies}};
  }
  return j;
}

Result<RotationRecord> RotationFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Status::ParseError("rotation record is not a JSON object");
  RotationRecord r;
  KR_RETURN_IF_ERROR(ReadString(json, "id", &r.id));
  KR_RETURN_IF_ERROR(ReadString(json, "account", &r.account));
  KR_RETURN_IF_ERROR(ReadString(json, "user", &r.user));
  std::string mode, state;
  KR_RETURN_IF_ERROR(ReadString(json, "mode", &mode));
  KR_ASSIGN_OR_RETURN(r.mode, ParseMode(mode));
  KR_RETURN_IF_ERROR(ReadString(json, "state", &state));
  KR_ASSIGN_OR_RETURN(r.state, ParseState(state));
  KR_RETURN_IF_ERROR(ReadString(json, "old_key_id", &r.old_key_id));
  KR_RETURN_IF_ERROR(ReadTime(json, "old_key_created_ms", &r.old_key_created));
  KR_RETURN_IF_ERROR(ReadStrings(json, "keys_before", &r.keys_before));
  KR_RETURN_IF_ERROR(ReadString(json, "new_key_id", &r.new_key_id));
  KR_RETURN_IF_ERROR(ReadTime(json, "started_ms", &r.started));
  KR_RETURN_IF_ERROR(ReadTime(json, "updated_ms", &r.updated));
  KR_RETURN_IF_ERROR(ReadTime(json, "new_key_created_ms", &r.new_key_created));
  KR_RETURN_IF_ERROR(ReadTime(json, "handed_out_ms", &r.handed_out));
  KR_RETURN_IF_ERROR(ReadTime(json, "old_deactivated_ms", &r.old_deactivated));
  if (auto it = json.find("deferred_since_ms"); it != json.end() && !it->is_null()) {
    TimePoint t{};
    KR_RETURN_IF_ERROR(ReadTime(json, "deferred_since_ms", &t));
    r.deferred_since = t;
  }
  KR_RETURN_IF_ERROR(ReadString(json, "last_error", &r.last_error));
  if (auto it = json.find("destinations"); it != json.end()) {
    if (!it->is_array()) return Status::ParseError("field 'destinations' is not an array");
    for (const auto& d : *it) {
      if (!d.is_object()) return Status::ParseError("a destination is not a JSON object");
      DestinationProgress p;
      KR_RETURN_IF_ERROR(ReadString(d, "spec", &p.spec));
      std::string step;
      KR_RETURN_IF_ERROR(ReadString(d, "step", &step));
      bool known = false;
      for (const auto& [s, name] : kStepNames) {
        if (name == step) {
          p.step = s;
          known = true;
        }
      }
      if (!known) return Status::ParseError("unknown destination step \"" + step + "\"");
      if (auto attempts = d.find("restore_attempts"); attempts != d.end()) {
        if (!attempts->is_number_integer()) return Status::ParseError("field 'restore_attempts' is not an integer");
        p.restore_attempts = attempts->get<int>();
      }
      r.destinations.push_back(std::move(p));
    }
  }
  KR_RETURN_IF_ERROR(ReadStrings(json, "notify", &r.notify));
  std::vector<std::string> pending_events;
  KR_RETURN_IF_ERROR(ReadStrings(json, "pending_events", &pending_events));
  for (const std::string& name : pending_events) {
    Result<notify::EventKind> kind = notify::ParseEventName(name);
    if (!kind.ok()) return Status::ParseError("field 'pending_events': " + kind.status().message());
    r.pending_events.push_back(*kind);
  }
  if (auto it = json.find("rolls_forward"); it != json.end()) {
    if (!it->is_boolean()) return Status::ParseError("field 'rolls_forward' is not a boolean");
    r.rolls_forward = it->get<bool>();
  }
  if (auto it = json.find("exposure"); it != json.end() && !it->is_null()) {
    const nlohmann::json& e = *it;
    if (!e.is_object()) return Status::ParseError("field 'exposure' is not a JSON object");
    ExposureRecord x;
    std::string order;
    KR_RETURN_IF_ERROR(ReadString(e, "order", &order));
    KR_ASSIGN_OR_RETURN(x.order, ParseExposureOrder(order));
    for (auto [name, field] : {std::pair{"delete_after_ms", &x.delete_after}, std::pair{"lookup_window_ms", &x.lookup_window}}) {
      auto v = e.find(name);
      if (v == e.end() || !v->is_number_integer()) return Status::ParseError(std::string("field '") + name + "' is not an integer");
      *field = Duration(v->get<int64_t>());
    }
    KR_RETURN_IF_ERROR(ReadStrings(e, "lookup_regions", &x.lookup_regions));
    KR_RETURN_IF_ERROR(ReadString(e, "trigger", &x.trigger));
    KR_RETURN_IF_ERROR(ReadString(e, "event_id", &x.event_id));
    KR_RETURN_IF_ERROR(ReadTime(e, "reported_ms", &x.reported));
    KR_RETURN_IF_ERROR(ReadTime(e, "deactivated_ms", &x.deactivated));
    auto out = e.find("reported_out");
    if (out == e.end() || !out->is_boolean()) return Status::ParseError("field 'reported_out' is not a boolean");
    x.reported_out = out->get<bool>();
    KR_RETURN_IF_ERROR(ReadString(e, "activity", &x.activity));
    KR_RETURN_IF_ERROR(ReadStrings(e, "quarantine_policies", &x.quarantine_policies));
    r.exposure = std::move(x);
  }
  return r;
}

}  // namespace keyrotor::engine
