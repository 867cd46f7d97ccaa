#include "base/wipe_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keyrotor {
namespace {

constexpr char kSecretKey[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kToken[] = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQD-session-token";

// The bytes a string held, read back through its own (still allocated) buffer.
struct Held {
  explicit Held(std::string& s) : data(s.data()), size(s.size()) {}
  bool AllZero() const {
    for (size_t i = 0; i < size; ++i) {
      if (data[i] != '\0') return false;
    }
    return true;
  }
  const char* data;
  size_t size;
};

TEST(WipeJsonTest, OverwritesEveryStringInPlaceAtAnyDepth) {
  nlohmann::json j = nlohmann::json::parse(std::string(R"({"Credentials": {"SecretAccessKey": ")") + kSecretKey +
                                           R"(", "Expiration": 1700000000}, "Tokens": [")" + kToken +
                                           R"(", ["nested-)" + kSecretKey + R"("]], "Count": 2})");
  std::vector<Held> held = {Held(j["Credentials"]["SecretAccessKey"].get_ref<std::string&>()),
                            Held(j["Tokens"][0].get_ref<std::string&>()),
                            Held(j["Tokens"][1][0].get_ref<std::string&>())};

  WipeJson(j);

  for (const Held& h : held) EXPECT_TRUE(h.AllZero());
  EXPECT_EQ(j["Credentials"]["SecretAccessKey"], "");
  EXPECT_EQ(j["Tokens"][0], "");
  EXPECT_EQ(j["Tokens"][1][0], "");
  // Names and numbers are not secrets: the shape stays.
  EXPECT_EQ(j["Credentials"]["Expiration"], 1700000000);
  EXPECT_EQ(j["Count"], 2);
  EXPECT_EQ(j.dump().find("EXAMPLEKEY"), std::string::npos);
  EXPECT_EQ(j.dump().find("session-token"), std::string::npos);
}

TEST(WipeJsonTest, WipesAStringDocumentAndLeavesOtherScalars) {
  nlohmann::json s = std::string(kSecretKey);
  Held held(s.get_ref<std::string&>());
  WipeJson(s);
  EXPECT_TRUE(held.AllZero());
  EXPECT_EQ(s, "");

  nlohmann::json n = 42;
  WipeJson(n);
  EXPECT_EQ(n, 42);
  nlohmann::json null;
  WipeJson(null);
  EXPECT_TRUE(null.is_null());
}

TEST(WipeJsonTest, WipesADocumentNestedDeeperThanTheCallStackAllows) {
  // A value from outside may nest arbitrarily; nlohmann parses and frees it
  // without recursion, and so must the wipe.
  constexpr int kDepth = 300000;
  std::string text(kDepth, '[');
  text += '"';
  text += kSecretKey;
  text += '"';
  text.append(kDepth, ']');
  nlohmann::json j = nlohmann::json::parse(text);
  nlohmann::json* innermost = &j;
  while (innermost->is_array()) innermost = &(*innermost)[0];
  Held held(innermost->get_ref<std::string&>());
  WipeJson(j);
  EXPECT_TRUE(held.AllZero());
  EXPECT_EQ(*innermost, "");
}

TEST(WipeJsonTest, OnExitWipesOnEveryReturnPath) {
  nlohmann::json j = {{"SecretString", kSecretKey}};
  Held held(j["SecretString"].get_ref<std::string&>());
  auto parse = [&](bool fail_early) -> bool {
    WipeJsonOnExit wipe(j);
    if (fail_early) return false;
    return !j["SecretString"].get<std::string>().empty();  // read before the wipe
  };
  EXPECT_FALSE(parse(/*fail_early=*/true));
  EXPECT_TRUE(held.AllZero());
  EXPECT_EQ(j["SecretString"], "");

  j["SecretString"] = kToken;
  Held again(j["SecretString"].get_ref<std::string&>());
  EXPECT_TRUE(parse(/*fail_early=*/false));
  EXPECT_TRUE(again.AllZero());
}

}  // namespace
}  // namespace keyrotor
