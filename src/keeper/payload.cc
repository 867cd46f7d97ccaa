#include "keeper/payload.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace keyrotor::keeper {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Parses JSON without exceptions: a parse error's text quotes what it read,
// and that may be a password.
Result<nlohmann::json> ParseJson(const std::string& text, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(std::string(what) + " is not valid JSON");
  return j;
}

// A top-level string field: absent or null is "", any other type an error.
Status StringField(const nlohmann::json& obj, const char* name, std::string* out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Status::InvalidArgument(std::string("Keeper payload: '") + name + "' is not a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status SecretField(nlohmann::json& obj, const char* name, Secret* out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Status::InvalidArgument(std::string("Keeper payload: '") + name + "' is not a string");
  std::string& value = it->get_ref<std::string&>();
  *out = Secret(value);
  WipeString(value);
  return Status::Ok();
}

// A field value as Keeper exports it: "v", ["v"], [] (empty) or a boolean.
// False when it has another shape.
bool FieldValue(nlohmann::json& value, Secret* out) {
  if (value.is_array()) {
    if (value.empty()) return true;
    if (value.size() != 1) return false;
    return FieldValue(value[0], out);
  }
  if (value.is_string()) {
    std::string& s = value.get_ref<std::string&>();
    *out = Secret(s);
    WipeString(s);
    return true;
  }
  if (value.is_boolean()) {
    *out = Secret(value.get<bool>() ? "true" : "false");
    return true;
  }
  return value.is_null();
}

Result<KeeperRecord> ParseRecord(nlohmann::json& j, size_t index) {
  std::string where = "Keeper payload: record #" + std::to_string(index + 1);
  if (!j.is_object()) return Status::InvalidArgument(where + " is not a JSON object");
  KeeperRecord record;
  if (Status s = StringField(j, "uid", &record.uid); !s.ok())
    return Status::InvalidArgument(where + ": 'uid' is not a string");
  if (!record.uid.empty()) where += " (uid " + record.uid + ")";
  if (Status s = StringField(j, "title", &record.title); !s.ok()) {
    return Status::InvalidArgument(where + ": 'title' is not a string");
  }
  for (auto& [label, value] : j.items()) {
    if (label == "uid" || label == "title") continue;
    Secret v;
    if (FieldValue(value, &v)) {
      record.fields[label] = std::move(v);
    } else {
      record.unusable_fields.push_back(label);
    }
  }
  return record;
}

}  // namespace

const Secret* KeeperRecord::Field(std::string_view label) const {
  for (const auto& [name, value] : fields) {
    if (EqualsIgnoreCase(name, label)) return value.empty() ? nullptr : &value;
  }
  return nullptr;
}

bool KeeperRecord::HasUnusableField(std::string_view label) const {
  return std::any_of(unusable_fields.begin(), unusable_fields.end(),
                     [&](const std::string& name) { return EqualsIgnoreCase(name, label); });
}

bool IsTruthy(std::string_view value) {
  std::string v = ToLower(Trim(value));
  return v == "true" || v == "yes" || v == "1" || v == "on";
}

Result<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t buffer = 0;
  int bits = 0;
  size_t padding = 0;
  size_t symbols = 0;
  for (char c : text) {
    if (IsSpace(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    int v = Base64Value(c);
    if (v < 0 || padding > 0) {
      WipeString(out);
      return Status::InvalidArgument(v < 0 ? "a character outside the standard base64 alphabet"
                                           : "data after base64 '=' padding");
    }
    ++symbols;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  buffer = 0;
  // 4n symbols, or 4n+2 / 4n+3 with (or without) the padding that completes them.
  if (symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) {
    WipeString(out);
    return Status::InvalidArgument("truncated base64");
  }
  return out;
}

Result<KeeperPayload> ParseKeeperPayload(std::string_view base64_line) {
  if (Trim(base64_line).empty())
    return Status::InvalidArgument("Keeper payload: stdin is empty (expected one base64 line)");
  Result<std::string> decoded = DecodeBase64(base64_line);
  if (!decoded.ok())
    return Status::InvalidArgument("Keeper payload: stdin is not base64: " + decoded.status().message());
  Result<nlohmann::json> parsed = ParseJson(*decoded, "Keeper payload: the decoded stdin");
  WipeString(*decoded);
  if (!parsed.ok()) return parsed.status();
  nlohmann::json& j = *parsed;
  if (!j.is_object()) return Status::InvalidArgument("Keeper payload: the decoded stdin is not a JSON object");

  KeeperPayload p;
  KR_RETURN_IF_ERROR(StringField(j, "providerRecordUid", &p.provider_record_uid));
  KR_RETURN_IF_ERROR(StringField(j, "resourceRecordUid", &p.resource_record_uid));
  KR_RETURN_IF_ERROR(StringField(j, "userRecordUid", &p.user_record_uid));
  KR_RETURN_IF_ERROR(StringField(j, "user", &p.user));
  KR_RETURN_IF_ERROR(SecretField(j, "newPassword", &p.new_password));
  KR_RETURN_IF_ERROR(SecretField(j, "oldPassword", &p.old_password));
  if (p.user.empty())
    return Status::InvalidArgument("Keeper payload: 'user' (the IAM user to rotate) is missing or empty");

  auto records = j.find("records");
  if (records == j.end() || records->is_null()) return p;
  if (!records->is_string()) return Status::InvalidArgument("Keeper payload: 'records' is not a base64 string");
  std::string& encoded = records->get_ref<std::string&>();
  Result<std::string> list_text = DecodeBase64(encoded);
  WipeString(encoded);
  if (!list_text.ok())
    return Status::InvalidArgument("Keeper payload: 'records' is not base64: " + list_text.status().message());
  Result<nlohmann::json> list = ParseJson(*list_text, "Keeper payload: the decoded 'records'");
  WipeString(*list_text);
  if (!list.ok()) return list.status();
  if (!list->is_array()) return Status::InvalidArgument("Keeper payload: the decoded 'records' is not a JSON list");
  for (size_t i = 0; i < list->size(); ++i) {
    KR_ASSIGN_OR_RETURN(KeeperRecord record, ParseRecord((*list)[i], i));
    p.records.push_back(std::move(record));
  }
  return p;
}

}  // namespace keyrotor::keeper
