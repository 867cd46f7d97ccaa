#include "destinations/exec_destination.h"

#include <nlohmann/json.hpp>

#include "base/subprocess.h"

namespace keyrotor::destinations {
namespace {

class ExecDestination : public Destination {
 public:
  ExecDestination(std::string spec, std::vector<std::string> argv, const DestinationOptions& options)
      : spec_(std::move(spec)),
        argv_(std::move(argv)),
        timeout_(options.exec_timeout),
        // The caller strips the environment already; doing it again is cheap
        // and keeps this class safe on its own.
        env_(ChildEnvironment(options.exec_env)),
        spawner_(options.spawner) {}

  std::string Describe() const override { return spec_; }

  // The program owns its own state: there is nothing we could read back.
  Result<Secret> Snapshot(const KeyHandoff&) override { return Secret(); }

  Status Put(const KeyHandoff& key) override {
    nlohmann::json doc = Document("rotate", key);
    doc["secret_access_key"] = key.secret_access_key.reveal();
    return Send(doc, key);
  }

  Status Restore(const KeyHandoff& key, const Secret&) override {
    nlohmann::json doc = Document("rollback", key);
    doc["abandoned_access_key_id"] = key.access_key_id;
    Status sent = Send(doc, key);
    // A program that exits non-zero could not revert. To the engine a
    // restore's FailedPrecondition means "superseded, not ours to take back"
    // (Destination::Restore), which this is not: the destination may still
    // hold the abandoned key.
    if (sent.code() == StatusCode::kFailedPrecondition) return Status::Internal(sent.message());
    return sent;
  }

 private:
  static nlohmann::json Document(const char* event, const KeyHandoff& key) {
    return {{"event", event},
            {"rotation_id", key.rotation_id},
            {"account", key.account},
            {"user", key.user},
            {"access_key_id", key.access_key_id},
            {"created", FormatIso8601(key.created)},
            {"previous_access_key_id", key.previous_access_key_id}};
  }

  // Writes `doc` to the program's stdin; the secret never reaches argv or
  // the environment, and is wiped from every copy we made of it.
  Status Send(nlohmann::json& doc, const KeyHandoff& key) {
    std::string dumped = doc.dump();
    std::string line;
    line.reserve(dumped.size() + 1);  // no reallocation may leave an unwiped copy behind
    line.append(dumped).push_back('\n');
    WipeString(dumped);
    Secret input(std::move(line));
    if (auto it = doc.find("secret_access_key"); it != doc.end()) WipeString(it->get_ref<std::string&>());
    return SendToProgram(spec_, argv_, input, env_, timeout_, {&key.secret_access_key}, spawner_);
  }

  const std::string spec_;
  const std::vector<std::string> argv_;
  const Duration timeout_;
  const EnvMap env_;
  Spawner* const spawner_;
};

}  // namespace

Status SendToProgram(std::string_view what, const std::vector<std::string>& argv, const Secret& input,
                     const EnvMap& env, Duration timeout, const std::vector<const Secret*>& secrets,
                     Spawner* spawner) {
  SubprocessOptions options;
  options.spawner = spawner;
  Result<SubprocessResult> run = RunSubprocess(argv, input, env, timeout, options);
  if (!run.ok()) return run.status().WithContext(what);
  // What it printed on stdout is never quoted (it may echo the document);
  // stderr is, redacted, because that is where a failing program says why.
  WipeString(run->out);
  Status status = SubprocessStatus(what, *run, timeout, secrets);
  WipeString(run->err);
  return status;
}

std::unique_ptr<Destination> MakeExecDestination(std::string spec, std::vector<std::string> argv,
                                                 const DestinationOptions& options) {
  return std::make_unique<ExecDestination>(std::move(spec), std::move(argv), options);
}

}  // namespace keyrotor::destinations
