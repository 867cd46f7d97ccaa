// exec:PROGRAM [ARGS...] as a destination: the program reads one JSON
// document on stdin ({"event": "rotate" | "rollback", "rotation_id", "account",
// "user", "access_key_id", "secret_access_key", "created",
// "previous_access_key_id"}); exit 0 = it holds the key. A rollback document
// names the abandoned key and carries no secret: the program reverts to what
// it held before.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/subprocess.h"
#include "destinations/destination.h"

namespace keyrotor::destinations {

// Runs `argv` with `input` (a document holding a secret) on its stdin, as
// every program-backed destination does: nothing in argv or the environment;
// what it prints on stdout is discarded unread (it may echo the document);
// a failure names `what` and quotes its stderr with `secrets` redacted.
Status SendToProgram(std::string_view what, const std::vector<std::string>& argv, const Secret& input,
                     const EnvMap& env, Duration timeout, const std::vector<const Secret*>& secrets,
                     Spawner* spawner = nullptr);

std::unique_ptr<Destination> MakeExecDestination(std::string spec, std::vector<std::string> argv,
                                                 const DestinationOptions& options);

}  // namespace keyrotor::destinations
