#include "destinations/credentials_file_destination.h"

#include <unistd.h>

#include <cerrno>

#include "base/file_lock.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "destinations/destination_util.h"

namespace keyrotor::destinations {
namespace {

using credentials::FileKind;
using credentials::IniFile;

constexpr char kKeyId[] = "aws_access_key_id";
constexpr char kSecret[] = "aws_secret_access_key";
// A session token next to a long-term key makes every SDK send it, and STS
// refuses the pair: Put drops them; Snapshot keeps them for Restore.
constexpr const char* kTokenKeys[] = {"aws_session_token", "aws_security_token"};
constexpr const char* kSnapshotKeys[] = {kKeyId, kSecret, "aws_session_token", "aws_security_token"};

// The file, or an empty one when it does not exist yet. A malformed file is
// an error naming PATH:LINE, and nothing is written.
Result<IniFile> LoadOrEmpty(const std::string& path) {
  Result<IniFile> file = IniFile::Load(path);
  if (file.ok() || !file.status().IsNotFound()) return file;
  return IniFile::Parse("", path);
}

// Whether the section sets `key` itself (a [DEFAULT] key it inherits is not
// the profile's to change or restore).
bool SetsOwn(const IniFile& file, const std::string& section, const std::string& key) {
  int line = file.LineOf(section, key);
  return line != 0 && line != file.LineOf("DEFAULT", key);
}

std::optional<std::string> OwnValue(const IniFile& file, const std::string& section, const std::string& key) {
  if (!SetsOwn(file, section, key)) return std::nullopt;
  return file.Get(section, key);
}

// Held from the read to the rename of every Put and Restore.
Result<FileLock> LockFile(const std::string& path, const std::string& spec) {
  if (Status made = EnsureParentDirectory(path); !made.ok()) return made.WithContext(spec);
  Result<FileLock> lock = LockForUpdate(path);
  if (!lock.ok()) return lock.status().WithContext(spec);
  return lock;
}

Status Write(const IniFile& file, const std::string& path, FileSystem* fs, bool keep_backup) {
  std::string text = file.Serialize();
  // keep_backup: people edit this file by hand; PATH.bak is the version before keyrotor's last write.
  AtomicWriteOptions opts{.mode = 0600, .keep_backup = keep_backup};
  opts.file_system = fs;
  Status written = AtomicWriteFile(path, text, opts);
  WipeString(text);
  return written;
}

// Sets or removes `key` so the section's own value is `value`.
Status SetOrRemove(IniFile& file, const std::string& section, const std::string& key,
                   const std::optional<std::string>& value) {
  if (value) return file.Set(section, key, *value);
  Status removed = file.Remove(section, key);
  return removed.IsNotFound() ? Status::Ok() : removed;
}

}  // namespace

CredentialsFileDestination::CredentialsFileDestination(std::string spec, std::string path, std::string profile,
                                                       FileSystem* fs, bool keep_backup)
    : spec_(std::move(spec)), path_(std::move(path)), profile_(std::move(profile)), fs_(fs), keep_backup_(keep_backup) {}

Result<Secret> CredentialsFileDestination::Snapshot(const KeyHandoff&) {
  Result<IniFile> loaded = IniFile::Load(path_);
  if (!loaded.ok()) {
    if (loaded.status().IsNotFound()) return Secret();
    return loaded.status().WithContext(spec_);
  }
  std::optional<std::string> section = loaded->SectionForProfile(profile_, FileKind::kCredentials);
  if (!section) return Secret();
  nlohmann::json doc = nlohmann::json::object();
  for (const char* key : kSnapshotKeys) {
    if (auto value = OwnValue(*loaded, *section, key)) doc[key] = *value;
  }
  return SnapshotOf(doc);
}

Status CredentialsFileDestination::Put(const KeyHandoff& key) {
  KR_ASSIGN_OR_RETURN(FileLock lock, LockFile(path_, spec_));
  KR_ASSIGN_OR_RETURN(IniFile file, LoadOrEmpty(path_));
  const std::string section = file.SectionForProfile(profile_, FileKind::kCredentials).value_or(profile_);
  bool holds_key = OwnValue(file, section, kKeyId) == key.access_key_id &&
                   OwnValue(file, section, kSecret) == key.secret_access_key.reveal();
  for (const char* token : kTokenKeys) holds_key = holds_key && !OwnValue(file, section, token);
  if (holds_key) return Status::Ok();  // a retry: the file already has it

  KR_RETURN_IF_ERROR(file.Set(section, kKeyId, key.access_key_id).WithContext(spec_));
  KR_RETURN_IF_ERROR(file.Set(section, kSecret, key.secret_access_key.reveal()).WithContext(spec_));
  for (const char* token : kTokenKeys) KR_RETURN_IF_ERROR(SetOrRemove(file, section, token, std::nullopt));
  return Write(file, path_, fs_, keep_backup_).WithContext(spec_);
}

Status CredentialsFileDestination::Restore(const KeyHandoff& key, const Secret& snapshot) {
  // Nothing was written (or someone removed the file since): nothing to take
  // back, and no directory or lock file to create for it.
  if (snapshot.empty() && ::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return Status::Ok();
  KR_ASSIGN_OR_RETURN(FileLock lock, LockFile(path_, spec_));
  Result<IniFile> loaded = IniFile::Load(path_);
  if (!loaded.ok()) {
    // Nothing was written (or someone removed the file since): nothing to take back.
    if (loaded.status().IsNotFound() && snapshot.empty()) return Status::Ok();
    if (!loaded.status().IsNotFound()) return loaded.status().WithContext(spec_);
  }
  IniFile file = loaded.ok() ? std::move(loaded).value() : IniFile::Parse("", path_).value();
  std::optional<std::string> section = file.SectionForProfile(profile_, FileKind::kCredentials);

  if (snapshot.empty()) {
    // The profile did not exist: take away what Put added, and the profile
    // with it when nothing else is left in it.
    if (!section) return Status::Ok();
    if (OwnValue(file, *section, kKeyId) != key.access_key_id) return Status::Ok();  // not ours, or already undone
    for (const char* k : kSnapshotKeys) KR_RETURN_IF_ERROR(SetOrRemove(file, *section, k, std::nullopt));
    bool empty = true;
    for (const auto& [name, value] : file.Items(*section)) empty = empty && !SetsOwn(file, *section, name);
    if (empty) KR_RETURN_IF_ERROR(file.RemoveSection(*section).WithContext(spec_));
    return Write(file, path_, fs_, keep_backup_).WithContext(spec_);
  }

  KR_ASSIGN_OR_RETURN(nlohmann::json doc, ParseSnapshot(snapshot, spec_));
  const std::string title = section.value_or(profile_);
  bool unchanged = section.has_value();
  std::vector<std::pair<std::string, std::optional<std::string>>> wanted;
  for (const char* k : kSnapshotKeys) {
    std::optional<std::string> value;
    if (auto it = doc.find(k); it != doc.end() && it->is_string()) value = it->get<std::string>();
    unchanged = unchanged && OwnValue(file, title, k) == value;
    wanted.emplace_back(k, std::move(value));
  }
  if (unchanged) return Status::Ok();  // already restored
  // Someone wrote another key since: theirs is newer than anything we could put back.
  if (std::optional<std::string> now = OwnValue(file, title, kKeyId); now != key.access_key_id) {
    return Status::FailedPrecondition(spec_ + ": the profile holds " + (now ? "key " + *now : std::string("no key")) +
                                      ", neither this rotation's key nor the one before it: not restored");
  }
  for (const auto& [k, value] : wanted) KR_RETURN_IF_ERROR(SetOrRemove(file, title, k, value).WithContext(spec_));
  return Write(file, path_, fs_, keep_backup_).WithContext(spec_);
}

}  // namespace keyrotor::destinations
