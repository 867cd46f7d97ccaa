// Helpers the destinations share: JSON text for values that may be secret,
// snapshots as small JSON documents, and the directory a new file goes in.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::destinations {

// The JSON string escape of `s` without the surrounding quotes, so a template
// can put it between quotes of its own. UTF-8 passes through unchanged.
std::string JsonEscape(std::string_view s);

// Parses a snapshot this library wrote (a JSON object). The message names
// `what` only, never the content: a snapshot may hold a secret.
Result<nlohmann::json> ParseSnapshot(const Secret& snapshot, std::string_view what);

// A snapshot document as a Secret; the serialized copy is wiped.
Secret SnapshotOf(const nlohmann::json& document);

// Creates the directory `path` goes in when missing: it and every directory
// created above it 0700, like ~/.aws (CreatePrivateDirectories).
Status EnsureParentDirectory(const std::string& path);

}  // namespace keyrotor::destinations
