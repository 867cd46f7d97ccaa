// Helpers the destinations share: JSON text for values that may be secret,
// snapshots as small JSON documents, and the directory a new file goes in.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

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

// A --to or --notify spec for one user: every "{user}" and "{account}"
// replaced. The one expansion of those placeholders.
//
// IAM accepts "." and ".." as user names ([\w+=,.@-]+), so in a spec that
// names a file or runs a program (credentials-file:PATH, vault:PATH, exec:
// and the record writer's words) a placeholder must not make a path
// component "." or "..", nor bring a '/' of its own: a user could otherwise
// move its file out of the directory the spec chose (credentials-file:
// /srv/keys/{user}/credentials#default with user "..").
// InvalidArgument naming the spec and the user when it would.
Result<std::string> ExpandSpec(std::string_view spec, std::string_view user, std::string_view account);
Result<std::vector<std::string>> ExpandSpecs(const std::vector<std::string>& specs, std::string_view user,
                                             std::string_view account);

}  // namespace keyrotor::destinations
