// The engine when a credentials-file destination's write fails the way disks
// fail: a full disk (ENOSPC on write), an I/O error on fsync or on rename,
// injected through the file-system seam (base/file_system.h) that the
// destination's AtomicWriteFile calls go through. Whatever the
// failure, the rotation is rolled back: the new key is deleted, the file
// holds the old key again, nothing is lost and no temp file is left.
#include <errno.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file_system.h"
#include "base/file_util.h"
#include "credentials/ini_file.h"
#include "destinations/credentials_file_destination.h"
#include "engine/rotator.h"
#include "support/sandbox_world.h"

namespace keyrotor::engine {
namespace {

using testing::SandboxWorld;
using Outcome = UserOutcome::Result;

constexpr Days kOneDay{1};

enum class Call { kWrite, kFsync, kRename };

// Fails calls of one kind with `err`: from the `first`-th such call on, for
// `count` calls (the rest go to the real file system).
class FaultyFileSystem : public FileSystem {
 public:
  FaultyFileSystem(Call call, int err, int first, int count) : call_(call), err_(err), first_(first), count_(count) {}

  ssize_t Write(int fd, const void* data, size_t size) override {
    if (Fails(Call::kWrite)) return -1;
    return FileSystem::Write(fd, data, size);
  }
  int Fsync(int fd) override {
    if (Fails(Call::kFsync)) return -1;
    return FileSystem::Fsync(fd);
  }
  int Rename(const std::string& from, const std::string& to) override {
    if (Fails(Call::kRename)) return -1;
    return FileSystem::Rename(from, to);
  }
  int injected() const { return injected_; }

 private:
  bool Fails(Call call) {
    if (call != call_) return false;
    ++seen_;
    if (seen_ < first_ || seen_ >= first_ + count_) return false;
    ++injected_;
    errno = err_;
    return true;
  }

  Call call_;
  int err_;
  int first_;
  int count_;
  int seen_ = 0;
  int injected_ = 0;
};

struct Fault {
  const char* name;
  Call call;
  int err;
  int first;
  int count;
};

// A Put keeps a backup first, so its calls come in this order: backup
// write, fsync, rename, directory fsync; then the same for the file.
const Fault kFaults[] = {
    {"DiskFullOnEveryWrite", Call::kWrite, ENOSPC, 1, 1000},
    {"DiskFullWritingTheFileAfterItsBackup", Call::kWrite, ENOSPC, 2, 1000},
    {"IoErrorOnEveryFsync", Call::kFsync, EIO, 1, 1000},
    {"IoErrorOnTheFilesFsync", Call::kFsync, EIO, 3, 1},
    // The file was renamed into place, then the directory's fsync failed:
    // Put reports the failure although the file now holds the new key, so
    // Restore has to write the old one back.
    {"IoErrorOnTheDirectoryFsyncAfterTheRename", Call::kFsync, EIO, 4, 1},
    {"IoErrorOnEveryRename", Call::kRename, EIO, 1, 1000},
    {"IoErrorOnTheFilesRename", Call::kRename, EIO, 2, 1},
};

class RotatorFileFaultTest : public ::testing::TestWithParam<Fault> {};

TEST_P(RotatorFileFaultTest, AFailedCredentialsFileWriteRollsBackAndLosesNothing) {
  const Fault& fault = GetParam();
  SandboxWorld world;
  auto old = world.UserWithKey("app", 100 * kOneDay);
  const std::string path = world.dir + "/credentials";
  const std::string before = "# the application's key\n[app]\naws_access_key_id = " + old.access_key_id +
                             "\naws_secret_access_key = " + old.secret.reveal() + "\nregion = eu-west-1\n";
  ASSERT_TRUE(AtomicWriteFile(path, before).ok());

  FaultyFileSystem fs(fault.call, fault.err, fault.first, fault.count);
  EngineOptions options;
  options.orphan_settle = Duration(0);
  options.policy.mode = RotationMode::kImmediate;
  // The credentials-file destination itself, its writes going through the
  // faulty file system: added as a destination kind of the test's own, the
  // way a command adds kinds (DestinationOptions::extra_kinds).
  options.destinations = {"faulty-credentials-file:app"};
  options.destination_options.extra_kinds["faulty-credentials-file"] =
      [&](std::string_view spec, std::string_view profile, const destinations::DestinationOptions&) {
        return Result<std::unique_ptr<destinations::Destination>>(
            std::make_unique<destinations::CredentialsFileDestination>(std::string(spec), path, std::string(profile),
                                                                       &fs));
      };
  Rotator rotator(world.Clients(), world.journal.get(), options);
  UserOutcome o = rotator.RotateUser("app", {});

  EXPECT_GT(fs.injected(), 0) << "the fault was never reached";
  EXPECT_EQ(o.result, Outcome::kRolledBack) << o.message;
  // The new key is deleted; the old one is still there and active.
  auto keys = world.sandbox->ListKeys("app");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].access_key_id, old.access_key_id);
  EXPECT_TRUE(keys[0].active);
  EXPECT_TRUE(world.KeyWorks(old.access_key_id, old.secret));
  // The file holds the old key, everything else as it was.
  auto file = credentials::IniFile::Load(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->Get("app", "aws_access_key_id").value_or(""), old.access_key_id);
  EXPECT_TRUE(file->Get("app", "aws_secret_access_key").value_or("") == old.secret.reveal());
  EXPECT_EQ(file->Get("app", "region").value_or(""), "eu-west-1");
  EXPECT_EQ(ReadFile(path).value().rfind("# the application's key\n", 0), 0u);
  // No temp file left behind, and nothing left open for a later run.
  for (const auto& e : std::filesystem::directory_iterator(world.dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
  EXPECT_FALSE(world.journal->OpenRotation(o.account, "app").value());
  EXPECT_EQ(o.message.find(old.secret.reveal()), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Faults, RotatorFileFaultTest, ::testing::ValuesIn(kFaults),
                         [](const ::testing::TestParamInfo<Fault>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace keyrotor::engine
