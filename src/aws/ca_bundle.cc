#include "aws/ca_bundle.h"

#include <sys/stat.h>
#include <unistd.h>

namespace keyrotor::aws {
namespace {

bool Exists(const std::string& path, bool directory) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (directory) return S_ISDIR(st.st_mode) && access(path.c_str(), R_OK | X_OK) == 0;
  return S_ISREG(st.st_mode) && access(path.c_str(), R_OK) == 0;
}

std::string Env(const EnvMap& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

}  // namespace

const std::vector<std::string>& SystemCaBundles() {
  static const std::vector<std::string> kBundles = {
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Gentoo, Arch, Alpine
      "/etc/pki/tls/certs/ca-bundle.crt",                   // RHEL, Fedora, Amazon Linux, CentOS
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+ extracted trust
      "/etc/ssl/ca-bundle.pem",                             // openSUSE, SLES
      "/var/lib/ca-certificates/ca-bundle.pem",             // SLES 12+
      "/etc/ssl/cert.pem",                                  // Alpine, the BSDs
      "/etc/pki/tls/cacert.pem",                            // OpenELEC
  };
  return kBundles;
}

Result<CaCertificates> FindCaCertificates(const std::string& configured, const EnvMap& env,
                                          const PathProbe& probe) {
  const PathProbe& exists = probe ? probe : PathProbe(Exists);
  if (!configured.empty()) {
    if (!exists(configured, false)) {
      return Status::FailedPrecondition("the CA bundle " + configured +
                                        " (AWS_CA_BUNDLE or the profile's ca_bundle) is not a readable file");
    }
    return CaCertificates{configured, "", "AWS_CA_BUNDLE/ca_bundle"};
  }
  const std::string cert_file = Env(env, "SSL_CERT_FILE");
  const std::string cert_dir = Env(env, "SSL_CERT_DIR");
  if (!cert_file.empty() || !cert_dir.empty()) {
    if (!cert_file.empty() && !exists(cert_file, false)) {
      return Status::FailedPrecondition("SSL_CERT_FILE=" + cert_file + " is not a readable file");
    }
    if (!cert_dir.empty() && !exists(cert_dir, true)) {
      return Status::FailedPrecondition("SSL_CERT_DIR=" + cert_dir + " is not a readable directory");
    }
    return CaCertificates{cert_file, cert_dir, cert_file.empty() ? "SSL_CERT_DIR" : "SSL_CERT_FILE"};
  }
  std::string tried;
  for (const std::string& path : SystemCaBundles()) {
    if (exists(path, false)) return CaCertificates{path, "", "system"};
    tried += (tried.empty() ? "" : ", ") + path;
  }
  if (exists("/etc/ssl/certs", true)) return CaCertificates{"", "/etc/ssl/certs", "system"};
  return Status::FailedPrecondition(
      "no CA certificates to verify TLS with: AWS_CA_BUNDLE, SSL_CERT_FILE and SSL_CERT_DIR are unset and none of " +
      tried +
      ", /etc/ssl/certs/ exists; install the system's CA certificates (ca-certificates) or set AWS_CA_BUNDLE "
      "to a PEM bundle");
}

}  // namespace keyrotor::aws
