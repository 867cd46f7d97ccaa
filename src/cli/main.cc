// keyrotor's entry point: parse flags and dispatch to one command file.
#include "cli/commands.h"

int main(int argc, char** argv) { return keyrotor::cli::Main(argc, argv); }
