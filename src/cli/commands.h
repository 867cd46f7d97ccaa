#pragma once

namespace keyrotor::cli {

// Parses argv and runs the chosen command; returns the process exit status.
int Main(int argc, char** argv);

}  // namespace keyrotor::cli
