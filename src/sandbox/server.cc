#include "sandbox/server.h"

#include "base/file_lock.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"

namespace keyrotor::sandbox {

Result<std::unique_ptr<SandboxServer>> SandboxServer::Start(SandboxOptions options, const std::string& host, int port) {
  auto out = std::unique_ptr<SandboxServer>(new SandboxServer());
  out->sandbox_ = std::make_unique<Sandbox>(std::move(options));
  net::ServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  Sandbox* sandbox = out->sandbox_.get();
  KR_ASSIGN_OR_RETURN(out->server_, net::HttpServer::Start(server_options, [sandbox](const aws::HttpRequest& request,
                                                                                     net::ResponseControl& control) {
                        return sandbox->Handle(request, control);
                      }));
  return out;
}

Status WriteProfile(const std::string& path, const std::string& profile, const std::string& access_key_id,
                    const Secret& secret) {
  // The same lock as every other writer of a credentials file (base/file_lock.h).
  KR_ASSIGN_OR_RETURN(FileLock lock, LockForUpdate(path));
  Result<credentials::IniFile> file = credentials::IniFile::Load(path);
  if (!file.ok() && !file.status().IsNotFound()) return file.status();
  credentials::IniFile ini = file.ok() ? std::move(file).value() : credentials::IniFile::Parse("", path).value();
  std::string section = ini.SectionForProfile(profile, credentials::FileKind::kCredentials).value_or(profile);
  KR_RETURN_IF_ERROR(ini.Set(section, "aws_access_key_id", access_key_id));
  KR_RETURN_IF_ERROR(ini.Set(section, "aws_secret_access_key", secret.reveal()));
  return AtomicWriteFile(path, ini.Serialize(), {0600, false});
}

}  // namespace keyrotor::sandbox
