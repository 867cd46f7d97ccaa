#include "destinations/destination_util.h"

#include <cstdio>
#include <filesystem>

#include "base/file_util.h"

namespace keyrotor::destinations {

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

Result<nlohmann::json> ParseSnapshot(const Secret& snapshot, std::string_view what) {
  nlohmann::json doc = nlohmann::json::parse(snapshot.reveal(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Status::ParseError(std::string(what) + ": snapshot is not one keyrotor wrote");
  return doc;
}

Secret SnapshotOf(const nlohmann::json& document) {
  std::string text = document.dump();
  Secret out(text);
  WipeString(text);
  return out;
}

Status EnsureParentDirectory(const std::string& path) {
  return CreatePrivateDirectories(std::filesystem::path(path).parent_path().string());
}

}  // namespace keyrotor::destinations
