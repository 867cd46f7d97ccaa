#include "engine/crash_points.h"

#include <csignal>

#include <atomic>
#include <charconv>

namespace keyrotor::engine {
namespace {

class CrashingJournal : public Journal {
 public:
  CrashingJournal(std::unique_ptr<Journal> inner, CrashPoint point) : inner_(std::move(inner)), point_(point) {}

  Result<std::unique_ptr<UserLock>> TryLockUser(const std::string& account, const std::string& user) override {
    return inner_->TryLockUser(account, user);
  }
  Status Save(const RotationRecord& record, const SealedChanges& sealed) override {
    int n = ++saves_;
    if (n == point_.save_number && !point_.after) std::raise(SIGKILL);
    Status s = inner_->Save(record, sealed);
    if (n == point_.save_number && point_.after) std::raise(SIGKILL);
    return s;
  }
  Result<std::optional<RotationRecord>> OpenRotation(const std::string& account, const std::string& user) override {
    return inner_->OpenRotation(account, user);
  }
  Result<std::vector<RotationRecord>> Rotations(const std::string& account, const std::string& user) override {
    return inner_->Rotations(account, user);
  }
  Result<std::vector<RotationRecord>> OpenRotations() override { return inner_->OpenRotations(); }
  Result<std::optional<Secret>> GetSealed(const std::string& rotation_id, const std::string& slot) override {
    return inner_->GetSealed(rotation_id, slot);
  }
  Status AppendAudit(const AuditRecord& record) override { return inner_->AppendAudit(record); }
  Result<std::vector<AuditRecord>> ReadAudit(const AuditFilter& filter) override { return inner_->ReadAudit(filter); }

 private:
  std::unique_ptr<Journal> inner_;
  CrashPoint point_;
  std::atomic<int> saves_{0};
};

}  // namespace

Result<CrashPoint> ParseCrashPoint(std::string_view text) {
  CrashPoint p;
  std::string_view rest;
  if (text.substr(0, 12) == "before-save:") {
    rest = text.substr(12);
  } else if (text.substr(0, 11) == "after-save:") {
    p.after = true;
    rest = text.substr(11);
  } else {
    return Status::InvalidArgument("KEYROTOR_CRASH_POINT: expected before-save:N or after-save:N");
  }
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), p.save_number);
  if (ec != std::errc() || end != rest.data() + rest.size() || p.save_number < 1) {
    return Status::InvalidArgument("KEYROTOR_CRASH_POINT: N must be a positive integer");
  }
  return p;
}

std::unique_ptr<Journal> WithCrashPoint(std::unique_ptr<Journal> journal, CrashPoint point) {
  return std::make_unique<CrashingJournal>(std::move(journal), point);
}

}  // namespace keyrotor::engine
