// A Secret holds bytes that must never reach a log, an error message or an
// audit record: it has no operator<<, formats as "****", and wipes its memory
// when destroyed. The bytes come out only through reveal(), which marks the few
// places (signing, the wire, a destination) where they must.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <string_view>

namespace keyrotor {

// Overwrites a plain string that held secret bytes (response bodies, buffers).
void WipeString(std::string& s);

class Secret {
 public:
  Secret() = default;
  // The parameter is wiped too: a short string's bytes stay in its inline
  // buffer after the move.
  explicit Secret(std::string value) : value_(std::move(value)) { WipeString(value); }
  // Move-only: every copy of a secret is one more place it must be wiped
  // from, so a copy is made on purpose, with Clone(), never by accident.
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  Secret Clone() const { return Secret(value_); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      Wipe();
      value_ = std::move(other.value_);
      other.Wipe();
    }
    return *this;
  }
  ~Secret() { Wipe(); }

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  size_t size() const { return value_.size(); }
  bool operator==(const Secret& other) const;
  bool operator!=(const Secret& other) const { return !(*this == other); }

  void Wipe();

 private:
  std::string value_;
};

// One secret that the copies of a configuration share read-only (a webhook
// signing key in options that are copied per run): a copy shares the bytes,
// it never duplicates them, and they are wiped when the last holder goes.
class SharedSecret {
 public:
  SharedSecret() = default;
  SharedSecret(Secret secret)  // NOLINT(google-explicit-constructor): options.key = Secret(...)
      : p_(std::make_shared<const Secret>(std::move(secret))) {}
  bool empty() const { return !p_ || p_->empty(); }
  const Secret& get() const;

 private:
  std::shared_ptr<const Secret> p_;
};

// A Secret made from `s`, which is then wiped: moving a std::string leaves a
// short one's bytes behind in its inline buffer.
Secret TakeSecret(std::string& s);

}  // namespace keyrotor

template <>
struct fmt::formatter<keyrotor::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const keyrotor::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format("****", ctx);
  }
};
