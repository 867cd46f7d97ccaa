#include "base/status.h"

namespace keyrotor {

Status Status::Aws(AwsErrorDetail detail, std::string operation) {
  std::string msg = operation.empty() ? "" : operation + ": ";
  msg += detail.code.empty() ? "HTTP " + std::to_string(detail.http_status) : detail.code;
  if (!detail.message.empty()) msg += ": " + detail.message;
  if (!detail.request_id.empty()) msg += " (request id " + detail.request_id + ")";
  Status s(StatusCode::kAwsError, std::move(msg));
  s.rep_->aws = std::move(detail);
  return s;
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(*this);
  s.rep_->message = std::string(context) + ": " + s.rep_->message;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return rep_->message;
}

}  // namespace keyrotor
