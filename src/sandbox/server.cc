#include "sandbox/server.h"

namespace keyrotor::sandbox {

Result<std::unique_ptr<SandboxServer>> SandboxServer::Start(SandboxOptions options, const std::string& host, int port) {
  auto out = std::unique_ptr<SandboxServer>(new SandboxServer());
  out->sandbox_ = std::make_unique<Sandbox>(std::move(options));
  net::ServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  Sandbox* sandbox = out->sandbox_.get();
  KR_ASSIGN_OR_RETURN(out->server_, net::HttpServer::Start(server_options, [sandbox](const aws::HttpRequest& request,
                                                                                     net::ResponseControl& control) {
                        return sandbox->Handle(request, control);
                      }));
  return out;
}

}  // namespace keyrotor::sandbox
