#include "base/seal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_util.h"

namespace keyrotor {
namespace {

std::string TempPath(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("seal-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(SealTest, RoundTripsAndHidesThePlaintext) {
  SealingKey key = SealingKey::FromBytes(std::string(32, 'k'));
  std::string box = key.Seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "rotation-1");
  EXPECT_EQ(box.find("wJalrXUtnFEMI"), std::string::npos);
  auto opened = key.Open(box, "rotation-1");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->reveal(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  // Two seals of the same bytes differ (random nonce).
  EXPECT_NE(box, key.Seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "rotation-1"));
}

TEST(SealTest, RefusesAnotherContextAnotherKeyOrTampering) {
  SealingKey key = SealingKey::FromBytes(std::string(32, 'k'));
  std::string box = key.Seal("secret", "rotation-1");
  EXPECT_EQ(key.Open(box, "rotation-2").status().code(), StatusCode::kParseError);
  EXPECT_EQ(SealingKey::FromBytes(std::string(32, 'x')).Open(box, "rotation-1").status().code(),
            StatusCode::kParseError);
  std::string tampered = box;
  tampered.back() ^= 1;
  EXPECT_EQ(key.Open(tampered, "rotation-1").status().code(), StatusCode::kParseError);
  EXPECT_EQ(key.Open("short", "").status().code(), StatusCode::kParseError);
}

TEST(SealTest, KeyFileIsCreatedOnceWithMode0600AndReused) {
  std::string path = TempPath("created.key");
  std::filesystem::remove(path);
  auto first = SealingKey::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto second = SealingKey::LoadOrCreate(path);
  ASSERT_TRUE(second.ok());
  auto opened = second->Open(first->Seal("v", "c"), "c");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->reveal(), "v");
}

// Processes racing on first use all end up with the one key: none reads a
// half-written key file.
TEST(SealTest, ConcurrentFirstUseAgreesOnOneKey) {
  for (int round = 0; round < 5; ++round) {
    std::string path = TempPath("race-" + std::to_string(round) + ".key");
    std::filesystem::remove(path);
    std::vector<pid_t> children;
    for (int i = 0; i < 6; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) {
        auto key = SealingKey::LoadOrCreate(path);
        if (!key.ok()) ::_exit(1);
        std::string box = key->Seal("same", "race");
        ::_exit(AtomicWriteFile(path + ".box" + std::to_string(i), box).ok() ? 0 : 2);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFEXITED(status));
      EXPECT_EQ(WEXITSTATUS(status), 0);
    }
    auto key = SealingKey::LoadOrCreate(path);
    ASSERT_TRUE(key.ok());
    for (int i = 0; i < 6; ++i) {
      auto box = ReadFile(path + ".box" + std::to_string(i));
      ASSERT_TRUE(box.ok());
      EXPECT_TRUE(key->Open(*box, "race").ok()) << "child " << i << " used another key";
    }
  }
}

TEST(SealTest, RefusesAKeyFileOthersCanReadOrOfTheWrongSize) {
  std::string loose = TempPath("loose.key");
  ASSERT_TRUE(AtomicWriteFile(loose, std::string(32, 'a'), {0644, false}).ok());
  auto s = SealingKey::LoadOrCreate(loose);
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().ToString().find(loose), std::string::npos);
  std::string shortkey = TempPath("short.key");
  ASSERT_TRUE(AtomicWriteFile(shortkey, "abc", {0600, false}).ok());
  EXPECT_EQ(SealingKey::LoadOrCreate(shortkey).status().code(), StatusCode::kParseError);
}

}  // namespace
}  // namespace keyrotor
