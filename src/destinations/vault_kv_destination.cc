#include "destinations/vault_kv_destination.h"

#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "base/wipe_json.h"

namespace keyrotor::destinations {
namespace {

// A writer racing us wins each round it writes between our read and our
// write; five rounds lost in a row means a busy secret, tried again later.
constexpr int kVaultCasRounds = 5;

constexpr char kCasMismatch[] = "check-and-set parameter did not match";

// A message-safe dump of a JSON document's serialization, wiped after use.
std::string DumpAndWipe(nlohmann::json& doc) {
  std::string text = doc.dump();
  WipeJson(doc);
  return text;
}

}  // namespace

Result<VaultKvTarget> ParseVaultKvSpec(std::string_view rest) {
  if (rest.empty() || rest.find('/') == std::string_view::npos) {
    return Status::InvalidArgument("expected vault-kv:MOUNT/PATH (for example vault-kv:secret/team/app/aws)");
  }
  std::vector<std::string> segments = Split(rest, '/');
  for (const std::string& s : segments) {
    if (s.empty()) return Status::InvalidArgument("the path has an empty segment ('//', or a leading or trailing '/')");
    if (s == "." || s == "..") return Status::InvalidArgument("the path may not contain '.' or '..' segments");
    // Vault paths are URL paths: no '?', '#', '%' escapes, spaces or controls
    // that would change what the request names.
    bool valid = std::all_of(s.begin(), s.end(), [](unsigned char c) {
      return std::isalnum(c) || std::string_view("-_.@+=:,~").find(static_cast<char>(c)) != std::string_view::npos;
    });
    if (!valid) return Status::InvalidArgument("segment '" + s + "' may hold only letters, digits and -_.@+=:,~");
  }
  VaultKvTarget t;
  t.mount = segments.front();
  t.path = std::string(rest.substr(t.mount.size() + 1));
  return t;
}

std::vector<std::string> VaultKvRequirements(const VaultKvTarget& target) {
  // "Policies": KV v2 data lives under MOUNT/data/; "delete" lets Restore
  // soft-delete the version it wrote when the secret did not exist before.
  return {"Vault policy: path \"" + target.DataPath() + "\" { capabilities = [\"create\", \"update\", \"read\", "
          "\"delete\"] }",
          "Vault policy (for keyrotor doctor): path \"sys/capabilities-self\" { capabilities = [\"update\"] } "
          "(in Vault's default policy)"};
}

VaultKvDestination::Current::~Current() { WipeJson(data); }

VaultKvDestination::VaultKvDestination(std::string spec, VaultKvTarget target, std::unique_ptr<VaultKvApi> api,
                                       std::string value_template)
    : spec_(std::move(spec)), target_(std::move(target)), api_(std::move(api)),
      value_template_(std::move(value_template)) {}

Result<nlohmann::json> VaultKvDestination::OurFields(const KeyHandoff& key) const {
  if (key.access_key_id.empty() || key.secret_access_key.empty()) {
    return Status::InvalidArgument(spec_ + ": the key has no access key id or secret");
  }
  if (value_template_.empty()) {
    return nlohmann::json{{"AWS_ACCESS_KEY_ID", key.access_key_id},
                          {"AWS_SECRET_ACCESS_KEY", std::string(key.secret_access_key.reveal())}};
  }
  KR_ASSIGN_OR_RETURN(Secret rendered, RenderValue(value_template_, key));
  nlohmann::json fields = nlohmann::json::parse(rendered.reveal(), nullptr, /*allow_exceptions=*/false);
  if (!fields.is_object() || fields.empty()) {
    WipeJson(fields);
    return Status::InvalidArgument(spec_ + ": the value template must render to a JSON object with fields (each "
                                           "becomes a field of the Vault secret)");
  }
  return fields;
}

bool VaultKvDestination::Holds(const nlohmann::json& data, const nlohmann::json& fields) {
  if (!data.is_object()) return false;
  for (const auto& [name, value] : fields.items()) {
    auto it = data.find(name);
    if (it == data.end() || *it != value) return false;
  }
  return true;
}

// "KV secrets engine - version 2 (API)", "Read secret version": 200
// {"data": {"data": {...}, "metadata": {"version": N, "deletion_time", "destroyed", ...}}}.
// An absent secret is 404 {"errors": []}; a deleted or destroyed latest
// version is 404 too, with {"data": {"data": null, "metadata": {...}}}, and
// its version is still the one cas compares with. A 404 with errors is
// something else (no such mount: "no handler for route ...").
Result<VaultKvDestination::Current> VaultKvDestination::Read() {
  KR_ASSIGN_OR_RETURN(VaultReply reply, api_->Call("GET", target_.DataPath(), "", "reading " + target_.DataPath(), {404}));
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  WipeJsonOnExit wipe_doc(doc);
  Current cur;
  cur.data = nlohmann::json::object();
  if (reply.status == 404) {
    bool has_errors = doc.is_object() && doc.contains("errors") && doc["errors"].is_array() && !doc["errors"].empty();
    if (has_errors) {
      std::string errors;
      for (const auto& e : doc["errors"]) {
        if (e.is_string()) errors += (errors.empty() ? "" : "; ") + e.get<std::string>();
      }
      return Status::NotFound("reading " + target_.DataPath() + ": HTTP 404: Vault says \"" + errors +
                              "\" (no such mount or namespace; is " + target_.mount + " a KV version 2 mount?)");
    }
  }
  const nlohmann::json* outer = doc.is_object() && doc.contains("data") && doc["data"].is_object() ? &doc["data"] : nullptr;
  if (outer && outer->contains("metadata") && (*outer)["metadata"].is_object()) {
    const nlohmann::json& meta = (*outer)["metadata"];
    if (auto it = meta.find("version"); it != meta.end() && it->is_number_integer()) cur.version = it->get<int64_t>();
  }
  if (reply.status == 200) {
    if (!outer || !outer->contains("data") || !(*outer)["data"].is_object() || cur.version <= 0) {
      return Status::ParseError("reading " + target_.DataPath() +
                                ": the reply is not a KV version 2 secret (no data.data or data.metadata.version; is " +
                                target_.mount + " a KV version 1 mount?)");
    }
    cur.exists = true;
    cur.data = std::move((*outer)["data"]);
  }
  return cur;
}

// "Create/Update secret": POST MOUNT/data/PATH {"options": {"cas": N}, "data": {...}}
// -> 200 {"data": {"version": N+1, ...}}; a stale cas -> 400
// {"errors": ["check-and-set parameter did not match the current version"]}.
Status VaultKvDestination::Write(const nlohmann::json& data, int64_t version, bool* cas_mismatch) {
  *cas_mismatch = false;
  nlohmann::json body = {{"options", {{"cas", version}}}, {"data", data}};
  std::string text = DumpAndWipe(body);
  Result<VaultReply> reply = api_->Call("POST", target_.DataPath(), text, "writing " + target_.DataPath());
  WipeString(text);
  if (reply.ok()) return Status::Ok();
  if (api_->last_http_status() == 400 && api_->last_errors().find(kCasMismatch) != std::string::npos) {
    *cas_mismatch = true;
  }
  return reply.status();
}

Result<Secret> VaultKvDestination::Snapshot(const KeyHandoff& key) {
  KR_ASSIGN_OR_RETURN(nlohmann::json ours, OurFields(key));
  WipeJsonOnExit wipe_ours(ours);
  Result<Current> cur = Read();
  if (!cur.ok()) return cur.status().WithContext(spec_);
  nlohmann::json snap = {{"existed", cur->exists}, {"version", cur->version}, {"fields", nlohmann::json::object()}};
  for (const auto& [name, value] : ours.items()) {
    if (auto it = cur->data.find(name); it != cur->data.end()) snap["fields"][name] = *it;
  }
  std::string text = DumpAndWipe(snap);
  return TakeSecret(text);
}

Status VaultKvDestination::Put(const KeyHandoff& key) {
  KR_ASSIGN_OR_RETURN(nlohmann::json ours, OurFields(key));
  WipeJsonOnExit wipe_ours(ours);
  Status last;
  for (int round = 0; round < kVaultCasRounds; ++round) {
    Result<Current> cur = Read();
    if (!cur.ok()) return cur.status().WithContext(spec_);
    // Already there: a retry after a crash or after an unknown outcome.
    if (cur->exists && Holds(cur->data, ours)) return Status::Ok();
    nlohmann::json merged = cur->exists ? cur->data : nlohmann::json::object();
    WipeJsonOnExit wipe_merged(merged);
    for (const auto& [name, value] : ours.items()) merged[name] = value;
    bool mismatch = false;
    last = Write(merged, cur->version, &mismatch);
    if (last.ok()) return Status::Ok();
    // A mismatch: someone wrote between our read and our write, or our own
    // earlier attempt was applied before its answer was lost. Read again.
    if (!mismatch) return last.WithContext(spec_);
  }
  return Status::NetworkError(spec_ + ": the secret changed under every write (" + std::to_string(kVaultCasRounds) +
                              " check-and-set conflicts in a row); nothing of ours was written, try again later");
}

Status VaultKvDestination::Restore(const KeyHandoff& key, const Secret& snapshot) {
  KR_ASSIGN_OR_RETURN(nlohmann::json ours, OurFields(key));
  WipeJsonOnExit wipe_ours(ours);
  nlohmann::json snap = nlohmann::json::parse(snapshot.reveal(), nullptr, /*allow_exceptions=*/false);
  WipeJsonOnExit wipe_snap(snap);
  if (!snapshot.empty() &&
      (!snap.is_object() || !snap.contains("fields") || !snap["fields"].is_object() || !snap.contains("existed"))) {
    return Status::ParseError(spec_ + ": the snapshot is not one this destination took");
  }
  const bool existed = !snapshot.empty() && snap["existed"] == true;
  nlohmann::json before = existed ? snap["fields"] : nlohmann::json::object();
  WipeJsonOnExit wipe_before(before);
  for (int round = 0; round < kVaultCasRounds; ++round) {
    Result<Current> cur = Read();
    if (!cur.ok()) return cur.status().WithContext(spec_);
    // Already as before (a repeated Restore): each field we manage is what
    // the snapshot held, or absent when it held none.
    bool restored = true;
    for (const auto& [name, value] : ours.items()) {
      auto now = cur->exists ? cur->data.find(name) : cur->data.end();
      auto then = before.find(name);
      bool now_has = cur->exists && now != cur->data.end();
      if (now_has != (then != before.end()) || (now_has && *now != *then)) restored = false;
    }
    if (restored) return Status::Ok();
    if (!cur->exists || !Holds(cur->data, ours)) {
      return Status::FailedPrecondition(spec_ + ": superseded: " + target_.DataPath() + " (version " +
                                        std::to_string(cur->version) +
                                        ") no longer holds this rotation's key " + key.access_key_id +
                                        "; someone else wrote it since, so it is left as it is");
    }
    nlohmann::json data = cur->data;
    WipeJsonOnExit wipe_data(data);
    for (const auto& [name, value] : ours.items()) data.erase(name);
    for (const auto& [name, value] : before.items()) data[name] = value;
    if (!existed && data.empty()) {
      // The secret had no data before and holds only our key now: soft-delete
      // the latest version ("Delete latest version of secret", DELETE
      // MOUNT/data/PATH -> 204), so readers see 404 as before. Soft, not
      // destroyed: it needs only the delete capability on the same path, and
      // keeps the version history (the abandoned key in it is deleted in IAM
      // anyway). DELETE takes no cas, so the version is checked just before;
      // a writer landing in between would have its version deleted, which
      // `vault kv undelete` reverts.
      Result<VaultReply> del = api_->Call("DELETE", target_.DataPath(), "", "deleting the latest version of " +
                                                                                target_.DataPath());
      if (!del.ok()) return del.status().WithContext(spec_);
      return Status::Ok();
    }
    bool mismatch = false;
    Status wrote = Write(data, cur->version, &mismatch);
    if (wrote.ok()) return Status::Ok();
    if (!mismatch) return wrote.WithContext(spec_);
  }
  return Status::NetworkError(spec_ + ": the secret changed under every restore attempt; try again later");
}

// "/sys/capabilities-self": POST {"paths": [P]} -> 200 {"P": [caps...],
// "capabilities": [...], ...}, "deny" when nothing is granted; "root" (a
// root token) allows everything.
Result<std::string> VaultKvDestination::CheckAccess() {
  const std::string path = target_.DataPath();
  nlohmann::json body = {{"paths", {path}}};
  Result<VaultReply> reply = api_->Call("POST", "sys/capabilities-self", body.dump(), "asking capabilities-self");
  if (!reply.ok()) return reply.status().WithContext(spec_);
  nlohmann::json doc = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* caps = nullptr;
  if (doc.is_object()) {
    if (doc.contains(path) && doc[path].is_array()) caps = &doc[path];
    else if (doc.contains("capabilities") && doc["capabilities"].is_array()) caps = &doc["capabilities"];
  }
  if (!caps) return Status::ParseError(spec_ + ": the capabilities-self reply names no capabilities");
  std::vector<std::string> have;
  for (const auto& c : *caps) {
    if (c.is_string()) have.push_back(c.get<std::string>());
  }
  auto has = [&](const std::string& c) { return std::find(have.begin(), have.end(), c) != have.end(); };
  std::string list = Join(have, ", ");
  if (has("root")) return "capabilities-self on " + path + ": root";
  std::vector<std::string> missing;
  for (const char* need : {"create", "update", "read"}) {
    if (!has(need)) missing.push_back(need);
  }
  if (!missing.empty()) {
    return Status::PermissionDenied(spec_ + ": the Vault token may not " + Join(missing, ", ") + " " + path +
                                    " (its capabilities there: " + (list.empty() ? "none" : list) + ")");
  }
  std::string text = "capabilities-self on " + path + ": " + list;
  if (!has("delete")) text += " (no delete: a rollback cannot remove a secret keyrotor created)";
  return text;
}

Result<std::unique_ptr<Destination>> MakeVaultKvDestination(std::string_view spec, std::string_view rest,
                                                            const aws::ClientFactory& aws,
                                                            const DestinationOptions& options) {
  auto bad = [&](const Status& s) {
    return Status::InvalidArgument("destination '" + std::string(spec) + "': " + s.message());
  };
  Result<VaultKvTarget> target = ParseVaultKvSpec(rest);
  if (!target.ok()) return bad(target.status());
  VaultKvSettings settings;
  settings.addr = options.vault_kv_addr;
  settings.namespace_ = options.vault_kv_namespace;
  settings.ca_cert = options.vault_kv_ca_cert;
  settings.auth = options.vault_kv_auth;
  settings.auth_mount = options.vault_kv_auth_mount;
  settings.token_file = options.vault_kv_token_file;
  settings.role_id = options.vault_kv_role_id;
  settings.secret_id_file = options.vault_kv_secret_id_file;
  settings.role = options.vault_kv_role;
  settings.jwt_file = options.vault_kv_jwt_file;
  settings.env = options.vault_kv_env;
  const aws::ClientContext& ctx = aws.context();
  Result<std::unique_ptr<VaultKvApi>> api = VaultKvApi::Make(settings, ctx.transport, ctx.clock, ctx.timeouts);
  if (!api.ok()) return bad(api.status());
  return std::unique_ptr<Destination>(std::make_unique<VaultKvDestination>(
      std::string(spec), std::move(target).value(), std::move(api).value(), options.value_template));
}

}  // namespace keyrotor::destinations
