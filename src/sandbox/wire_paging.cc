// Marker/MaxItems pagination of the sandbox's List* operations.
#include <charconv>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/wire.h"

namespace keyrotor::sandbox {
namespace {

constexpr std::string_view kMarkerPrefix = "keyrotor-sandbox:";

}  // namespace

Result<PageRequest> ParsePageRequest(const Params& params) {
  PageRequest out;
  if (const std::string* max = FindParam(params, "MaxItems")) {
    long long n = 0;
    auto [ptr, ec] = std::from_chars(max->data(), max->data() + max->size(), n);
    if (ec != std::errc() || ptr != max->data() + max->size()) {
      return ApiError(400, "ValidationError", "Invalid value for parameter MaxItems: " + *max);
    }
    if (n < 1) {
      return ApiError(400, "ValidationError",
                      ValidationMessage(*max, "maxItems", "Member must have value greater than or equal to 1"));
    }
    if (n > 1000) {
      return ApiError(400, "ValidationError",
                      ValidationMessage(*max, "maxItems", "Member must have value less than or equal to 1000"));
    }
    out.max_items = static_cast<size_t>(n);
  }
  if (const std::string* marker = FindParam(params, "Marker")) {
    std::optional<std::string> decoded = Base64Decode(*marker);
    if (!decoded || !StartsWith(*decoded, kMarkerPrefix)) {
      return ApiError(400, "ValidationError", "Invalid Marker: " + *marker);
    }
    out.after = decoded->substr(kMarkerPrefix.size());
  }
  return out;
}

Page Paginate(const std::vector<std::string>& sorted_keys, const PageRequest& request) {
  Page page;
  if (request.after) {
    page.begin = static_cast<size_t>(std::upper_bound(sorted_keys.begin(), sorted_keys.end(), *request.after) -
                                     sorted_keys.begin());
  }
  page.end = std::min(sorted_keys.size(), page.begin + request.max_items);
  page.truncated = page.end < sorted_keys.size();
  if (page.truncated) page.marker = Base64Encode(std::string(kMarkerPrefix) + sorted_keys[page.end - 1]);
  return page;
}

std::string PositionKey(size_t i) {
  std::string digits = std::to_string(i);
  return std::string(digits.size() < 10 ? 10 - digits.size() : 0, '0') + digits;
}

Page PaginatePositions(size_t count, const PageRequest& request) {
  std::vector<std::string> positions;
  positions.reserve(count);
  for (size_t i = 0; i < count; ++i) positions.push_back(PositionKey(i));
  return Paginate(positions, request);
}

void WritePageTail(XmlWriter& xml, const Page& page) {
  xml.Leaf("IsTruncated", page.truncated ? "true" : "false");
  if (page.truncated) xml.Leaf("Marker", page.marker);
}

}  // namespace keyrotor::sandbox
