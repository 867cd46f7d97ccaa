// Small string helpers shared by the parsers and protocol codecs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keyrotor {

std::string_view Trim(std::string_view s);
std::string ToLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWith(std::string_view s, std::string_view prefix);
std::vector<std::string> Split(std::string_view s, char sep);
// RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~ is encoded
// (upper-case hex). With keep_slash, '/' stays literal (paths).
std::string UriEncode(std::string_view s, bool keep_slash = false);
// Decodes %XX; '+' stays '+' unless plus_as_space (form bodies).
std::string UriDecode(std::string_view s, bool plus_as_space = false);

// strerror(err) as a string.
std::string ErrnoText(int err);

// The items with `sep` between them.
std::string Join(const std::vector<std::string>& items, std::string_view sep = ", ");

}  // namespace keyrotor
