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

#include "destinations/destination.h"

namespace keyrotor::destinations {

std::unique_ptr<Destination> MakeExecDestination(std::string spec, std::vector<std::string> argv,
                                                 const DestinationOptions& options);

}  // namespace keyrotor::destinations
