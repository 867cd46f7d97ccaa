// A fake AWS Lambda Runtime API on loopback, for the `keyrotor lambda` tests
// and the Lambda package's proof (tests/integration/package_test.cc).
// Paths, headers and status codes follow the Runtime API reference
// (docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): GET
// /2018-06-01/runtime/invocation/next hands out an event with
// Lambda-Runtime-Aws-Request-Id, -Deadline-Ms and -Invoked-Function-Arn; the
// runtime POSTs .../invocation/ID/response or /error (202 Accepted), or
// /runtime/init/error.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aws/http.h"
#include "net/http_server.h"

namespace keyrotor::testing {

// Hands out queued events on /next and records what the runtime posts back.
class FakeRuntimeApi {
 public:
  FakeRuntimeApi() {
    auto server = net::HttpServer::Start({}, [this](const aws::HttpRequest& r, net::ResponseControl&) {
      return Handle(r);
    });
    EXPECT_TRUE(server.ok());
    server_ = std::move(server).value();
  }
  // `deadline_ms`: Lambda-Runtime-Deadline-Ms, epoch milliseconds (default: far away).
  void Queue(std::string id, std::string event, std::string deadline_ms = "4102444800000") {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back({std::move(id), std::move(event), std::move(deadline_ms)});
  }
  std::string api() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  struct Posted {
    std::string path;
    std::string body;
    std::string error_type_header;
  };
  std::vector<Posted> posted() {
    std::lock_guard<std::mutex> lock(mu_);
    return posted_;
  }

 private:
  aws::HttpResponse Handle(const aws::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    aws::HttpResponse response;
    // The server hands over the absolute URL; keep the path.
    size_t host_end = r.url.find("://") == std::string::npos ? 0 : r.url.find('/', r.url.find("://") + 3);
    const std::string path = r.url.substr(host_end == std::string::npos ? r.url.size() : host_end);
    if (r.method == "GET" && path.find("/2018-06-01/runtime/invocation/next") != std::string::npos) {
      if (events_.empty()) {
        response.status = 500;  // the test is over
        return response;
      }
      auto [id, body, deadline] = events_.front();
      events_.pop_front();
      response.status = 200;
      response.headers = {{"Lambda-Runtime-Aws-Request-Id", id},
                          {"Lambda-Runtime-Deadline-Ms", deadline},
                          {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:kr"}};
      response.body = body;
      return response;
    }
    const std::string* type = aws::FindHeader(r.headers, "Lambda-Runtime-Function-Error-Type");
    posted_.push_back({path, r.body, type ? *type : ""});
    response.status = 202;
    return response;
  }

  std::mutex mu_;
  struct Event {
    std::string id, body, deadline_ms;
  };
  std::deque<Event> events_;
  std::vector<Posted> posted_;
  std::unique_ptr<net::HttpServer> server_;
};

}  // namespace keyrotor::testing
