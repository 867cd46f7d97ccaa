#include "notify/exec_notifier.h"

#include "base/subprocess.h"

namespace keyrotor::notify {
namespace {

class ExecNotifier : public Notifier {
 public:
  ExecNotifier(std::string command, std::vector<std::string> argv, const NotifierOptions& options)
      : spec_("exec:" + std::move(command)),
        argv_(std::move(argv)),
        timeout_(options.exec_timeout),
        // Stripped by the caller already; again here so this class is safe alone.
        env_(ChildEnvironment(options.exec_env)) {}

  std::string Describe() const override { return spec_; }

  Status Notify(const Event& event) override {
    // Events carry no secret; Secret is simply RunSubprocess's stdin type.
    Result<SubprocessResult> run = RunSubprocess(argv_, Secret(EventToJson(event).dump() + "\n"), env_, timeout_);
    if (!run.ok()) return run.status().WithContext(spec_);
    return SubprocessStatus(spec_, *run, timeout_);
  }

 private:
  const std::string spec_;
  const std::vector<std::string> argv_;
  const Duration timeout_;
  const EnvMap env_;
};

}  // namespace

Result<std::unique_ptr<Notifier>> MakeExecNotifier(std::string_view command, const NotifierOptions& options) {
  KR_ASSIGN_OR_RETURN(std::vector<std::string> argv, SplitCommandLine(command));
  if (argv.empty()) return Status::InvalidArgument("--notify exec: needs a program (exec:PROGRAM [ARGS...])");
  if (Result<std::string> exe = FindExecutable(argv.front(), options.exec_env); !exe.ok()) {
    return Status::InvalidArgument("--notify 'exec:" + std::string(command) + "': " + exe.status().message());
  }
  return std::unique_ptr<Notifier>(std::make_unique<ExecNotifier>(std::string(command), std::move(argv), options));
}

}  // namespace keyrotor::notify
