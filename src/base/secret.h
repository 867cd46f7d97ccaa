// A Secret holds bytes that must never reach a log, an error message or an
// audit record: it has no operator<<, formats as "****", and wipes its memory
// when destroyed. The bytes come out only through reveal(), which marks the few
// places (signing, the wire, a destination) where they must.
#pragma once

#include <fmt/format.h>

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
  Secret(const Secret& other) : value_(other.value_) {}
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      Wipe();
      value_ = other.value_;
    }
    return *this;
  }
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
