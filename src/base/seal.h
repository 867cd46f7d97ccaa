// Authenticated encryption of small secrets at rest (libsodium's
// XChaCha20-Poly1305 AEAD, random 192-bit nonces), with the key in its own 0600
// file created on first use.
// The journal seals a new key's secret with it until every destination holds
// the key; the local vault seals its whole content with it.
#pragma once

#include <string>
#include <string_view>

#include "base/secret.h"
#include "base/status.h"

namespace keyrotor {

class SealingKey {
 public:
  // Reads the 32-byte key at `path`, or creates it (mode 0600, O_EXCL, fsync-ed)
  // when the file does not exist. A key file that is not exactly 32 bytes, or is
  // readable by group or others, is an error naming the path: a key others can
  // read protects nothing.
  static Result<SealingKey> LoadOrCreate(const std::string& path);
  // A key for tests.
  static SealingKey FromBytes(std::string_view key32);

  // nonce || ciphertext. `context` is bound to the box (it must match on Open):
  // a box sealed for one rotation cannot be passed off as another's.
  std::string Seal(std::string_view plaintext, std::string_view context = "") const;
  // ParseError when the box was tampered with, sealed with another key or for
  // another context.
  Result<Secret> Open(std::string_view box, std::string_view context = "") const;

 private:
  explicit SealingKey(Secret key) : key_(std::move(key)) {}
  Secret key_;
};

}  // namespace keyrotor
