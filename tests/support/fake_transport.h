// A scripted HttpTransport for unit tests: each Send() pops the next canned
// answer (a response or a Status) and records the request it was given.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "aws/http.h"

namespace keyrotor::testing {

class FakeTransport : public aws::HttpTransport {
 public:
  void Push(int status, std::string body, aws::HeaderList headers = {}) {
    aws::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    answers_.emplace_back(std::move(r));
  }
  void PushError(Status s) { answers_.emplace_back(std::move(s)); }

  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions&) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    if (answers_.empty()) return Status::Internal("FakeTransport: no answer scripted");
    Result<aws::HttpResponse> next = std::move(answers_.front());
    answers_.pop_front();
    return next;
  }

  const std::vector<aws::HttpRequest>& requests() const { return requests_; }
  size_t remaining() const { return answers_.size(); }

 private:
  std::mutex mu_;
  std::deque<Result<aws::HttpResponse>> answers_;
  std::vector<aws::HttpRequest> requests_;
};

}  // namespace keyrotor::testing
