// A minimal HTTPS server for tests of TLS verification and CA bundles: a
// self-signed certificate for 127.0.0.1/localhost generated at start, one
// thread, one canned 200 answer per request.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace keyrotor::testing {

class TlsServer {
 public:
  // Writes the certificate (PEM) to `cert_path` for use as a CA bundle.
  static std::unique_ptr<TlsServer> Start(const std::string& cert_path);
  ~TlsServer();
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }
  int handshakes_completed() const { return handshakes_.load(); }

 private:
  void Loop();

  int listen_fd_ = -1;
  int port_ = 0;
  void* ctx_ = nullptr;  // SSL_CTX*
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

}  // namespace keyrotor::testing
