#include "base/secret.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <type_traits>

#include "base/status.h"

namespace keyrotor {
namespace {

TEST(SecretTest, FormatsAsStars) {
  Secret s("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(fmt::format("{}", s), "****");
  EXPECT_EQ(s.reveal(), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
}

TEST(SecretTest, MoveLeavesSourceEmpty) {
  Secret a("abc");
  Secret b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the wipe
  EXPECT_EQ(b.reveal(), "abc");
  EXPECT_EQ(b, Secret("abc"));
  EXPECT_NE(b, Secret("abd"));
}

// Reads `n` bytes a string held through its own buffer (still allocated: a
// wiped string keeps its capacity, a short one its inline buffer).
bool AllZero(const char* bytes, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] != '\0') return false;
  }
  return true;
}

TEST(SecretTest, TakeSecretWipesTheSource) {
  std::string short_secret = "s3cr3t";  // fits std::string's inline buffer
  const char* inline_bytes = short_secret.data();
  Secret a = TakeSecret(short_secret);
  EXPECT_EQ(a.reveal(), "s3cr3t");
  EXPECT_TRUE(short_secret.empty());
  EXPECT_TRUE(AllZero(inline_bytes, 6));

  std::string long_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  Secret b = TakeSecret(long_secret);
  EXPECT_EQ(b.reveal(), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_TRUE(long_secret.empty());
}

TEST(StatusTest, AwsErrorCarriesDetail) {
  Status s = Status::Aws({"LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", "req-1", 409},
                         "CreateAccessKey");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsAws("LimitExceeded"));
  EXPECT_EQ(s.aws()->http_status, 409);
  EXPECT_EQ(s.ToString(),
            "CreateAccessKey: LimitExceeded: Cannot exceed quota for AccessKeysPerUser: 2 (request id req-1)");
  Status c = s.WithContext("profile dev");
  EXPECT_EQ(c.ToString().rfind("profile dev: CreateAccessKey", 0), 0u);
  EXPECT_TRUE(c.IsAws("LimitExceeded"));
}

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  KR_ASSIGN_OR_RETURN(int h, Half(x));
  *out = h;
  return Status::Ok();
}

TEST(StatusTest, ResultAndMacros) {
  int out = 0;
  EXPECT_TRUE(UseHalf(4, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = UseHalf(3, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd");
}

// A copy of a secret is made on purpose or not at all.
static_assert(!std::is_copy_constructible_v<Secret>);
static_assert(!std::is_copy_assignable_v<Secret>);
static_assert(std::is_nothrow_move_constructible_v<Secret>);

TEST(SecretTest, CloneIsTheOnlyCopyAndMovingLeavesNothingBehind) {
  Secret a("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  Secret b = a.Clone();
  EXPECT_EQ(b.reveal(), a.reveal());
  Secret c = std::move(a);
  EXPECT_EQ(c.reveal(), b.reveal());
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from secret is wiped
}

TEST(SecretTest, SharedSecretCopiesShareOneValue) {
  SharedSecret none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.get().empty());
  SharedSecret one = Secret("hmac-key");
  SharedSecret copy = one;
  EXPECT_FALSE(copy.empty());
  EXPECT_EQ(&copy.get(), &one.get());  // the same bytes, not a second copy of them
  EXPECT_EQ(copy.get().reveal(), "hmac-key");
}

}  // namespace
}  // namespace keyrotor
