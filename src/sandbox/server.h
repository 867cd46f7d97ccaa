// The sandbox behind a real loopback HTTP server: what `keyrotor sandbox`,
// the demo, the integration tests and the benchmarks start.
#pragma once

#include <memory>
#include <string>

#include "net/http_server.h"
#include "sandbox/sandbox.h"

namespace keyrotor::sandbox {

class SandboxServer {
 public:
  // host:port, port 0 picks a free one.
  static Result<std::unique_ptr<SandboxServer>> Start(SandboxOptions options, const std::string& host = "127.0.0.1",
                                                      int port = 0);
  Sandbox& sandbox() { return *sandbox_; }
  std::string endpoint() const { return server_->endpoint(); }
  int port() const { return server_->port(); }
  void Stop() { server_->Stop(); }

 private:
  std::unique_ptr<Sandbox> sandbox_;
  std::unique_ptr<net::HttpServer> server_;
};

}  // namespace keyrotor::sandbox
