#include "destinations/kubernetes_destination.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::destinations {
namespace {

using nlohmann::json;

constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
constexpr char kRestartedAt[] = "kubectl.kubernetes.io/restartedAt";
// Conflicts (another writer between our GET and PUT) and unknown outcomes
// are resolved by reading again; this many rounds, then the caller retries later.
constexpr int kKubeWriteRounds = 5;

// Secret data keys ("Secret v1": data keys "must consist of alphanumeric
// characters, '-', '_' or '.'"), at most 253.
bool IsSecretDataKey(std::string_view k) {
  return !k.empty() && k.size() <= 253 && k != "." && k != ".." &&
         std::all_of(k.begin(), k.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.'; });
}

// The Secret as read: the whole object (sent back on PUT, so labels,
// annotations and other keys survive) and the managed keys' values.
struct KubeObserved {
  bool exists = false;
  json object;
  std::map<std::string, Secret> values;  // managed keys present
  bool other_keys = false;               // data keys keyrotor does not manage
  bool created_by_keyrotor = false;
  KubeObserved() = default;
  KubeObserved(KubeObserved&&) = default;
  ~KubeObserved() { WipeJson(object); }
};

bool SameValues(const std::map<std::string, Secret>& a, const std::map<std::string, Secret>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

std::string KubernetesTarget::SecretPath() const { return "/api/v1/namespaces/" + namespace_ + "/secrets/" + name; }

Result<KubernetesTarget> ParseKubernetesSpec(std::string_view rest) {
  KubernetesTarget t;
  std::string_view main = rest;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    main = rest.substr(0, q);
    for (const std::string& param : Split(rest.substr(q + 1), '&')) {
      size_t eq = param.find('=');
      std::string name = param.substr(0, eq);
      if (name != "restart") return Status::InvalidArgument("unknown option '" + name + "' (only restart is accepted)");
      std::string value = eq == std::string::npos ? "" : UriDecode(param.substr(eq + 1));
      if (value.empty()) return Status::InvalidArgument("restart= needs Deployment names");
      for (const std::string& d : Split(value, ',')) {
        if (!IsDns1123Subdomain(d)) {
          return Status::InvalidArgument("'" + d + "' is not a Deployment name (a DNS-1123 subdomain)");
        }
        if (std::find(t.deployments.begin(), t.deployments.end(), d) == t.deployments.end()) t.deployments.push_back(d);
      }
    }
  }
  if (size_t hash = main.find('#'); hash != std::string_view::npos) {
    t.key = std::string(main.substr(hash + 1));
    main = main.substr(0, hash);
    if (!IsSecretDataKey(t.key)) {
      return Status::InvalidArgument("'" + t.key + "' is not a Secret data key (letters, digits, '-', '_', '.')");
    }
  }
  size_t slash = main.find('/');
  if (slash == std::string_view::npos) return Status::InvalidArgument("expected kubernetes:NAMESPACE/NAME[#KEY][?restart=DEPLOYMENTS]");
  t.namespace_ = std::string(main.substr(0, slash));
  t.name = std::string(main.substr(slash + 1));
  if (!IsDns1123Label(t.namespace_)) {
    return Status::InvalidArgument("namespace '" + t.namespace_ + "' is not a DNS-1123 label (a-z, 0-9, '-', at most 63)");
  }
  if (!IsDns1123Subdomain(t.name)) {
    return Status::InvalidArgument("Secret name '" + t.name +
                                   "' is not a DNS-1123 subdomain (a-z, 0-9, '-', '.', at most 253)");
  }
  return t;
}

KubernetesDestination::KubernetesDestination(std::string spec, KubernetesTarget target,
                                             std::unique_ptr<KubernetesApi> api, std::string value_template,
                                             Clock* clock)
    : spec_(std::move(spec)),
      target_(std::move(target)),
      api_(std::move(api)),
      value_template_(std::move(value_template)),
      clock_(clock ? clock : Clock::Real()) {}

std::vector<std::string> KubernetesDestination::ManagedKeys() const {
  if (!target_.key.empty()) return {target_.key};
  return {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"};
}

Result<std::map<std::string, Secret>> KubernetesDestination::Desired(const KeyHandoff& key) const {
  if (key.access_key_id.empty() || key.secret_access_key.empty()) {
    return Status::InvalidArgument(spec_ + ": the key has no access key id or secret");
  }
  std::map<std::string, Secret> out;
  if (!target_.key.empty()) {
    KR_ASSIGN_OR_RETURN(Secret value, RenderValue(value_template_, key));
    out.emplace(target_.key, std::move(value));
    return out;
  }
  out.emplace("AWS_ACCESS_KEY_ID", Secret(key.access_key_id));
  out.emplace("AWS_SECRET_ACCESS_KEY", key.secret_access_key.Clone());
  return out;
}

// This rotation's key is there: the access key id (unique per key) is the
// id key's value, or appears in the rendered value.
bool KubernetesDestination::HoldsKey(const std::map<std::string, Secret>& values, const KeyHandoff& key) const {
  const std::string managed = ManagedKeys().front();
  auto it = values.find(managed);
  if (it == values.end()) return false;
  if (target_.key.empty()) return it->second.reveal() == key.access_key_id;
  return it->second.reveal().find(key.access_key_id) != std::string::npos;
}

namespace {

Result<KubeObserved> ReadSecret(KubernetesApi& api, const KubernetesTarget& target,
                                const std::vector<std::string>& managed) {
  KubeObserved o;
  Result<KubeReply> reply = api.Call("GET", target.SecretPath(), "", "reading Secret " + target.name);
  if (!reply.ok()) {
    if (reply.status().IsNotFound() && api.last_http_status() == 404) return o;
    return reply.status();
  }
  o.object = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (!o.object.is_object() || !o.object.contains("metadata") || !o.object["metadata"].is_object()) {
    return Status::ParseError("reading Secret " + target.name + ": the reply is not a Secret");
  }
  o.exists = true;
  const json& labels = o.object["metadata"].value("labels", json::object());
  o.created_by_keyrotor = labels.is_object() && labels.value(kManagedByLabel, "") == "keyrotor";
  if (auto data = o.object.find("data"); data != o.object.end() && data->is_object()) {
    for (auto& [k, v] : data->items()) {
      if (std::find(managed.begin(), managed.end(), k) == managed.end()) {
        o.other_keys = true;
        continue;
      }
      std::optional<std::string> decoded = v.is_string() ? Base64Decode(v.get<std::string>()) : std::nullopt;
      if (!decoded) return Status::ParseError("reading Secret " + target.name + ": data " + k + " is not base64");
      o.values.emplace(k, TakeSecret(*decoded));
    }
  }
  return o;
}

bool IsConflictOrUnknown(const Status& s, const KubernetesApi& api) {
  return s.IsUnknownOutcome() || (api.last_http_status() == 409);
}

}  // namespace

Result<Secret> KubernetesDestination::Snapshot(const KeyHandoff&) {
  Result<KubeObserved> seen = ReadSecret(*api_, target_, ManagedKeys());
  if (!seen.ok()) return seen.status().WithContext(spec_);
  json snap = {{"existed", seen->exists}, {"created_by_keyrotor", seen->created_by_keyrotor}};
  json values = json::object();
  for (const auto& [k, v] : seen->values) values[k] = Base64Encode(v.reveal());
  snap["values"] = std::move(values);
  std::string text = snap.dump();
  WipeJson(snap);
  return TakeSecret(text);
}

Status KubernetesDestination::Restart(const std::string& restarted_at) {
  for (const std::string& d : target_.deployments) {
    // What `kubectl rollout restart` sends (its restart "patcher"): a
    // strategic-merge patch of the pod template's annotation.
    json patch = {{"spec", {{"template", {{"metadata", {{"annotations", {{kRestartedAt, restarted_at}}}}}}}}}};
    Result<KubeReply> r = api_->Call("PATCH", "/apis/apps/v1/namespaces/" + target_.namespace_ + "/deployments/" + d,
                                     patch.dump(), "restarting Deployment " + d,
                                     "application/strategic-merge-patch+json");
    if (!r.ok()) return r.status().WithContext(spec_ + ": the Secret holds the new key, but");
  }
  return Status::Ok();
}

Status KubernetesDestination::Put(const KeyHandoff& key) {
  KR_ASSIGN_OR_RETURN(auto desired, Desired(key));
  const std::string restarted_at = FormatIso8601(key.created == TimePoint{} ? clock_->Now() : key.created);
  bool maybe_written = false;
  Status last;
  for (int round = 0; round < kKubeWriteRounds; ++round) {
    Result<KubeObserved> seen = ReadSecret(*api_, target_, ManagedKeys());
    if (!seen.ok()) return seen.status().WithContext(spec_);
    if (seen->exists && SameValues(seen->values, desired)) return Restart(restarted_at);

    json data = json::object();
    Result<KubeReply> written = Status::Ok();
    if (!seen->exists) {
      // "Create a Secret": POST the collection; 201 Created.
      for (const auto& [k, v] : desired) data[k] = Base64Encode(v.reveal());
      json object = {{"apiVersion", "v1"},
                     {"kind", "Secret"},
                     {"type", "Opaque"},
                     {"metadata",
                      {{"name", target_.name},
                       {"namespace", target_.namespace_},
                       {"labels", {{kManagedByLabel, "keyrotor"}}}}},
                     {"data", std::move(data)}};
      std::string body = object.dump();
      WipeJson(object);
      written = api_->Call("POST", "/api/v1/namespaces/" + target_.namespace_ + "/secrets", body,
                           "creating Secret " + target_.name);
      WipeString(body);
    } else {
      // "Replace a Secret": PUT the object as read, with its resourceVersion,
      // so a write in between is refused (409) rather than overwritten.
      json& object = seen->object;
      if (!object.contains("data") || !object["data"].is_object()) object["data"] = json::object();
      for (const auto& [k, v] : desired) object["data"][k] = Base64Encode(v.reveal());
      std::string body = object.dump();
      written = api_->Call("PUT", target_.SecretPath(), body, "updating Secret " + target_.name);
      WipeString(body);
    }
    if (written.ok()) return Restart(restarted_at);
    last = written.status();
    if (!IsConflictOrUnknown(last, *api_)) return last.WithContext(spec_);
    // Someone wrote in between (409), or our write may have been applied:
    // read again and decide from what is there.
    maybe_written = maybe_written || last.IsUnknownOutcome();
  }
  std::string why = spec_ + ": the Secret kept changing under keyrotor's writes (" + last.message() + ")";
  if (maybe_written) return Status::UnknownOutcome(why);
  return Status::NetworkError(why + "; not written, try again");
}

Status KubernetesDestination::Restore(const KeyHandoff& key, const Secret& snapshot) {
  json snap = json::parse(snapshot.reveal(), nullptr, /*allow_exceptions=*/false);
  WipeJsonOnExit wipe_snap(snap);
  if (!snap.is_object() || !snap.contains("values") || !snap["values"].is_object()) {
    return Status::InvalidArgument(spec_ + ": the snapshot is not one this destination wrote");
  }
  const bool existed = snap.value("existed", false);
  std::map<std::string, Secret> previous;
  for (auto& [k, v] : snap["values"].items()) {
    std::optional<std::string> decoded = v.is_string() ? Base64Decode(v.get<std::string>()) : std::nullopt;
    if (!decoded) return Status::InvalidArgument(spec_ + ": the snapshot's value of " + k + " is not base64");
    previous.emplace(k, TakeSecret(*decoded));
  }
  Status last;
  for (int round = 0; round < kKubeWriteRounds; ++round) {
    Result<KubeObserved> seen = ReadSecret(*api_, target_, ManagedKeys());
    if (!seen.ok()) return seen.status().WithContext(spec_);
    // Gone (deleted by someone, or by an earlier Restore), or already as the
    // snapshot saw it (Put never wrote, or an earlier Restore did the work).
    if (!seen->exists) return Status::Ok();
    if (SameValues(seen->values, previous)) return Status::Ok();
    if (!HoldsKey(seen->values, key)) {
      return Status::FailedPrecondition(spec_ + ": superseded: the Secret holds a different key than rotation " +
                                        key.rotation_id + "'s (" + key.access_key_id + "), written by someone else");
    }
    Result<KubeReply> written = Status::Ok();
    const std::string rv = seen->object["metadata"].value("resourceVersion", "");
    if (!existed && !seen->other_keys && seen->created_by_keyrotor) {
      // keyrotor created it and nothing else is in it: delete it, only if
      // unchanged since read (DeleteOptions preconditions).
      json options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"preconditions", {{"resourceVersion", rv}}}};
      written = api_->Call("DELETE", target_.SecretPath(), options.dump(), "deleting Secret " + target_.name);
      if (!written.ok() && api_->last_http_status() == 404) return Restart(FormatIso8601(clock_->Now()));
      // A Role without delete (it is optional): remove our keys instead, leaving an empty Secret.
      if (!written.ok() && api_->last_http_status() == 403) {
        seen->object["data"] = json::object();
        std::string body = seen->object.dump();
        written = api_->Call("PUT", target_.SecretPath(), body, "emptying Secret " + target_.name);
        WipeString(body);
      }
    } else {
      json& object = seen->object;
      if (!object.contains("data") || !object["data"].is_object()) object["data"] = json::object();
      for (const std::string& k : ManagedKeys()) {
        if (auto it = previous.find(k); it != previous.end()) {
          object["data"][k] = Base64Encode(it->second.reveal());
        } else {
          object["data"].erase(k);
        }
      }
      std::string body = object.dump();
      written = api_->Call("PUT", target_.SecretPath(), body, "restoring Secret " + target_.name);
      WipeString(body);
    }
    // Pods that restarted onto the abandoned key are restarted onto the old one.
    if (written.ok()) return Restart(FormatIso8601(clock_->Now()));
    last = written.status();
    if (!IsConflictOrUnknown(last, *api_)) return last.WithContext(spec_);
  }
  return Status::UnknownOutcome(spec_ + ": restoring: the Secret kept changing (" + last.message() + ")");
}

Result<std::string> KubernetesDestination::CheckAccess() {
  struct Check {
    std::string verb, group, resource, name;
  };
  std::vector<Check> checks = {{"get", "", "secrets", target_.name},
                               {"create", "", "secrets", ""},
                               {"update", "", "secrets", target_.name}};
  for (const std::string& d : target_.deployments) checks.push_back({"patch", "apps", "deployments", d});
  std::vector<std::string> allowed, denied;
  for (const Check& c : checks) {
    // SelfSubjectAccessReview (authorization.k8s.io/v1): "can I?", answered
    // in status.allowed; creating one writes nothing.
    json attrs = {{"namespace", target_.namespace_}, {"verb", c.verb}, {"group", c.group}, {"resource", c.resource}};
    if (!c.name.empty()) attrs["name"] = c.name;
    json review = {{"apiVersion", "authorization.k8s.io/v1"},
                   {"kind", "SelfSubjectAccessReview"},
                   {"spec", {{"resourceAttributes", attrs}}}};
    Result<KubeReply> reply = api_->Call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                         review.dump(), "asking the API server (SelfSubjectAccessReview)");
    if (!reply.ok()) return reply.status().WithContext(spec_);
    json doc = json::parse(reply->body, nullptr, false);
    bool ok = doc.is_object() && doc.contains("status") && doc["status"].is_object() &&
              doc["status"].value("allowed", false);
    std::string what = c.resource + " " + c.verb + (c.name.empty() ? "" : " " + c.name);
    (ok ? allowed : denied).push_back(what);
  }
  if (!denied.empty()) {
    return Status::PermissionDenied(spec_ + ": in namespace " + target_.namespace_ + " the credentials from " +
                                    api_->source() + " may not: " + Join(denied) +
                                    (allowed.empty() ? "" : " (allowed: " + Join(allowed) + ")"));
  }
  return "Kubernetes RBAC allows, in namespace " + target_.namespace_ + " (" + api_->source() + "): " + Join(allowed);
}

std::vector<std::string> KubernetesRequirements(const KubernetesTarget& target) {
  std::vector<std::string> out = {
      "Kubernetes RBAC in namespace " + target.namespace_ +
      ": secrets get, create, update, delete (resourceNames " + target.name +
      " for get, update and delete; create cannot be limited by name; delete only to undo a Secret keyrotor created)"};
  if (!target.deployments.empty()) {
    out.push_back("Kubernetes RBAC in namespace " + target.namespace_ + ": deployments (API group apps) patch (" +
                  Join(target.deployments) + ")");
  }
  return out;
}

Result<std::unique_ptr<Destination>> MakeKubernetesDestination(std::string_view spec, std::string_view rest,
                                                               const aws::ClientFactory& aws,
                                                               const DestinationOptions& options) {
  auto bad = [&](const Status& s) {
    return Status::InvalidArgument("destination '" + std::string(spec) + "': " + s.message());
  };
  Result<KubernetesTarget> target = ParseKubernetesSpec(rest);
  if (!target.ok()) return bad(target.status());
  KubeSettings settings;
  settings.kubeconfig = options.kubernetes_kubeconfig;
  settings.context = options.kubernetes_context;
  settings.env = options.kubernetes_env;
  settings.service_account_dir = options.kubernetes_service_account_dir;
  Result<KubeCredentials> credentials = LoadKubeCredentials(settings);
  if (!credentials.ok()) return bad(credentials.status());
  const aws::ClientContext& ctx = aws.context();
  Result<std::unique_ptr<KubernetesApi>> api =
      KubernetesApi::Make(std::move(credentials).value(), ctx.clock, ctx.timeouts);
  if (!api.ok()) return bad(api.status());
  return std::unique_ptr<Destination>(std::make_unique<KubernetesDestination>(
      std::string(spec), std::move(target).value(), std::move(api).value(), options.value_template, ctx.clock));
}

}  // namespace keyrotor::destinations
