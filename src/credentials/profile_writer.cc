#include "credentials/profile_writer.h"

#include "base/file_lock.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"

namespace keyrotor::credentials {

Status WriteProfile(const std::string& path, const std::string& profile, const std::string& access_key_id,
                    const Secret& secret) {
  // The same lock as every other writer of a credentials file (base/file_lock.h).
  KR_ASSIGN_OR_RETURN(FileLock lock, LockForUpdate(path));
  Result<IniFile> file = IniFile::Load(path);
  if (!file.ok() && !file.status().IsNotFound()) return file.status();
  IniFile ini = file.ok() ? std::move(file).value() : IniFile::Parse("", path).value();
  std::string section = ini.SectionForProfile(profile, FileKind::kCredentials).value_or(profile);
  KR_RETURN_IF_ERROR(ini.Set(section, "aws_access_key_id", access_key_id));
  KR_RETURN_IF_ERROR(ini.Set(section, "aws_secret_access_key", secret.reveal()));
  return AtomicWriteFile(path, ini.Serialize(), {0600, false});
}

}  // namespace keyrotor::credentials
