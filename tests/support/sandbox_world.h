// A whole AWS for engine tests, in one process and one thread: the sandbox
// answering through a transport that calls Sandbox::Handle directly, a fake
// clock shared by the sandbox and the clients (days pass instantly; every
// sleep of a retry or a propagation wait just moves time on), an admin key,
// and a journal in a temp directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "aws/clients.h"
#include "base/clock.h"
#include "engine/sqlite_journal.h"
#include "sandbox/sandbox.h"
#include "support/process.h"

namespace keyrotor::testing {

// Hands requests straight to a Sandbox; an injected reset becomes the
// transport's "sent, no answer" status, as the curl transport reports it.
class SandboxTransport : public aws::HttpTransport {
 public:
  explicit SandboxTransport(sandbox::Sandbox* sandbox) : sandbox_(sandbox) {}
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions&) override {
    net::ResponseControl control;
    aws::HttpResponse response = sandbox_->Handle(request, control);
    if (control.reset_connection) return Status::UnknownOutcome("connection reset by peer (injected)");
    return response;
  }

 private:
  sandbox::Sandbox* sandbox_;
};

struct SandboxWorld {
  explicit SandboxWorld(sandbox::SandboxOptions options = {})
      : clock(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1)) {
    options.clock = &clock;
    sandbox = std::make_unique<sandbox::Sandbox>(options);
    transport = std::make_unique<SandboxTransport>(sandbox.get());
    admin = sandbox->CreateAdmin("admin");
    dir = MakeTempDir("keyrotor-engine");
    journal = std::move(engine::OpenSqliteJournal(dir + "/journal.db")).value();
  }
  ~SandboxWorld() {
    journal.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Clients signing with `id`/`secret` (the admin's key by default).
  aws::ClientFactory Clients(const std::string& id = "", const Secret& secret = Secret()) {
    aws::ClientContext ctx;
    ctx.transport = transport.get();
    ctx.clock = &clock;
    ctx.retry.max_attempts = 5;
    ctx.retry.base_backoff = Duration(20);
    ctx.credentials = std::make_shared<aws::StaticCredentialsProvider>(aws::Credentials{
        id.empty() ? admin.access_key_id : id, (id.empty() ? admin.secret : secret).Clone(), Secret(), std::nullopt,
        "test"});
    aws::EndpointSettings endpoints;
    endpoints.explicit_url = "http://127.0.0.1:4566/";
    return aws::ClientFactory(ctx, "us-east-1", endpoints, {});
  }

  // A user with one key created `age` ago.
  sandbox::Sandbox::IssuedKey UserWithKey(const std::string& user, Duration age) {
    return std::move(sandbox->CreateUserWithKey(user, clock.Now() - age)).value();
  }

  // Whether STS accepts this key now.
  bool KeyWorks(const std::string& id, const Secret& secret) {
    auto sts = Clients(id, secret).Sts();
    return sts.ok() && sts->GetCallerIdentity().ok();
  }

  FakeClock clock;
  std::unique_ptr<sandbox::Sandbox> sandbox;
  std::unique_ptr<SandboxTransport> transport;
  sandbox::Sandbox::IssuedKey admin;
  std::string dir;
  std::unique_ptr<engine::Journal> journal;
};

}  // namespace keyrotor::testing
