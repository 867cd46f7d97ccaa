// What every fuzz target shares: a property check that stops the run with a
// message (libFuzzer saves the input as crash-<sha1>), and a guard that turns
// an escaping exception into a crash too. Fuzzers check properties where they
// are cheap; "did not crash" alone finds only memory errors.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace keyrotor::fuzz {

// Runs `body`; no exception may leave a parser (the code base has none
// crossing module boundaries), so one that does is reported as a crash.
template <typename F>
int Guarded(F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "non-standard exception escaped\n");
    std::abort();
  }
  return 0;
}

// "PATH:LINE: ..." with LINE a positive number.
inline bool NamesALine(std::string_view message, std::string_view path) {
  if (message.substr(0, path.size()) != path || message.size() <= path.size() || message[path.size()] != ':') {
    return false;
  }
  size_t i = path.size() + 1, digits = 0;
  while (i < message.size() && message[i] >= '0' && message[i] <= '9') ++i, ++digits;
  return digits > 0 && message[path.size() + 1] != '0' && i < message.size() && message[i] == ':';
}

}  // namespace keyrotor::fuzz
