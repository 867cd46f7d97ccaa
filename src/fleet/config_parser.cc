#include "fleet/config_parser.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "base/file_util.h"
#include "base/strings.h"
#include "credentials/shared_config.h"
#include "engine/settings.h"

namespace keyrotor::fleet {
namespace {

// The keys a [policy] table (or a [[selection]], overriding them) may hold:
// the config-file names of the `keyrotor rotate` flags.
// clang-format off
const std::vector<std::string_view> kPolicyKeys = [] {
  std::vector<std::string_view> keys = {
    "mode", "rotate_after", "deactivate_after", "delete_after", "max_age", "quiet_period", "force_after",
    "verify_timeout", "exempt_tags", "exempt_groups", "delete_unknown_inactive", "to", "notify", "value_template",
    "kms_key_id", "vault_key_file", "webhook_secret_file", "exec_timeout", "on_exposure", "exposed_delete_after",
    "exposure_lookup_window", "exposure_lookup_regions"};
  for (const engine::DestinationSetting& d : engine::DestinationSettings()) keys.push_back(d.key);
  return keys;
}();
const std::vector<std::string_view> kTopKeys = {"state",    "concurrency", "planning",  "schedule",
                                                "policy",   "accounts",    "selection", "organization"};
const std::vector<std::string_view> kOrganizationKeys = {
    "role_name", "external_id", "session_name", "region", "rate_limit", "include_ous", "exclude_ous",
    "include_accounts", "exclude_accounts", "include_management_account"};
const std::vector<std::string_view> kAccountKeys = {
    "name", "id", "role_arn", "external_id", "session_name", "region", "rate_limit"};
const std::vector<std::string_view> kCriteriaKeys = {
    "accounts", "users", "user_regex", "path_prefix", "groups", "tags", "all_users", "exclude_users", "exclude_regex"};
// clang-format on

const std::regex kAccountNamePattern("[A-Za-z0-9_.-]{1,64}");
const std::regex kAccountIdPattern("[0-9]{12}");
// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME (IAM identifiers reference).
const std::regex kRoleArnPattern(R"(arn:aws(-[a-z]+)*:iam::([0-9]{12}):role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64})");
const std::regex kExternalIdPattern(R"([\w+=,.@:/-]{2,1224})");
const std::regex kSessionNamePattern(R"([\w+=,.@-]{2,64})");
const std::regex kRegionPattern("[a-z]{2}(-[a-z]+)+-[0-9]+");
// Organizations ids (API reference, OrganizationalUnit.Id and Root.Id patterns).
const std::regex kParentIdPattern("(r-[0-9a-z]{4,32})|(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})");
// A role name, optionally with a path (IAM identifiers reference).
const std::regex kRoleNamePattern(R"(([\w+=,.@-]+/)*[\w+=,.@-]{1,64})");

std::string TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

int LineOf(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

using KeyLists = std::vector<const std::vector<std::string_view>*>;

// " (did you mean X?)" for a near miss of a known key, else "".
std::string Suggestion(std::string_view key, const KeyLists& allowed) {
  std::string_view best;
  size_t best_distance = 3;  // only near misses: a suggestion for "foo" would be noise
  for (const auto* keys : allowed) {
    for (std::string_view k : *keys) {
      size_t d = EditDistance(key, k);
      if (d < best_distance) best_distance = d, best = k;
    }
  }
  return best.empty() ? "" : " (did you mean " + std::string(best) + "?)";
}

bool Contains(const std::vector<std::string_view>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Reads one file's tables into a FleetConfig, collecting every problem.
class Parser {
 public:
  Parser(std::string path, const EnvMap& env) : env_(env) {
    config_.path = std::move(path);
    std::filesystem::path p(config_.path);
    dir_ = p.has_parent_path() ? p.parent_path().string() : ".";
  }

  // The config (as far as it could be read), or nullopt when the text is not
  // TOML; every problem goes to errors().
  std::optional<FleetConfig> Parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, config_.path);
    } catch (const toml::parse_error& e) {
      Report(config_.path + ":" + std::to_string(e.source().begin.line) + ":" +
             std::to_string(e.source().begin.column) + ": TOML syntax error: " + std::string(e.description()));
      return std::nullopt;
    }
    ParseTop(root);
    return std::move(config_);
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  // --- Reporting --------------------------------------------------------------

  void Error(const SettingOrigin& where, const std::string& what) { Report(config_.Locate(where) + ": " + what); }
  void Error(int line, const std::string& setting, const std::string& what) { Error({line, setting}, what); }
  // Every message once: a [policy] problem would otherwise come back with
  // each selection that inherits it.
  void Report(std::string message) {
    if (seen_.insert(message).second) errors_.push_back(std::move(message));
  }

  // A typo must not be silently ignored: every key must be one we know.
  void CheckKeys(const toml::table& table, const std::string& prefix, const KeyLists& allowed) {
    for (auto&& [key, node] : table) {
      bool known = false;
      for (const auto* keys : allowed) known = known || Contains(*keys, key.str());
      if (!known) {
        Error(static_cast<int>(key.source().begin.line), prefix + std::string(key.str()),
              "unknown setting" + Suggestion(key.str(), allowed));
      }
    }
  }

  // --- Typed reads: false (with an error) when present with the wrong type ----

  bool ReadString(const toml::node& node, const std::string& setting, std::string* out) {
    if (const auto* s = node.as_string()) {
      *out = s->get();
      return true;
    }
    Error(LineOf(node), setting, "expected a string, got " + TypeName(node));
    return false;
  }

  bool ReadBool(const toml::node& node, const std::string& setting, bool* out) {
    if (const auto* b = node.as_boolean()) {
      *out = b->get();
      return true;
    }
    Error(LineOf(node), setting, "expected true or false, got " + TypeName(node));
    return false;
  }

  // An array of strings, or one string for a one-element list. `lines` gets
  // each element's line.
  bool ReadStringList(const toml::node& node, const std::string& setting, std::vector<std::string>* out,
                      std::vector<int>* lines = nullptr) {
    out->clear();
    if (lines) lines->clear();
    if (const auto* s = node.as_string()) {
      out->push_back(s->get());
      if (lines) lines->push_back(LineOf(node));
      return true;
    }
    const auto* array = node.as_array();
    if (!array) {
      Error(LineOf(node), setting, "expected an array of strings, got " + TypeName(node));
      return false;
    }
    bool ok = true;
    for (const toml::node& element : *array) {
      if (const auto* s = element.as_string()) {
        out->push_back(s->get());
        if (lines) lines->push_back(LineOf(element));
      } else {
        Error(LineOf(element), setting, "expected an array of strings, found " + TypeName(element));
        ok = false;
      }
    }
    return ok;
  }

  // A file path from the config: ~ expanded, relative to the config's directory.
  std::string FilePath(const std::string& value) const {
    std::string p = credentials::ExpandHome(value, env_);
    if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (std::filesystem::path(dir_) / p).lexically_normal().string();
  }

  // --- Top level --------------------------------------------------------------

  void ParseTop(const toml::table& root) {
    CheckKeys(root, "", {&kTopKeys});
    ParseState(root);
    if (const toml::node* n = root.get("concurrency")) {
      if (const auto* i = n->as_integer(); i && i->get() >= 1 && i->get() <= 256) {
        config_.concurrency = static_cast<int>(i->get());
      } else if (i) {
        Error(LineOf(*n), "concurrency", "must be between 1 and 256, got " + std::to_string(i->get()));
      } else {
        Error(LineOf(*n), "concurrency", "expected an integer (1..256), got " + TypeName(*n));
      }
    }
    if (const toml::node* n = root.get("schedule")) {
      std::string text;
      if (ReadString(*n, "schedule", &text)) {
        Result<Schedule> schedule = Schedule::Parse(text);
        if (schedule.ok()) {
          config_.schedule = std::move(schedule).value();
        } else {
          Error(LineOf(*n), "schedule", schedule.status().message());
        }
      }
    }
    if (const toml::node* n = root.get("planning")) {
      std::string planning;
      if (ReadString(*n, "planning", &planning)) {
        if (planning == "bulk" || planning == "per-user") {
          config_.bulk_planning = planning == "bulk";
        } else {
          Error(LineOf(*n), "planning", "'" + planning + "': expected \"bulk\" or \"per-user\"");
        }
      }
    }
    ParseOrganization(root);
    ParseAccounts(root);
    ParsePolicyAndSelections(root);
  }

  // --- [organization] -------------------------------------------------------------

  void ParseOrganization(const toml::table& root) {
    const toml::node* n = root.get("organization");
    if (!n) return;
    const toml::table* t = n->as_table();
    if (!t) {
      Error(LineOf(*n), "organization", "expected an [organization] table, got " + TypeName(*n));
      return;
    }
    OrganizationSettings& o = config_.organization;
    o.enabled = true;
    o.line = LineOf(*t);
    CheckKeys(*t, "organization.", {&kOrganizationKeys});
    if (const toml::node* v = t->get("role_name")) {
      if (ReadString(*v, "organization.role_name", &o.role_name) && !std::regex_match(o.role_name, kRoleNamePattern)) {
        Error(LineOf(*v), "organization.role_name", "'" + o.role_name + "' is not a role name (or path/name)");
      }
    } else {
      Error(o.line, "organization.role_name",
            "required: the role to assume in each member account, e.g. \"OrganizationAccountAccessRole\"");
    }
    if (const toml::node* v = t->get("external_id");
        v && ReadString(*v, "organization.external_id", &o.external_id) &&
        !std::regex_match(o.external_id, kExternalIdPattern)) {
      Error(LineOf(*v), "organization.external_id", "expected 2-1224 of letters, digits and +=,.@:/-_");
    }
    if (const toml::node* v = t->get("session_name");
        v && ReadString(*v, "organization.session_name", &o.session_name) &&
        !std::regex_match(o.session_name, kSessionNamePattern)) {
      Error(LineOf(*v), "organization.session_name",
            "'" + o.session_name + "': expected 2-64 of letters, digits and +=,.@-_");
    }
    if (const toml::node* v = t->get("region");
        v && ReadString(*v, "organization.region", &o.region) && !std::regex_match(o.region, kRegionPattern)) {
      Error(LineOf(*v), "organization.region", "'" + o.region + "' is not a region name like us-east-1");
    }
    if (const toml::node* v = t->get("rate_limit")) {
      std::optional<double> rate = v->value<double>();
      if (!rate || !(v->is_integer() || v->is_floating_point())) {
        Error(LineOf(*v), "organization.rate_limit", "expected requests per second (a number), got " + TypeName(*v));
      } else if (!std::isfinite(*rate) || *rate < 0) {
        Error(LineOf(*v), "organization.rate_limit", "must be 0 (unlimited) or more");
      } else {
        o.rate_limit = *rate;
      }
    }
    auto ids = [&](const char* key, const std::regex& pattern, const char* what, std::vector<std::string>* out) {
      const toml::node* v = t->get(key);
      std::vector<int> lines;
      if (!v || !ReadStringList(*v, std::string("organization.") + key, out, &lines)) return;
      for (size_t j = 0; j < out->size(); ++j) {
        if (!std::regex_match((*out)[j], pattern)) {
          Error(lines[j], std::string("organization.") + key, "'" + (*out)[j] + "' is not " + what);
        }
      }
    };
    ids("include_ous", kParentIdPattern, "an OU or root id (ou-xxxx-xxxxxxxx, r-xxxx)", &o.include_ous);
    ids("exclude_ous", kParentIdPattern, "an OU or root id (ou-xxxx-xxxxxxxx, r-xxxx)", &o.exclude_ous);
    ids("include_accounts", kAccountIdPattern, "a 12-digit account id", &o.include_accounts);
    ids("exclude_accounts", kAccountIdPattern, "a 12-digit account id", &o.exclude_accounts);
    if (const toml::node* v = t->get("include_management_account")) {
      ReadBool(*v, "organization.include_management_account", &o.include_management_account);
    }
  }

  void ParseState(const toml::table& root) {
    const toml::node* n = root.get("state");
    if (!n) {
      config_.state = engine::DefaultStatePath(env_);
      return;
    }
    std::string state;
    if (!ReadString(*n, "state", &state)) return;
    if (Trim(state).empty()) {
      Error(LineOf(*n), "state", "empty: give the journal's path or a postgresql:// URL");
    } else if (StartsWith(state, "postgresql://") || StartsWith(state, "postgres://")) {
      config_.state = state;  // the engine opens it; the URL may carry a password, never echoed
    } else if (state.find("://") != std::string::npos) {
      Error(LineOf(*n), "state", "expected a file path or a postgresql:// URL");
    } else {
      config_.state = FilePath(state);
    }
  }

  // --- [[accounts]] -------------------------------------------------------------

  void ParseAccounts(const toml::table& root) {
    const toml::node* n = root.get("accounts");
    if (!n) {
      if (config_.organization.enabled) return;  // discovery finds them
      Account implicit;
      implicit.name = "default";
      config_.accounts.push_back(implicit);
      return;
    }
    const toml::array* array = n->as_array();
    if (!array || !array->is_array_of_tables()) {
      Error(LineOf(*n), "accounts", "expected [[accounts]] tables, got " + TypeName(*n));
      return;
    }
    if (array->empty()) {
      Error(LineOf(*n), "accounts",
            "at least one account is needed (or leave [[accounts]] out: the admin "
            "credentials' own account)");
      return;
    }
    std::map<std::string, int> names;  // name -> line
    int own_account_line = 0;          // an account without role_arn
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table& t = *array->get(i)->as_table();
      const std::string prefix = "accounts[" + std::to_string(i) + "].";
      Account a;
      a.line = LineOf(t);
      CheckKeys(t, prefix, {&kAccountKeys});
      if (const toml::node* v = t.get("name")) {
        if (ReadString(*v, prefix + "name", &a.name)) {
          if (!std::regex_match(a.name, kAccountNamePattern)) {
            Error(LineOf(*v), prefix + "name", "'" + a.name + "': use 1-64 letters, digits, '.', '_' or '-'");
          } else if (auto [it, inserted] = names.emplace(a.name, LineOf(*v)); !inserted) {
            Error(LineOf(*v), prefix + "name",
                  "'" + a.name + "' is already the name of the account at line " + std::to_string(it->second));
          }
        }
      } else {
        Error(a.line, prefix + "name", "required: every [[accounts]] table needs a unique name");
      }
      if (const toml::node* v = t.get("id")) {
        // A string, because an account id may start with zeros.
        if (!v->as_string() || !std::regex_match(a.id = v->as_string()->get(), kAccountIdPattern)) {
          Error(LineOf(*v), prefix + "id", "expected the 12-digit account id as a string, e.g. \"012345678901\"");
        }
      }
      if (const toml::node* v = t.get("role_arn"); v && ReadString(*v, prefix + "role_arn", &a.role_arn)) {
        std::smatch m;
        if (!std::regex_match(a.role_arn, m, kRoleArnPattern)) {
          Error(LineOf(*v), prefix + "role_arn", "expected arn:aws:iam::ACCOUNT_ID:role/NAME");
        } else if (!a.id.empty() && std::regex_match(a.id, kAccountIdPattern) && m[2].str() != a.id) {
          Error(LineOf(*v), prefix + "role_arn", "the role is in account " + m[2].str() + " but id says " + a.id);
        }
      }
      if (const toml::node* v = t.get("external_id"); v && ReadString(*v, prefix + "external_id", &a.external_id)) {
        // The external id is a shared value between the account owners: never echoed.
        if (!std::regex_match(a.external_id, kExternalIdPattern)) {
          Error(LineOf(*v), prefix + "external_id", "expected 2-1224 of letters, digits and +=,.@:/-_");
        } else if (!t.get("role_arn")) {
          Error(LineOf(*v), prefix + "external_id", "only means something with role_arn");
        }
      }
      if (const toml::node* v = t.get("session_name"); v && ReadString(*v, prefix + "session_name", &a.session_name)) {
        if (!std::regex_match(a.session_name, kSessionNamePattern)) {
          Error(LineOf(*v), prefix + "session_name",
                "'" + a.session_name + "': expected 2-64 of letters, digits and +=,.@-_");
        } else if (!t.get("role_arn")) {
          Error(LineOf(*v), prefix + "session_name", "only means something with role_arn");
        }
      }
      if (const toml::node* v = t.get("region"); v && ReadString(*v, prefix + "region", &a.region)) {
        if (!std::regex_match(a.region, kRegionPattern)) {
          Error(LineOf(*v), prefix + "region", "'" + a.region + "' is not a region name like us-east-1");
        }
      }
      if (const toml::node* v = t.get("rate_limit")) {
        std::optional<double> rate = v->value<double>();
        if (!rate || !(v->is_integer() || v->is_floating_point())) {
          Error(LineOf(*v), prefix + "rate_limit", "expected requests per second (a number), got " + TypeName(*v));
        } else if (!std::isfinite(*rate) || *rate < 0) {
          Error(LineOf(*v), prefix + "rate_limit", "must be 0 (unlimited) or more");
        } else {
          a.rate_limit = *rate;
        }
      }
      if (!t.get("role_arn")) {
        // Two such accounts would be the same account twice, its users rotated twice.
        if (own_account_line) {
          Error(a.line, prefix + "role_arn",
                "required here: the account at line " + std::to_string(own_account_line) +
                    " already uses the admin credentials' own account");
        }
        own_account_line = a.line;
      }
      config_.accounts.push_back(std::move(a));
    }
  }

  // --- [policy] and [[selection]] ----------------------------------------------

  // The policy settings as written, and where, for one table on top of another.
  struct PolicyLayer {
    engine::EngineSettings settings;
    std::map<std::string, SettingOrigin, std::less<>> origins;  // key -> where written
    std::vector<SettingOrigin> to_origins, notify_origins;
  };

  void ReadPolicyKeys(const toml::table& t, const std::string& prefix, PolicyLayer& layer) {
    engine::EngineSettings& s = layer.settings;
    // Each string setting and the EngineSettings field it fills.
    const std::vector<std::pair<std::string_view, std::string engine::EngineSettings::*>> strings = {
        {"mode", &engine::EngineSettings::mode},
        {"rotate_after", &engine::EngineSettings::rotate_after},
        {"deactivate_after", &engine::EngineSettings::deactivate_after},
        {"delete_after", &engine::EngineSettings::delete_after},
        {"max_age", &engine::EngineSettings::max_age},
        {"quiet_period", &engine::EngineSettings::quiet_period},
        {"force_after", &engine::EngineSettings::force_after},
        {"verify_timeout", &engine::EngineSettings::verify_timeout},
        {"on_exposure", &engine::EngineSettings::on_exposure},
        {"exposed_delete_after", &engine::EngineSettings::exposed_delete_after},
        {"exposure_lookup_window", &engine::EngineSettings::exposure_lookup_window},
        {"kms_key_id", &engine::EngineSettings::kms_key_id},
        {"exec_timeout", &engine::EngineSettings::exec_timeout},
    };
    for (const auto& [key, field] : strings) {
      if (const toml::node* v = t.get(key)) {
        std::string value;
        if (ReadString(*v, prefix + std::string(key), &value)) s.*field = value;
        layer.origins[std::string(key)] = {LineOf(*v), prefix + std::string(key)};
      }
    }
    const std::vector<std::pair<std::string_view, std::string engine::EngineSettings::*>> files = {
        {"value_template", &engine::EngineSettings::value_template_file},
        {"vault_key_file", &engine::EngineSettings::vault_key_file},
        {"webhook_secret_file", &engine::EngineSettings::webhook_secret_file},
    };
    for (const engine::DestinationSetting& d : engine::DestinationSettings()) {
      if (const toml::node* v = t.get(d.key)) {
        std::string value;
        if (ReadString(*v, prefix + d.key, &value)) s.*d.setting = d.file ? FilePath(value) : value;
        layer.origins[d.key] = {LineOf(*v), prefix + d.key};
      }
    }
    for (const auto& [key, field] : files) {
      if (const toml::node* v = t.get(key)) {
        std::string value;
        if (ReadString(*v, prefix + std::string(key), &value)) s.*field = FilePath(value);
        layer.origins[std::string(key)] = {LineOf(*v), prefix + std::string(key)};
      }
    }
    if (const toml::node* v = t.get("delete_unknown_inactive")) {
      ReadBool(*v, prefix + "delete_unknown_inactive", &s.delete_unknown_inactive);
      layer.origins["delete_unknown_inactive"] = {LineOf(*v), prefix + "delete_unknown_inactive"};
    }
    const std::vector<std::pair<std::string_view, std::vector<std::string> engine::EngineSettings::*>> lists = {
        {"exempt_tags", &engine::EngineSettings::exempt_tags},
        {"exempt_groups", &engine::EngineSettings::exempt_groups},
        {"exposure_lookup_regions", &engine::EngineSettings::exposure_lookup_regions},
        {"to", &engine::EngineSettings::to},
        {"notify", &engine::EngineSettings::notify},
    };
    for (const auto& [key, field] : lists) {
      const toml::node* v = t.get(key);
      if (!v) continue;
      const std::string setting = prefix + std::string(key);
      std::vector<int> lines;
      if (!ReadStringList(*v, setting, &(s.*field), &lines)) continue;
      layer.origins[std::string(key)] = {LineOf(*v), setting};
      std::vector<SettingOrigin>* origins = key == "to"       ? &layer.to_origins
                                            : key == "notify" ? &layer.notify_origins
                                                              : nullptr;
      if (origins) {
        origins->clear();
        for (int line : lines) origins->push_back({line, setting});
      }
    }
  }

  // Parses a layer's settings with the engine's own resolver, each problem
  // reported at the line that wrote the setting (or `fallback`).
  std::optional<engine::EngineOptions> Resolve(const PolicyLayer& layer, const SettingOrigin& fallback) {
    engine::SettingNamer name = [&](std::string_view key) {
      auto it = layer.origins.find(key);
      if (it != layer.origins.end()) return config_.Locate(it->second);
      return config_.Locate({fallback.line, fallback.setting + std::string(key)});
    };
    Result<engine::EngineOptions> options = engine::ResolveEngineSettings(layer.settings, env_, name);
    if (options.ok()) return std::move(options).value();
    for (const std::string& line : Split(options.status().message(), '\n')) Report(line);
    return std::nullopt;
  }

  void ParsePolicyAndSelections(const toml::table& root) {
    PolicyLayer defaults;
    if (const toml::node* n = root.get("policy")) {
      if (const toml::table* t = n->as_table()) {
        CheckKeys(*t, "policy.", {&kPolicyKeys});
        ReadPolicyKeys(*t, "policy.", defaults);
        // Checked on its own too, so its problems show even when no selection
        // inherits the setting.
        Resolve(defaults, {LineOf(*t), "policy."});
      } else {
        Error(LineOf(*n), "policy", "expected a [policy] table, got " + TypeName(*n));
      }
    }

    const toml::node* n = root.get("selection");
    if (!n) {
      Error(0, "selection", "no [[selection]]: the file selects no user to rotate");
      return;
    }
    const toml::array* array = n->as_array();
    if (!array || !array->is_array_of_tables() || array->empty()) {
      Error(LineOf(*n), "selection", "expected [[selection]] tables, got " + TypeName(*n));
      return;
    }
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table& t = *array->get(i)->as_table();
      const std::string prefix = "selection[" + std::to_string(i) + "].";
      Selection sel;
      sel.index = i;
      sel.line = LineOf(t);
      CheckKeys(t, prefix, {&kCriteriaKeys, &kPolicyKeys});
      ParseCriteria(t, prefix, sel);
      PolicyLayer layer = defaults;
      ReadPolicyKeys(t, prefix, layer);
      if (std::optional<engine::EngineOptions> options = Resolve(layer, {sel.line, prefix})) {
        sel.options = std::move(*options);
      } else {
        // Still check the specs (CheckFleetConfig): every problem at once.
        sel.options.destinations = layer.settings.to;
        sel.options.notify = layer.settings.notify;
      }
      sel.to_origins = layer.to_origins;
      sel.notify_origins = layer.notify_origins;
      config_.selections.push_back(std::move(sel));
    }
  }

  std::optional<std::regex> ReadRegex(const toml::table& t, const std::string& key, const std::string& prefix,
                                      std::string* text) {
    const toml::node* v = t.get(key);
    if (!v || !ReadString(*v, prefix + key, text)) return std::nullopt;
    try {
      return std::regex(*text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      Error(LineOf(*v), prefix + key, "'" + *text + "' is not a valid regular expression: " + e.what());
      return std::nullopt;
    }
  }

  void ParseCriteria(const toml::table& t, const std::string& prefix, Selection& sel) {
    std::vector<int> lines;
    if (const toml::node* v = t.get("accounts"); v && ReadStringList(*v, prefix + "accounts", &sel.accounts, &lines)) {
      for (size_t j = 0; j < sel.accounts.size(); ++j) {
        bool discovered_id = config_.organization.enabled && std::regex_match(sel.accounts[j], kAccountIdPattern);
        if (!config_.FindAccount(sel.accounts[j]) && !discovered_id) {
          Error(lines[j], prefix + "accounts",
                "no account is named '" + sel.accounts[j] + "'" +
                    (config_.organization.enabled ? " (with [organization], an account id also names one)" : ""));
        }
      }
    }
    auto names = [&](std::string_view key, std::vector<std::string>* out) {
      const toml::node* v = t.get(key);
      if (!v || !ReadStringList(*v, prefix + std::string(key), out, &lines)) return;
      for (size_t j = 0; j < out->size(); ++j) {
        if (!aws::IsValidUserName((*out)[j])) {
          Error(lines[j], prefix + std::string(key),
                "'" + (*out)[j] + "' is not a valid IAM name (1-128 of letters, digits and +=,.@_-)");
        }
      }
    };
    names("users", &sel.users);
    names("groups", &sel.groups);
    names("exclude_users", &sel.exclude_users);
    sel.user_regex = ReadRegex(t, "user_regex", prefix, &sel.user_regex_text);
    sel.exclude_regex = ReadRegex(t, "exclude_regex", prefix, &sel.exclude_regex_text);
    if (const toml::node* v = t.get("path_prefix"); v && ReadString(*v, prefix + "path_prefix", &sel.path_prefix)) {
      // IAM paths start and end with a slash; ListUsers' PathPrefix is matched literally.
      if (sel.path_prefix.empty() || sel.path_prefix.front() != '/' || sel.path_prefix.back() != '/' ||
          sel.path_prefix.size() > 512) {
        Error(LineOf(*v), prefix + "path_prefix", "'" + sel.path_prefix + "': an IAM path starts and ends with /");
      }
    }
    std::vector<std::string> tags;
    if (const toml::node* v = t.get("tags"); v && ReadStringList(*v, prefix + "tags", &tags, &lines)) {
      for (size_t j = 0; j < tags.size(); ++j) {
        size_t eq = tags[j].find('=');
        if (eq == std::string::npos || eq == 0) {
          Error(lines[j], prefix + "tags", "expected KEY=VALUE, got '" + tags[j] + "'");
        } else {
          sel.tags.push_back({tags[j].substr(0, eq), tags[j].substr(eq + 1)});
        }
      }
    }
    const toml::node* all = t.get("all_users");
    if (all) ReadBool(*all, prefix + "all_users", &sel.all_users);
    const bool narrower =
        !sel.users.empty() || t.get("user_regex") || t.get("path_prefix") || !sel.groups.empty() || t.get("tags");
    if (sel.all_users && narrower) {
      // The criteria are a union: next to all_users they would change nothing,
      // which is surely not what the author meant.
      Error(LineOf(*all), prefix + "all_users",
            "true selects every user: users, user_regex, path_prefix, groups and tags would change nothing "
            "(to narrow it, drop all_users; to leave users out, use exclude_users or exclude_regex)");
    }
    if (!sel.all_users && !narrower) {
      Error(sel.line, prefix.substr(0, prefix.size() - 1),
            "selects no user: give users, user_regex, path_prefix, groups, tags or all_users = true");
    }
  }

  const EnvMap& env_;
  FleetConfig config_;
  std::string dir_;
  std::vector<std::string> errors_;
  std::set<std::string> seen_;
};

}  // namespace

ParsedConfig ParseConfigText(std::string_view text, const std::string& path, const EnvMap& env) {
  Parser parser(path, env);
  ParsedConfig parsed;
  parsed.config = parser.Parse(text);
  parsed.errors = parser.errors();
  return parsed;
}

}  // namespace keyrotor::fleet
