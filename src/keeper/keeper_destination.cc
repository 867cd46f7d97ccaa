#include "keeper/keeper_destination.h"

#include <nlohmann/json.hpp>

#include "base/subprocess.h"
#include "destinations/exec_destination.h"

namespace keyrotor::keeper {
namespace {

using destinations::Destination;
using destinations::KeyHandoff;

class KeeperDestination : public Destination {
 public:
  // An empty argv: print the document to `out` instead of running a program.
  KeeperDestination(std::string spec, std::vector<std::string> argv, const destinations::DestinationOptions& options,
                    std::FILE* out)
      : spec_(std::move(spec)),
        argv_(std::move(argv)),
        timeout_(options.exec_timeout),
        env_(ChildEnvironment(options.exec_env)),
        out_(out) {}

  std::string Describe() const override { return spec_; }
  Result<Secret> Snapshot(const KeyHandoff&) override { return Secret(); }
  Status Restore(const KeyHandoff&, const Secret&) override { return Status::Ok(); }

  Status Put(const KeyHandoff& key) override {
    Secret doc = KeeperFieldsDocument(key);
    if (!argv_.empty()) return destinations::SendToProgram(spec_, argv_, doc, env_, timeout_, {&key.secret_access_key});
    // --print-fields: the caller asked for the secret on stdout.
    if (std::fwrite(doc.reveal().data(), 1, doc.size(), out_) != doc.size() || std::fflush(out_) != 0) {
      return Status::IoError(spec_ + ": cannot write the fields to stdout");
    }
    return Status::Ok();
  }

 private:
  const std::string spec_;
  const std::vector<std::string> argv_;
  const Duration timeout_;
  const EnvMap env_;
  std::FILE* const out_;
};

}  // namespace

Secret KeeperFieldsDocument(const KeyHandoff& key) {
  nlohmann::json doc = {{"aws_access_key_id", key.access_key_id},
                        {"aws_secret_access_key", key.secret_access_key.reveal()},
                        {"CreateDate", FormatIso8601(key.created)},
                        {"Access_Key_ID_Removed_during_previous_rotation", key.previous_access_key_id}};
  std::string dumped = doc.dump();
  WipeString(doc["aws_secret_access_key"].get_ref<std::string&>());
  std::string line;
  line.reserve(dumped.size() + 1);  // no reallocation may leave an unwiped copy behind
  line.append(dumped).push_back('\n');
  WipeString(dumped);
  return Secret(std::move(line));
}

void RegisterKeeperDestinations(destinations::DestinationOptions& options, std::FILE* out) {
  options.extra_kinds[kWriterKind] =
      [](std::string_view spec, std::string_view rest,
         const destinations::DestinationOptions& o) -> Result<std::unique_ptr<Destination>> {
    Result<std::vector<std::string>> argv = SplitCommandLine(rest);
    if (!argv.ok())
      return Status::InvalidArgument("record writer '" + std::string(rest) + "': " + argv.status().message());
    if (argv->empty()) return Status::InvalidArgument("record writer: no program named");
    return std::unique_ptr<Destination>(
        std::make_unique<KeeperDestination>(std::string(spec), std::move(argv).value(), o, nullptr));
  };
  options.extra_kinds[kStdoutKind] =
      [out](std::string_view spec, std::string_view,
            const destinations::DestinationOptions& o) -> Result<std::unique_ptr<Destination>> {
    return std::unique_ptr<Destination>(
        std::make_unique<KeeperDestination>(std::string(spec), std::vector<std::string>{}, o, out));
  };
}

}  // namespace keyrotor::keeper
