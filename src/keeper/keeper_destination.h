// Where keyrotor keeper hands the new key: the record writer, a program that
// gets Keeper's field document on stdin and stores it in the Keeper record
// (kind "keeper-writer:PROGRAM [ARGS...]"), or, with --print-fields, keyrotor's
// own stdout for Keeper setups that read the script's output
// (kind "keeper-stdout:").
//
// The document, one JSON line:
//   {"aws_access_key_id": ..., "aws_secret_access_key": ..., "CreateDate": ISO 8601,
//    "Access_Key_ID_Removed_during_previous_rotation": the key being replaced, or ""}
// It differs from the generic exec destination's on purpose: these are the
// field labels Keeper's AWS access key records use.
//
// The engine hands the key over after verifying it and before deleting the
// old one; a writer that exits non-zero abandons the rotation (the new key is
// deleted, the old one kept). There is nothing to restore: a writer that
// failed did not write, so Restore does nothing.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "destinations/destination.h"

namespace keyrotor::keeper {

inline constexpr char kWriterKind[] = "keeper-writer";
inline constexpr char kStdoutKind[] = "keeper-stdout";

// The field document for `key`, newline-terminated; the only copy is the Secret.
Secret KeeperFieldsDocument(const destinations::KeyHandoff& key);

// Adds both kinds to `options.extra_kinds`; keeper-stdout writes to `out`.
void RegisterKeeperDestinations(destinations::DestinationOptions& options, std::FILE* out = stdout);

}  // namespace keyrotor::keeper
