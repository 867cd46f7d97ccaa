// exec:PROGRAM [ARGS...]: runs a program per event with the event's JSON on
// stdin (and a newline after it), in an environment stripped of credentials.
#pragma once

#include <memory>
#include <string_view>

#include "notify/notifier.h"

namespace keyrotor::notify {

// `command` is split as base/subprocess.h's SplitCommandLine does (no shell).
Result<std::unique_ptr<Notifier>> MakeExecNotifier(std::string_view command, const NotifierOptions& options);

}  // namespace keyrotor::notify
