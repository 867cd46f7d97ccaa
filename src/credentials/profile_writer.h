// Writes one profile's static key into a shared credentials file: how
// `keyrotor sandbox --write-credentials`, the demo, the tests and the
// benchmarks hand a key to the AWS clients they drive.
#pragma once

#include <string>

#include "base/secret.h"
#include "base/status.h"

namespace keyrotor::credentials {

// Writes (or updates, preserving the rest of the file) a profile holding the
// given key into a shared credentials file, atomically and with mode 0600.
Status WriteProfile(const std::string& path, const std::string& profile, const std::string& access_key_id,
                    const Secret& secret);

}  // namespace keyrotor::credentials
