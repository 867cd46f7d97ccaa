// A small HTTP/1.1 server for loopback use: the sandbox endpoint and the fake
// IMDS, container-credentials and webhook servers in tests.
//
// Design: one accept thread and one thread per connection with blocking
// sockets. A connection's thread reads, parses (net/http_parser.h), calls the
// handler and writes, in order, so keep-alive and pipelining need no extra
// machinery, and a handler that sleeps or blocks holds up only its own
// connection. Threads are cheap at the scale this serves (hundreds to a few
// thousand connections on 2 cores); an event loop would buy nothing here but
// timers for `delay` and a pool that a blocking handler could starve.
//
// Responses carry a status line, Content-Length, Date, Connection and the
// handler's headers (its own Content-Length, Transfer-Encoding and Connection
// are replaced by the server's; its Date is kept). Bodies are never chunked.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "aws/http.h"
#include "base/status.h"

namespace keyrotor::net {

// Set by the handler to inject faults into the answer to this request.
struct ResponseControl {
  std::chrono::milliseconds delay{0};  // sleep before writing the response
  bool reset_connection = false;       // instead of answering: close so the peer sees a TCP RST
  bool close_after = false;            // answer, then close
};

// Called on the connection's own thread; may block. An exception becomes a 500.
using Handler = std::function<aws::HttpResponse(const aws::HttpRequest&, ResponseControl&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = pick a free port
  size_t max_connections = 4096;
  std::chrono::milliseconds idle_timeout{60000};  // also bounds a stalled read or write mid-request
  size_t max_body = 8u << 20;
  size_t max_header_bytes = 64u << 10;
  // This is a test server: binding anything but loopback must be asked for.
  bool allow_non_loopback = false;
};

class HttpServer {
 public:
  // Bound and listening when it returns.
  static Result<std::unique_ptr<HttpServer>> Start(ServerOptions options, Handler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // Stop()

  int port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:PORT" ("http://[::1]:PORT" for IPv6)

  // Idempotent and safe from any thread but a handler's. Closes the listener
  // and every connection, cuts short any `delay`, and joins all threads; a
  // handler that is running is waited for.
  void Stop();

  // Requests handed to the handler so far (counted before the response is
  // written, so a client that has its answer sees the count include it).
  uint64_t requests_served() const { return requests_served_.load(std::memory_order_relaxed); }
  // TCP connections accepted so far (tests use it to check keep-alive reuse).
  uint64_t connections_accepted() const { return connections_accepted_.load(std::memory_order_relaxed); }

 private:
  struct Connection {
    int fd = -1;  // -1 once its thread has closed it
    std::thread thread;
    bool finished = false;
  };

  HttpServer(ServerOptions options, Handler handler);
  Status Listen();
  void AcceptLoop();
  void ServeConnection(Connection* conn);
  // Joins the threads of connections that have ended.
  void ReapFinished();
  // Closes conn's socket under conns_mu_, so Stop() never shuts down an fd
  // number that has been reused. With reset, the peer gets an RST.
  void CloseConnection(Connection* conn, bool reset);
  // Sleeps up to d; returns false if Stop() cut it short.
  bool SleepUnlessStopped(std::chrono::milliseconds d);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  const ServerOptions options_;
  const Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by Stop() to end the accept loop's poll
  int port_ = 0;
  std::string endpoint_host_;
  std::thread accept_thread_;

  std::atomic<bool> stopping_{false};
  std::mutex stop_call_mu_;  // serializes Stop() calls
  bool stopped_ = false;

  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;

  std::mutex conns_mu_;
  std::list<Connection> conns_;
  size_t live_connections_ = 0;

  std::atomic<uint64_t> requests_served_{0};
  std::atomic<uint64_t> connections_accepted_{0};
};

}  // namespace keyrotor::net
