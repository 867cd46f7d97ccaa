// What Keeper's gateway hands a post-rotation script: one line of base64 on
// stdin, a JSON object with the rotated record's uids, the user, the old and
// new passwords, and `records` (base64 of a JSON list of the records attached
// to the script). Every value that may be secret is held as a Secret, and no
// error message ever quotes the input: a payload is full of passwords.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::keeper {

// One attached record: its uid, title, and fields by label. A Keeper export
// writes a field's value as a string or a one-element list of strings; both are
// accepted (booleans too, as "true"/"false"). Fields of other shapes (host
// objects, multi-value lists) are kept out of `fields` and their labels listed
// in `unusable_fields`, so asking for one says why rather than "missing".
struct KeeperRecord {
  std::string uid;
  std::string title;
  std::map<std::string, Secret> fields;  // by label, as written; see Field() for lookup
  std::vector<std::string> unusable_fields;

  // The field with this label (ASCII case-insensitive), or nullptr when the
  // record has none or its value is empty.
  const Secret* Field(std::string_view label) const;
  bool HasUnusableField(std::string_view label) const;
};

struct KeeperPayload {
  std::string provider_record_uid;
  std::string resource_record_uid;
  std::string user_record_uid;
  std::string user;  // the IAM user whose key is rotated
  Secret new_password;
  Secret old_password;
  std::vector<KeeperRecord> records;  // in the order Keeper listed them
};

// Decodes the stdin line (standard base64, surrounding whitespace and line
// breaks ignored) and its JSON. InvalidArgument naming what is wrong (a field,
// a record's position and uid) and never any value.
Result<KeeperPayload> ParseKeeperPayload(std::string_view base64_line);

// Standard-alphabet base64 with optional '=' padding; ASCII whitespace anywhere
// is skipped. Nullopt-like failure as InvalidArgument (quoting nothing).
Result<std::string> DecodeBase64(std::string_view text);

// "true", "yes", "1", "on" in any case (surrounding blanks ignored).
bool IsTruthy(std::string_view value);

}  // namespace keyrotor::keeper
