// Which CA certificates TLS verifies against. libcurl's built-in default is
// the path of the distribution it was built on (Debian's); a bundle that runs
// on Amazon Linux, Alpine or SUSE has to look where that system keeps them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/environment.h"
#include "base/status.h"

namespace keyrotor::aws {

struct CaCertificates {
  std::string file;    // a PEM bundle (CURLOPT_CAINFO), or empty
  std::string dir;     // a hashed certificate directory (CURLOPT_CAPATH), or empty
  std::string source;  // where the choice came from, for `keyrotor doctor`
};

// The system bundles, in the order they are tried: Debian/Ubuntu/Gentoo/Arch,
// RHEL/Fedora/Amazon Linux/CentOS, RHEL's extracted trust, openSUSE/SLES,
// Alpine/FreeBSD-style.
const std::vector<std::string>& SystemCaBundles();

// `configured` (AWS_CA_BUNDLE or a profile's ca_bundle, as the SDKs read them)
// wins and must be a readable file. Then SSL_CERT_FILE and SSL_CERT_DIR, as
// OpenSSL reads them (each must exist when set). Then the first of
// SystemCaBundles() that exists, then /etc/ssl/certs as a hashed directory.
// None: FailedPrecondition naming every place tried. Verification is never
// turned off for want of certificates.
// `exists(path, directory)` is the file system probe (a seam for tests).
using PathProbe = std::function<bool(const std::string& path, bool directory)>;
Result<CaCertificates> FindCaCertificates(const std::string& configured, const EnvMap& env,
                                          const PathProbe& exists = {});

}  // namespace keyrotor::aws
