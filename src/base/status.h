// One error type for every layer (leveldb's Status in spirit): cheap on
// success, a message for people, predicates for code. AWS errors carry the
// service's code, message, request id and HTTP status so a caller can branch
// on "LimitExceeded" and a person can quote the request id to AWS support.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace keyrotor {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input from a user: flags, files, names
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kPermissionDenied,
  kIoError,           // local files
  kParseError,        // malformed file or unexpected response shape
  kNetworkError,      // the request certainly did not reach the server
  kUnknownOutcome,    // sent, but no answer (timeout, reset): it may have happened
  kAwsError,          // the service answered with an error document
  kInternal,
};

struct AwsErrorDetail {
  std::string code;        // e.g. "LimitExceeded", "ResourceNotFoundException"
  std::string message;
  std::string request_id;
  int http_status = 0;
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Status(StatusCode::kAlreadyExists, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) { return Status(StatusCode::kFailedPrecondition, std::move(msg)); }
  static Status PermissionDenied(std::string msg) { return Status(StatusCode::kPermissionDenied, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }
  static Status ParseError(std::string msg) { return Status(StatusCode::kParseError, std::move(msg)); }
  static Status NetworkError(std::string msg) { return Status(StatusCode::kNetworkError, std::move(msg)); }
  static Status UnknownOutcome(std::string msg) { return Status(StatusCode::kUnknownOutcome, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  static Status Aws(AwsErrorDetail detail, std::string operation);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;
  // The AWS error, or nullptr when this is not an AWS error.
  const AwsErrorDetail* aws() const { return rep_ && rep_->aws ? &*rep_->aws : nullptr; }
  // True when this is an AWS error with exactly this code.
  bool IsAws(std::string_view aws_code) const { return aws() && aws()->code == aws_code; }
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsUnknownOutcome() const { return code() == StatusCode::kUnknownOutcome; }

  // Adds context in front of the message: "profile dev: <message>".
  Status WithContext(std::string_view context) const;

  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::optional<AwsErrorDetail> aws;
  };
  Status(StatusCode code, std::string msg) : rep_(std::make_unique<Rep>(Rep{code, std::move(msg), std::nullopt})) {}

  std::unique_ptr<Rep> rep_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}     // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace keyrotor

// Early return of a failed Status or Result.
#define KR_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::keyrotor::Status kr_status_ = (expr);      \
    if (!kr_status_.ok()) return kr_status_;     \
  } while (0)

#define KR_CONCAT_INNER(a, b) a##b
#define KR_CONCAT(a, b) KR_CONCAT_INNER(a, b)
#define KR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// KR_ASSIGN_OR_RETURN(auto x, Foo()); declares x from a Result or returns its Status.
#define KR_ASSIGN_OR_RETURN(lhs, expr) KR_ASSIGN_OR_RETURN_IMPL(KR_CONCAT(kr_result_, __LINE__), lhs, expr)
