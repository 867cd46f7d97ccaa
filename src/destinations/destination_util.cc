#include "destinations/destination_util.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

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
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return Status::Ok();
  std::error_code ec;
  if (std::filesystem::is_directory(parent, ec)) return Status::Ok();
  std::filesystem::create_directories(parent, ec);
  if (ec) return Status::IoError(parent.string() + ": cannot create directory: " + ec.message());
  std::filesystem::permissions(parent, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  return Status::Ok();
}

}  // namespace keyrotor::destinations
