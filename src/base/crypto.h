// Hashing, HMAC, hex and randomness on top of OpenSSL. The one place that
// includes OpenSSL headers for these primitives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyrotor {

std::string Sha256(std::string_view data);                          // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::string HexEncode(std::string_view bytes);                        // lower case
std::string HexSha256(std::string_view data);
std::string Base64Encode(std::string_view bytes);
// Standard or URL-safe alphabet, padding optional; nullopt on a bad character.
std::optional<std::string> Base64Decode(std::string_view text);
// Cryptographically strong random bytes (OpenSSL's DRBG).
std::string RandomBytes(size_t n);
// A random RFC 4122 version-4 UUID, e.g. for Secrets Manager ClientRequestToken.
std::string RandomUuid();

// The versions of the libraries this build runs with, for `keyrotor version`.
std::string OpenSslVersion();  // e.g. "OpenSSL 3.0.17 1 Jul 2025"
std::string SodiumVersion();   // e.g. "1.0.18"

}  // namespace keyrotor
