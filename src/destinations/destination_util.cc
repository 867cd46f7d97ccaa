#include "destinations/destination_util.h"

#include <cstdio>
#include <filesystem>

#include "base/file_util.h"

#include "base/strings.h"

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

namespace {

constexpr std::string_view kPlaceholders[] = {"{user}", "{account}"};

// One pass, left to right: a value is never expanded again.
std::string Substitute(std::string_view text, std::string_view user, std::string_view account) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i).starts_with("{user}")) {
      out += user;
      i += 6;
    } else if (text.substr(i).starts_with("{account}")) {
      out += account;
      i += 9;
    } else {
      out += text[i++];
    }
  }
  return out;
}

bool HasPlaceholder(std::string_view text) {
  for (std::string_view name : kPlaceholders) {
    if (text.find(name) != std::string_view::npos) return true;
  }
  return false;
}

// Kinds whose target is a path, or words of a command line that may be
// paths: a placeholder there must stay inside its path component.
bool NamesAPath(std::string_view spec) {
  for (std::string_view kind : {"credentials-file:", "vault:", "exec:", "keeper-writer:"}) {
    if (StartsWith(spec, kind)) return true;
  }
  return false;
}

}  // namespace

Result<std::string> ExpandSpec(std::string_view spec, std::string_view user, std::string_view account) {
  if (NamesAPath(spec)) {
    for (std::string_view value : {user, account}) {
      if (value.find('/') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
        return Status::InvalidArgument("'" + std::string(spec) + "' for user " + std::string(user) +
                                       ": a '/' in the name would leave the spec's directory");
      }
    }
    // The components the placeholders are in: split at '/', blanks and
    // quotes (exec: words), each checked once expanded. A fragment
    // (#PROFILE, #ENTRY) is a name inside the file, not a path: any value goes.
    std::string_view path = spec.substr(spec.find(':') + 1);  // after KIND:
    if (!StartsWith(spec, "exec:") && !StartsWith(spec, "keeper-writer:")) path = path.substr(0, path.rfind('#'));
    size_t begin = 0;
    for (size_t i = 0; i <= path.size(); ++i) {
      if (i < path.size() && std::string_view("/ \t\n'\"").find(path[i]) == std::string_view::npos) continue;
      std::string_view component = path.substr(begin, i - begin);
      begin = i + 1;
      if (!HasPlaceholder(component)) continue;
      std::string expanded = Substitute(component, user, account);
      if (expanded == "." || expanded == "..") {
        return Status::InvalidArgument("'" + std::string(spec) + "' for user \"" + std::string(user) +
                                       "\": the name would make the path component '" + expanded +
                                       "' and leave the spec's directory; not rotating this user with it");
      }
    }
  }
  return Substitute(spec, user, account);
}

Result<std::vector<std::string>> ExpandSpecs(const std::vector<std::string>& specs, std::string_view user,
                                             std::string_view account) {
  std::vector<std::string> out;
  out.reserve(specs.size());
  for (const std::string& spec : specs) {
    KR_ASSIGN_OR_RETURN(std::string expanded, ExpandSpec(spec, user, account));
    out.push_back(std::move(expanded));
  }
  return out;
}

}  // namespace keyrotor::destinations
