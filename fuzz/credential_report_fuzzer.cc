// The IAM credential report's CSV (fleet/bulk.h: ParseCredentialReport):
// AWS's text, but a pass must survive whatever GetCredentialReport returns.
//
// Properties:
//  - no exception escapes; a refused report is InvalidArgument naming the
//    report ("credential report...");
//  - an accepted report has at most one entry per data line, never the root
//    row, and at most two keys per user.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fleet/bulk.h"
#include "fuzz_check.h"

namespace {

void Run(std::string_view csv) {
  keyrotor::Result<keyrotor::fleet::ReportedKeys> keys = keyrotor::fleet::ParseCredentialReport(csv);
  if (!keys.ok()) {
    FUZZ_CHECK(keys.status().code() == keyrotor::StatusCode::kInvalidArgument);
    FUZZ_CHECK(keys.status().message().rfind("credential report", 0) == 0);
    return;
  }
  size_t lines = 0;
  for (char c : csv) lines += c == '\n';
  FUZZ_CHECK(keys->size() <= lines);
  FUZZ_CHECK(keys->count("<root_account>") == 0);
  for (const auto& [user, reported] : *keys) FUZZ_CHECK(reported.size() <= 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
