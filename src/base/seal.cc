#include "base/seal.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file_util.h"
#include "base/strings.h"

namespace keyrotor {
namespace {

constexpr size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}


// Creates the key file so that no process ever sees it half written: the key
// goes to a private temp file first, which is then link()ed into place. When
// two processes race on first use, one link wins and the other reads it.
Status CreateKeyFile(const std::string& path) {
  std::string key(kKeyBytes, '\0');
  randombytes_buf(key.data(), key.size());
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(randombytes_random());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    sodium_memzero(key.data(), key.size());
    return Status::IoError(path + ": cannot create key file: " + ErrnoText(errno));
  }
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
            ::fsync(fd) == 0;
  std::string why = ok ? "" : ErrnoText(errno);
  ::close(fd);
  sodium_memzero(key.data(), key.size());
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::IoError(path + ": cannot write key file: " + why);
  }
  int linked = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return Status::AlreadyExists(path);
    errno = link_errno;
    return Status::IoError(path + ": cannot create key file: " + ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace

Result<SealingKey> SealingKey::LoadOrCreate(const std::string& path) {
  if (!SodiumReady()) return Status::Internal("libsodium failed to initialise");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IoError(path + ": " + ErrnoText(errno));
    Status created = CreateKeyFile(path);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
    if (::stat(path.c_str(), &st) != 0) return Status::IoError(path + ": " + ErrnoText(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied(path + ": key file is readable by group or others (chmod 600 it)");
  }
  KR_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (bytes.size() != kKeyBytes) {
    WipeString(bytes);
    return Status::ParseError(path + ": not a keyrotor key file (expected " + std::to_string(kKeyBytes) + " bytes)");
  }
  return SealingKey(Secret(std::move(bytes)));
}

SealingKey SealingKey::FromBytes(std::string_view key32) {
  SodiumReady();
  std::string key(key32.substr(0, kKeyBytes));
  key.resize(kKeyBytes, '\0');
  return SealingKey(Secret(std::move(key)));
}

std::string SealingKey::Seal(std::string_view plaintext, std::string_view context) const {
  std::string box(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &written, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr, nonce,
      reinterpret_cast<const unsigned char*>(key_.reveal().data()));
  box.resize(kNonceBytes + written);
  return box;
}

Result<Secret> SealingKey::Open(std::string_view box, std::string_view context) const {
  if (box.size() < kNonceBytes + kTagBytes) return Status::ParseError("sealed data is truncated");
  const auto* nonce = reinterpret_cast<const unsigned char*>(box.data());
  std::string plain(box.size() - kNonceBytes - kTagBytes, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &written, nullptr, nonce + kNonceBytes,
          box.size() - kNonceBytes, reinterpret_cast<const unsigned char*>(context.data()), context.size(), nonce,
          reinterpret_cast<const unsigned char*>(key_.reveal().data())) != 0) {
    WipeString(plain);
    return Status::ParseError("sealed data does not authenticate (wrong key, wrong context or tampered)");
  }
  plain.resize(written);
  return Secret(std::move(plain));
}

}  // namespace keyrotor
