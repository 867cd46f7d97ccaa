// The credentials a request is signed with.
#pragma once

#include <optional>
#include <string>

#include "base/clock.h"
#include "base/secret.h"

namespace keyrotor::aws {

struct Credentials {
  std::string access_key_id;
  Secret secret_access_key;
  Secret session_token;                 // empty for long-term keys
  std::optional<TimePoint> expiration;  // absent = does not expire
  std::string provider;                 // where they came from, for messages ("environment", "profile dev")

  bool IsTemporary() const { return !session_token.empty(); }
  // A copy, made on purpose (Secret is move-only).
  Credentials Clone() const {
    return {access_key_id, secret_access_key.Clone(), session_token.Clone(), expiration, provider};
  }
};

}  // namespace keyrotor::aws
