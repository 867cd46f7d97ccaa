#include "aws/ca_bundle.h"

#include <gtest/gtest.h>

#include <set>

namespace keyrotor::aws {
namespace {

// A file system holding exactly `files` (and `dirs`).
PathProbe Holding(std::set<std::string> files, std::set<std::string> dirs = {}) {
  return [files, dirs](const std::string& path, bool directory) {
    return directory ? dirs.count(path) > 0 : files.count(path) > 0;
  };
}

TEST(CaBundleTest, EachDistributionsBundleIsFound) {
  struct Case {
    const char* system;
    const char* path;
  };
  for (const Case& c : {Case{"Debian/Ubuntu", "/etc/ssl/certs/ca-certificates.crt"},
                        Case{"RHEL/Amazon Linux", "/etc/pki/tls/certs/ca-bundle.crt"},
                        Case{"openSUSE", "/etc/ssl/ca-bundle.pem"},
                        Case{"Alpine", "/etc/ssl/cert.pem"}}) {
    auto found = FindCaCertificates("", {}, Holding({c.path}));
    ASSERT_TRUE(found.ok()) << c.system << ": " << found.status().ToString();
    EXPECT_EQ(found->file, c.path) << c.system;
    EXPECT_EQ(found->dir, "") << c.system;
    EXPECT_EQ(found->source, "system");
  }
  // Amazon Linux 2023 has both its own path and a compatibility link: the first listed wins.
  auto both = FindCaCertificates(
      "", {}, Holding({"/etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"}));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->file, "/etc/pki/tls/certs/ca-bundle.crt");
  // Only a hashed directory: used as CApath.
  auto dir_only = FindCaCertificates("", {}, Holding({}, {"/etc/ssl/certs"}));
  ASSERT_TRUE(dir_only.ok());
  EXPECT_EQ(dir_only->file, "");
  EXPECT_EQ(dir_only->dir, "/etc/ssl/certs");
}

TEST(CaBundleTest, AwsCaBundleThenSslCertFileWinOverTheSystem) {
  auto system = Holding({"/etc/ssl/certs/ca-certificates.crt", "/opt/corp-ca.pem", "/opt/openssl.pem"},
                        {"/opt/hashed"});
  auto configured = FindCaCertificates("/opt/corp-ca.pem", {{"SSL_CERT_FILE", "/opt/openssl.pem"}}, system);
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(configured->file, "/opt/corp-ca.pem");
  EXPECT_EQ(configured->source, "AWS_CA_BUNDLE/ca_bundle");

  auto openssl = FindCaCertificates("", {{"SSL_CERT_FILE", "/opt/openssl.pem"}}, system);
  ASSERT_TRUE(openssl.ok());
  EXPECT_EQ(openssl->file, "/opt/openssl.pem");
  EXPECT_EQ(openssl->source, "SSL_CERT_FILE");

  auto hashed = FindCaCertificates("", {{"SSL_CERT_DIR", "/opt/hashed"}}, system);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->file, "");
  EXPECT_EQ(hashed->dir, "/opt/hashed");
}

// A named bundle that is not there is an error naming it: never a quiet
// fallback to another store.
TEST(CaBundleTest, ANamedBundleThatIsMissingIsAnErrorNamingIt) {
  auto system = Holding({"/etc/ssl/certs/ca-certificates.crt"});
  auto configured = FindCaCertificates("/opt/gone.pem", {}, system);
  ASSERT_FALSE(configured.ok());
  EXPECT_EQ(configured.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(configured.status().message().find("/opt/gone.pem"), std::string::npos);

  auto env_file = FindCaCertificates("", {{"SSL_CERT_FILE", "/opt/gone.pem"}}, system);
  ASSERT_FALSE(env_file.ok());
  EXPECT_NE(env_file.status().message().find("SSL_CERT_FILE=/opt/gone.pem"), std::string::npos);

  auto env_dir = FindCaCertificates("", {{"SSL_CERT_DIR", "/opt/gone"}}, system);
  ASSERT_FALSE(env_dir.ok());
  EXPECT_NE(env_dir.status().message().find("SSL_CERT_DIR=/opt/gone"), std::string::npos);
}

TEST(CaBundleTest, NoCertificatesAnywhereNamesEveryPathTried) {
  auto none = FindCaCertificates("", {}, Holding({}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  for (const std::string& path : SystemCaBundles()) {
    EXPECT_NE(none.status().message().find(path), std::string::npos) << path;
  }
  EXPECT_NE(none.status().message().find("AWS_CA_BUNDLE"), std::string::npos);
}

// The real file system: a directory is not a bundle.
TEST(CaBundleTest, ADirectoryIsNotABundle) {
  auto dir = FindCaCertificates("/tmp", {});
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("/tmp"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::aws
