#include "base/conninfo_redact.h"

#include <gtest/gtest.h>

namespace keyrotor {
namespace {

TEST(ConninfoRedactTest, UrlUserInfoIsHiddenWhateverThePasswordHolds) {
  EXPECT_EQ(RedactConnectionSecrets("postgresql://u:s3cret@h:5432/db?sslmode=require"),
            "postgresql://****@h:5432/db?sslmode=require");
  // libpq reads the password up to the '@': '?', '#' and escapes are inside it.
  EXPECT_EQ(RedactConnectionSecrets("postgresql://u:s3c?r#et@h/db"), "postgresql://****@h/db");
  EXPECT_EQ(RedactConnectionSecrets("postgres://u:p%40ss%2Fw@h/db"), "postgres://****@h/db");
  // Unencoded '/' and '@' in the password: up to the last '@'.
  EXPECT_EQ(RedactConnectionSecrets("postgresql://u:pa/ss@h/db"), "postgresql://****@h/db");
  EXPECT_EQ(RedactConnectionSecrets("postgresql://u:p@ss@h/db"), "postgresql://****@h/db");
  // A token as the user name.
  EXPECT_EQ(RedactConnectionSecrets("see https://ghp_token123@example.com/x for"), "see https://****@example.com/x for");
  // Inside a message, quoted, several times.
  EXPECT_EQ(RedactConnectionSecrets("in URI: \"postgresql://u:pw@[::1/db\"; again postgresql://v:w@h"),
            "in URI: \"postgresql://****@[::1/db\"; again postgresql://****@h");
  // Nothing to hide.
  EXPECT_EQ(RedactConnectionSecrets("postgresql:///db?host=/run/pg"), "postgresql:///db?host=/run/pg");
  EXPECT_EQ(RedactConnectionSecrets("postgres://h/db"), "postgres://h/db");
  EXPECT_EQ(RedactConnectionSecrets("mail me at a@b.example"), "mail me at a@b.example");
}

TEST(ConninfoRedactTest, PasswordParametersAreHiddenQuotedOrNot) {
  EXPECT_EQ(RedactConnectionSecrets("postgresql://h/db?password=s3cret&port=1"),
            "postgresql://h/db?password=****&port=1");
  EXPECT_EQ(RedactConnectionSecrets("postgresql://h/db?sslpassword=k3y"), "postgresql://h/db?sslpassword=****");
  EXPECT_EQ(RedactConnectionSecrets("host=h password=s3c&ret user=u"), "host=h password=**** user=u");
  EXPECT_EQ(RedactConnectionSecrets("host=h password = 'it\\'s a secret' user=u"), "host=h password = **** user=u");
  EXPECT_EQ(RedactConnectionSecrets("PGPASSWORD=abc"), "PGPASSWORD=****");
  EXPECT_EQ(RedactConnectionSecrets("the password is wrong"), "the password is wrong");
}

// What libpq says about malformed URIs quotes pieces of the password; the
// journal passes its URL so that those pieces are found too.
TEST(ConninfoRedactTest, PiecesOfTheKnownPasswordInLibpqMessagesAreHidden) {
  EXPECT_EQ(RedactConnectionSecrets("invalid integer value \"pa\" for connection option \"port\"",
                                    "postgresql://u:pa/ss@127.0.0.1:1/db"),
            "invalid integer value \"****\" for connection option \"port\"");
  EXPECT_EQ(RedactConnectionSecrets("could not translate host name \"ss@127.0.0.1\" to address",
                                    "postgresql://u:p@ss@127.0.0.1:1/db"),
            "could not translate host name \"****\" to address");
  EXPECT_EQ(RedactConnectionSecrets("invalid percent-encoded token: \"p%zzw\"", "postgresql://u:p%zzw@h/db"),
            "invalid percent-encoded token: \"****\"");
  EXPECT_EQ(RedactConnectionSecrets("a secret spelled s3 cr3t", "host=h password='s3 cr3t'"), "a secret spelled ****");
  // Decoded too.
  EXPECT_EQ(RedactConnectionSecrets("got p@ss", "postgresql://u:p%40ss@h/db"), "got ****");
}

TEST(ConninfoRedactTest, HoldsConnectionSecret) {
  EXPECT_TRUE(HoldsConnectionSecret("postgresql://u:pw@h/db"));
  EXPECT_TRUE(HoldsConnectionSecret("http://user:pass@proxy:3128"));
  EXPECT_TRUE(HoldsConnectionSecret("host=h password=x"));
  EXPECT_FALSE(HoldsConnectionSecret("/var/lib/keyrotor/journal.db"));
  EXPECT_FALSE(HoldsConnectionSecret("https://proxy.example:3128"));
  EXPECT_FALSE(HoldsConnectionSecret("/usr/local/bin:/usr/bin:/bin"));
}

}  // namespace
}  // namespace keyrotor
