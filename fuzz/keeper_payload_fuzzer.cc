// Keeper's post-rotation payload (keeper/payload.h): one base64 line holding
// JSON whose `records` member is base64 of a JSON list.
//
// Byte 0 picks the mode; base64 hides structure from the fuzzer, so two modes
// build the base64 layers themselves from fuzzed JSON. Properties:
//  - DecodeBase64(Base64Encode(x)) == x, with line breaks anywhere ignored;
//  - an error is InvalidArgument and never quotes a password: neither
//    newPassword nor oldPassword appears in its message;
//  - an accepted payload has its user, both passwords as sent, one record per
//    list element, and Field() finds every non-empty field by its label in
//    any ASCII case.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/crypto.h"
#include "base/strings.h"
#include "fuzz_check.h"
#include "keeper/payload.h"

namespace {

using keyrotor::keeper::KeeperPayload;
using keyrotor::keeper::ParseKeeperPayload;

std::string Wrapped(const std::string& b64, size_t width) {
  if (width == 0) return b64;
  std::string out;
  for (size_t i = 0; i < b64.size(); i += width) out += b64.substr(i, width) + "\r\n";
  return out;
}

std::string Flipped(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
    else if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string StringOr(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The stdin line for `sent`: base64 of its JSON text, unwrapped (mode 2) or
// in 64-column lines.
std::string Line(const nlohmann::json& sent, unsigned mode) {
  std::string b64 = keyrotor::Base64Encode(sent.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return mode == 2 ? b64 : Wrapped(b64, 64) + "\n";
}

void Check(const nlohmann::json& sent, unsigned mode) {
  keyrotor::Result<KeeperPayload> parsed = ParseKeeperPayload(Line(sent, mode));
  std::string new_password = StringOr(sent, "newPassword");
  std::string old_password = StringOr(sent, "oldPassword");
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == keyrotor::StatusCode::kInvalidArgument);
    const std::string& message = parsed.status().message();
    if (message.find(new_password) == std::string::npos && message.find(old_password) == std::string::npos) return;
    // The message holds a password's text. It is a leak only if the text came
    // from the password: the same payload with both passwords masked (same
    // length, so the parse takes the same path) must still give a message
    // holding it, because it came from a quoted uid or the fixed wording.
    nlohmann::json masked = sent;
    for (const char* key : {"newPassword", "oldPassword"}) {
      auto it = masked.find(key);
      if (it != masked.end() && it->is_string()) *it = std::string(it->get_ref<const std::string&>().size(), '\x7f');
    }
    keyrotor::Result<KeeperPayload> reparsed = ParseKeeperPayload(Line(masked, mode));
    FUZZ_CHECK(!reparsed.ok());
    for (const std::string& pw : {new_password, old_password}) {
      if (pw.size() < 6 || message.find(pw) == std::string::npos) continue;
      FUZZ_CHECK(reparsed.status().message().find(pw) != std::string::npos);
    }
    return;
  }
  FUZZ_CHECK(!parsed->user.empty());
  FUZZ_CHECK(parsed->user == StringOr(sent, "user"));
  FUZZ_CHECK(parsed->new_password.reveal() == new_password);
  FUZZ_CHECK(parsed->old_password.reveal() == old_password);
  for (const auto& record : parsed->records) {
    for (const auto& [label, value] : record.fields) {
      const keyrotor::Secret* found = record.Field(Flipped(label));
      // Labels that differ only in case are ambiguous: Field() takes the first.
      size_t same = 0;
      for (const auto& other : record.fields) same += keyrotor::ToLower(other.first) == keyrotor::ToLower(label);
      if (value.empty() || same > 1) continue;
      FUZZ_CHECK(found != nullptr && !found->empty());
    }
    for (const std::string& label : record.unusable_fields) FUZZ_CHECK(record.HasUnusableField(Flipped(label)));
  }
}

void Run(std::string_view data) {
  if (data.empty()) return;
  const auto mode = static_cast<unsigned char>(data[0]) % 4;
  std::string rest(data.substr(1));
  switch (mode) {
    case 0: {  // the stdin line as sent
      keyrotor::Result<KeeperPayload> parsed = ParseKeeperPayload(rest);
      if (!parsed.ok()) FUZZ_CHECK(parsed.status().code() == keyrotor::StatusCode::kInvalidArgument);
      return;
    }
    case 1: {  // base64 round trip
      std::string b64 = keyrotor::Base64Encode(rest);
      keyrotor::Result<std::string> back = keyrotor::keeper::DecodeBase64(Wrapped(b64, 1 + rest.size() % 77));
      FUZZ_CHECK(back.ok());
      FUZZ_CHECK(*back == rest);
      return;
    }
    default: {  // JSON, with `records` as a list to be encoded
      nlohmann::json j = nlohmann::json::parse(rest, nullptr, false);
      if (j.is_discarded()) return;
      if (j.is_object() && j.contains("records") && j["records"].is_array()) {
        j["records"] =
            keyrotor::Base64Encode(j["records"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
      if (!j.is_object()) return;  // mode 0 covers stdin that is not an object
      Check(j, mode);
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
