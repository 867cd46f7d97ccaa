#include "engine/sealing_journal.h"

#include <sys/stat.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "base/seal.h"

namespace keyrotor::engine {
namespace {

// Sealed into the store's key-check box on first use: a process whose key
// file differs cannot open it and is refused before it seals a secret that
// the other processes could never read. (The value and context are what the
// PostgreSQL journal has stored since its first version.)
constexpr std::string_view kKeyCheckPlaintext = "keyrotor sealing key check";
constexpr std::string_view kKeyCheckContext = "keyrotor/sealing-key-check";

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

// What a box is bound to: its rotation and slot (the AEAD's associated data).
std::string BoxContext(const std::string& rotation_id, const std::string& slot) { return rotation_id + "/" + slot; }

class SealingJournal : public Journal {
 public:
  SealingJournal(std::unique_ptr<JournalStore> store, std::string key_file)
      : store_(std::move(store)), key_file_(std::move(key_file)) {}

  Result<std::unique_ptr<UserLock>> TryLockUser(const std::string& account, const std::string& user) override {
    return store_->TryLockUser(account, user);
  }

  Status Save(const RotationRecord& record, const SealedChanges& sealed) override {
    if (record.id.empty()) return Status::InvalidArgument("rotation record has no id");
    // Sealed before the store is called: a missing or wrong key file fails
    // the save without anything having been written.
    BoxChanges boxes;
    boxes.wipe_all = sealed.wipe_all;
    if (!sealed.put.empty()) {
      for (const auto& [slot, secret] : sealed.put) {
        if (secret == nullptr) return Status::InvalidArgument("sealed slot \"" + slot + "\" has no value");
      }
      KR_ASSIGN_OR_RETURN(const SealingKey* key, Key());
      for (const auto& [slot, secret] : sealed.put) {
        boxes.put.emplace_back(slot, key->Seal(secret->reveal(), BoxContext(record.id, slot)));
      }
    }
    return store_->Save(record, boxes);
  }

  Result<std::optional<RotationRecord>> OpenRotation(const std::string& account, const std::string& user) override {
    return store_->OpenRotation(account, user);
  }
  Result<std::vector<RotationRecord>> Rotations(const std::string& account, const std::string& user) override {
    return store_->Rotations(account, user);
  }
  Result<std::vector<RotationRecord>> OpenRotations() override { return store_->OpenRotations(); }

  Result<std::optional<Secret>> GetSealed(const std::string& rotation_id, const std::string& slot) override {
    KR_ASSIGN_OR_RETURN(std::optional<std::string> box, store_->GetBox(rotation_id, slot));
    if (!box) return std::optional<Secret>();
    KR_ASSIGN_OR_RETURN(const SealingKey* key, Key());
    auto opened = key->Open(*box, BoxContext(rotation_id, slot));
    if (!opened.ok()) {
      return opened.status().WithContext(store_->where() + ": rotation " + rotation_id + " slot \"" + slot + "\"");
    }
    return std::optional<Secret>(std::move(opened).value());
  }

  Status AppendAudit(const AuditRecord& record) override { return store_->AppendAudit(record); }
  Result<std::vector<AuditRecord>> ReadAudit(const AuditFilter& filter) override { return store_->ReadAudit(filter); }

 private:
  // The sealing key, loaded (or created) on first use, under the store's
  // serialisation of first use: a process never reads a key file another has
  // created but not yet written, and exactly one seals the key-check box.
  // A key file missing where the store already has a check box is not
  // created: a fresh key there could never open the boxes sealed elsewhere.
  Result<const SealingKey*> Key() {
    std::lock_guard lock(key_mu_);
    if (key_) return &*key_;
    std::optional<SealingKey> loaded;
    KR_RETURN_IF_ERROR(store_->WithSealingKeyCheck([&](std::optional<std::string>* check) -> Status {
      loaded.reset();
      bool has_check = check != nullptr && check->has_value();
      if (has_check && !FileExists(key_file_)) {
        return Status::FailedPrecondition(key_file_ + ": sealing key file missing, and " + store_->where() +
                                          " already holds secrets sealed with a key from elsewhere: copy that key "
                                          "file here (mode 0600)");
      }
      KR_ASSIGN_OR_RETURN(SealingKey key, SealingKey::LoadOrCreate(key_file_));
      if (has_check) {
        if (!key.Open(**check, kKeyCheckContext).ok()) {
          return Status::FailedPrecondition(key_file_ + ": not the sealing key of " + store_->where() +
                                            " (another process sealed its secrets with a different key file; every "
                                            "process sharing the journal needs the same one)");
        }
      } else if (check != nullptr) {
        *check = key.Seal(kKeyCheckPlaintext, kKeyCheckContext);
      }
      loaded.emplace(std::move(key));
      return Status::Ok();
    }));
    key_.emplace(std::move(*loaded));
    return &*key_;
  }

  std::unique_ptr<JournalStore> store_;
  const std::string key_file_;
  std::mutex key_mu_;  // guards key_; taken before any of the store's own locks
  std::optional<SealingKey> key_;
};

}  // namespace

std::unique_ptr<Journal> NewSealingJournal(std::unique_ptr<JournalStore> store, std::string key_file) {
  return std::make_unique<SealingJournal>(std::move(store), std::move(key_file));
}

}  // namespace keyrotor::engine
