#include "net/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <string_view>
#include <utility>

#include "base/secret.h"
#include "base/strings.h"
#include "net/http_parser.h"

namespace keyrotor::net {
namespace {

// One read's worth; a request larger than this is gathered by the parser.
constexpr size_t kReadBufferSize = 16u << 10;

// After a response with "Connection: close" the server stops writing but keeps
// reading for a while: closing a socket with unread input makes the kernel send
// an RST, which can destroy the response before the client has read it (the
// 413 to a client still sending its body is the usual case).
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr size_t kLingerMaxBytes = 16u << 20;

struct StatusReason {
  int status;
  std::string_view reason;
};

// RFC 9110 §15 (and RFC 6585 for 428, 429, 431, 511).
constexpr StatusReason kReasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
    {511, "Network Authentication Required"},
};

std::string_view ReasonPhrase(int status) {
  for (const StatusReason& r : kReasons) {
    if (r.status == status) return r.reason;
  }
  return "Unknown";
}

// IMF-fixdate (RFC 9110 §5.6.7), recomputed at most once a second per thread.
std::string_view HttpDate() {
  thread_local time_t cached_second = -1;
  thread_local char text[40];
  time_t now = std::time(nullptr);
  if (now != cached_second) {
    tm utc{};
    gmtime_r(&now, &utc);
    strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached_second = now;
  }
  return text;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Writes all of iov[0..count), resuming after partial writes. MSG_NOSIGNAL:
// a peer that has gone away must cost an error return, not the process.
bool SendAll(int fd, iovec* iov, int count) {
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

bool SendAll(int fd, std::string_view data) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  return SendAll(fd, &iov, 1);
}

aws::HttpResponse PlainResponse(int status, std::string_view body) {
  aws::HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.body.assign(body).push_back('\n');
  return response;
}

// Writes one response. The server owns the framing headers: Content-Length
// and Connection always reflect what it actually does.
bool WriteResponse(int fd, const aws::HttpResponse& original, bool head_request, bool keep_alive) {
  const aws::HttpResponse* response = &original;
  aws::HttpResponse replacement;
  bool valid = original.status >= 200 && original.status <= 599;
  for (const auto& [name, value] : original.headers) {
    if (!valid) break;
    valid = !name.empty() && !HasLineBreak(name) && !HasLineBreak(value);
  }
  if (!valid) {
    replacement = PlainResponse(500, "handler returned an invalid status or header");
    response = &replacement;
  }

  const int status = response->status;
  const bool no_body = status == 204 || status == 304;
  std::string head;
  head.reserve(256);
  head.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(ReasonPhrase(status)).append("\r\n");
  if (!aws::FindHeader(response->headers, "date")) head.append("Date: ").append(HttpDate()).append("\r\n");
  if (!no_body) head.append("Content-Length: ").append(std::to_string(response->body.size())).append("\r\n");
  head.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  for (const auto& [name, value] : response->headers) {
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
        EqualsIgnoreCase(name, "connection")) {
      continue;
    }
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head.append("\r\n");

  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(response->body.data()), response->body.size()}};
  return SendAll(fd, iov, head_request || no_body || response->body.empty() ? 1 : 2);
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Half-closes, then reads and drops what the client still sends, until it
// closes too or kLingerTime has passed (see kLingerTime).
void LingerBeforeClose(int fd) {
  if (shutdown(fd, SHUT_WR) != 0) return;
  SetTimeouts(fd, std::chrono::milliseconds(250));
  const auto deadline = std::chrono::steady_clock::now() + kLingerTime;
  char sink[4096];
  size_t drained = 0;
  while (drained < kLingerMaxBytes && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
}

bool IsLoopback(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (addr->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

std::string ErrnoText(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

HttpServer::HttpServer(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options, Handler handler) {
  if (!handler) return Status::InvalidArgument("HttpServer needs a handler");
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(handler)));
  KR_RETURN_IF_ERROR(server->Listen());
  try {
    server->accept_thread_ = std::thread(&HttpServer::AcceptLoop, server.get());
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("cannot start the accept thread: ") + e.what());
  }
  return server;
}

Status HttpServer::Listen() {
  if (options_.port < 0 || options_.port > 65535) {
    return Status::InvalidArgument("port " + std::to_string(options_.port) + " is out of range");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument("cannot resolve '" + options_.host + "': " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  const addrinfo* ai = addresses.get();
  if (!options_.allow_non_loopback && !IsLoopback(ai->ai_addr)) {
    return Status::InvalidArgument("refusing to listen on non-loopback host '" + options_.host +
                                   "' (set allow_non_loopback to mean it)");
  }

  listen_fd_ = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Status::NetworkError(ErrnoText("socket"));
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd_, ai->ai_addr, ai->ai_addrlen) != 0) {
    return Status::NetworkError(ErrnoText("bind " + options_.host + ":" + port_text));
  }
  if (listen(listen_fd_, SOMAXCONN) != 0) return Status::NetworkError(ErrnoText("listen"));

  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return Status::NetworkError(ErrnoText("getsockname"));
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (bound.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&bound);
    port_ = ntohs(v6->sin6_port);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    endpoint_host_ = std::string("[") + text + "]";
  } else {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&bound);
    port_ = ntohs(v4->sin_port);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    endpoint_host_ = text;
  }

  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return Status::Internal(ErrnoText("pipe2"));
  return Status::Ok();
}

std::string HttpServer::endpoint() const { return "http://" + endpoint_host_ + ":" + std::to_string(port_); }

void HttpServer::Stop() {
  std::lock_guard<std::mutex> call_lock(stop_call_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    stopping_.store(true, std::memory_order_release);
  }
  sleep_cv_.notify_all();
  if (wake_pipe_[1] >= 0) {
    char byte = 0;
    [[maybe_unused]] ssize_t n = write(wake_pipe_[1], &byte, 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;

  // No connection can be added now. Shutting a socket down wakes its thread
  // from recv() or send(); the thread then closes it and ends.
  std::list<Connection> connections;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    for (Connection& conn : conns_) {
      if (conn.fd >= 0) shutdown(conn.fd, SHUT_RDWR);
    }
    connections.splice(connections.end(), conns_);
  }
  for (Connection& conn : connections) {
    if (conn.thread.joinable()) conn.thread.join();
  }
  for (int& fd : wake_pipe_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

void HttpServer::AcceptLoop() {
  while (!stopping()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    ReapFinished();
    while (!stopping()) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // Out of descriptors or memory: back off instead of spinning on poll.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          SleepUnlessStopped(std::chrono::milliseconds(50));
        }
        break;  // EAGAIN: the backlog is empty
      }
      connections_accepted_.fetch_add(1, std::memory_order_relaxed);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
      setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
      if (options_.idle_timeout.count() > 0) SetTimeouts(fd, options_.idle_timeout);

      std::lock_guard<std::mutex> lock(conns_mu_);
      if (live_connections_ >= options_.max_connections) {
        SendAll(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        close(fd);
        continue;
      }
      Connection& conn = conns_.emplace_back();
      conn.fd = fd;
      try {
        conn.thread = std::thread(&HttpServer::ServeConnection, this, &conn);
        ++live_connections_;
      } catch (const std::system_error&) {
        close(fd);
        conns_.pop_back();
      }
    }
  }
}

void HttpServer::ReapFinished() {
  std::list<Connection> finished;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      auto next = std::next(it);
      if (it->finished) finished.splice(finished.end(), conns_, it);
      it = next;
    }
  }
  for (Connection& conn : finished) conn.thread.join();
}

bool HttpServer::SleepUnlessStopped(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(sleep_mu_);
  return !sleep_cv_.wait_for(lock, d, [this] { return stopping(); });
}

void HttpServer::CloseConnection(Connection* conn, bool reset) {
  std::lock_guard<std::mutex> lock(conns_mu_);
  if (reset) {
    linger hard{1, 0};  // close() then discards unsent data and sends an RST
    setsockopt(conn->fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  close(conn->fd);
  conn->fd = -1;
  conn->finished = true;
  --live_connections_;
}

void HttpServer::ServeConnection(Connection* conn) {
  // conn->fd changes only in CloseConnection, on this thread.
  const int fd = conn->fd;
  RequestParser parser(ParserLimits{options_.max_header_bytes, options_.max_body});
  // Requests may carry secrets (PutSecretValue); the buffer is wiped at the end.
  std::string buffer(kReadBufferSize, '\0');
  size_t begin = 0, end = 0;
  bool sent_continue = false;
  bool reset = false;
  bool linger = false;

  while (true) {
    if (begin == end) {
      ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the client closed, idled out or reset, or Stop()
      begin = 0;
      end = static_cast<size_t>(n);
    }
    RequestParser::FeedResult fed = parser.Feed(std::string_view(buffer.data() + begin, end - begin));
    begin += fed.consumed;

    if (fed.state == RequestParser::State::kNeedMore) {
      if (!sent_continue && parser.headers_complete() && parser.expect_continue()) {
        if (!SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) break;
        sent_continue = true;
      }
      continue;
    }
    if (fed.state == RequestParser::State::kError) {
      WriteResponse(fd, PlainResponse(fed.error_status, fed.error), false, false);
      linger = true;
      break;
    }

    ParsedRequest parsed = parser.TakeRequest();
    sent_continue = false;
    ResponseControl control;
    aws::HttpResponse response;
    try {
      response = handler_(parsed.request, control);
    } catch (const std::exception& e) {
      control = ResponseControl{};
      response = PlainResponse(500, std::string("handler failed: ") + std::string(e.what()).substr(0, 200));
    } catch (...) {
      control = ResponseControl{};
      response = PlainResponse(500, "handler failed");
    }
    requests_served_.fetch_add(1, std::memory_order_relaxed);

    if (control.delay.count() > 0 && !SleepUnlessStopped(control.delay)) break;
    if (control.reset_connection) {
      reset = true;
      break;
    }
    const bool keep_alive = parsed.keep_alive && !control.close_after && !stopping();
    if (!WriteResponse(fd, response, parsed.request.method == "HEAD", keep_alive)) break;
    if (!keep_alive) {
      linger = true;
      break;
    }
  }

  if (linger) LingerBeforeClose(fd);
  WipeString(buffer);
  CloseConnection(conn, reset);
}

}  // namespace keyrotor::net
