#include "base/secret.h"

#include <openssl/crypto.h>

namespace keyrotor {

void WipeString(std::string& s) {
  // Cleanse the whole capacity: a shrink leaves old bytes past size().
  if (s.capacity() > 0) OPENSSL_cleanse(s.data(), s.capacity());
  s.clear();
}

Secret TakeSecret(std::string& s) {
  Secret out(std::move(s));
  WipeString(s);
  return out;
}

void Secret::Wipe() { WipeString(value_); }

bool Secret::operator==(const Secret& other) const {
  return value_.size() == other.value_.size() &&
         CRYPTO_memcmp(value_.data(), other.value_.data(), value_.size()) == 0;
}

const Secret& SharedSecret::get() const {
  static const Secret kEmpty;
  return p_ ? *p_ : kEmpty;
}

}  // namespace keyrotor
