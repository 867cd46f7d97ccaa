// The loopback server's HTTP/1.1 request parser (net/http_parser.h) and, behind
// it, the sandbox (sandbox/sandbox.h: routing, form and JSON parameters, SigV4
// checks, the services, error rendering).
//
// Input: byte 0 holds flags (small limits, re-sign for the sandbox), bytes 1-2
// two split points; the rest is the byte stream of one connection.
// Properties:
//  - the parser is a pure function of the bytes, not of how they arrive: fed
//    whole, or in three pieces split anywhere, it yields the same requests
//    and the same error;
//  - kNeedMore absorbs all its input, consumed never exceeds the input, an
//    error is one of the documented statuses, a request has a Host, an
//    "http://" URL, header names that are tokens and values without CR/LF/NUL,
//    and a body within the limit;
//  - every parsed request given to Sandbox::Handle gets an HTTP answer
//    (status 200..599) and no exception escapes it. With the re-sign flag the
//    request is first signed with an admin's key, so the services' own
//    parameter parsing runs instead of stopping at authentication.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sigv4.h"
#include "base/clock.h"
#include "fuzz_check.h"
#include "net/http_parser.h"
#include "sandbox/sandbox.h"

namespace {

using keyrotor::net::ParsedRequest;
using keyrotor::net::ParserLimits;
using keyrotor::net::RequestParser;
using State = RequestParser::State;

struct Outcome {
  std::vector<ParsedRequest> requests;
  int error_status = 0;
};

bool ValidStatus(int s) { return s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505; }

Outcome FeedPieces(const std::vector<std::string_view>& pieces, ParserLimits limits) {
  RequestParser parser(limits);
  Outcome out;
  for (std::string_view piece : pieces) {
    while (true) {
      RequestParser::FeedResult fed = parser.Feed(piece);
      FUZZ_CHECK(fed.consumed <= piece.size());
      if (fed.state == State::kError) {
        FUZZ_CHECK(ValidStatus(fed.error_status));
        FUZZ_CHECK(!fed.error.empty());
        out.error_status = fed.error_status;
        return out;
      }
      piece.remove_prefix(fed.consumed);
      if (fed.state == State::kNeedMore) {
        FUZZ_CHECK(piece.empty());
        break;
      }
      out.requests.push_back(parser.TakeRequest());
      if (piece.empty()) break;
    }
  }
  return out;
}

std::string Describe(const Outcome& outcome) {
  std::string s;
  for (const ParsedRequest& p : outcome.requests) {
    s += p.request.method + " " + p.request.url + (p.keep_alive ? " keep-alive" : " close") +
         (p.expect_continue ? " expect-continue" : "") + "\n";
    for (const auto& [name, value] : p.request.headers) s += name + "=[" + value + "]\n";
    s += "body=[" + p.request.body + "]\n";
  }
  return s + "error " + std::to_string(outcome.error_status) + "\n";
}

void CheckRequest(const ParsedRequest& p, const ParserLimits& limits) {
  const keyrotor::aws::HttpRequest& r = p.request;
  FUZZ_CHECK(!r.method.empty());
  FUZZ_CHECK(r.url.rfind("http://", 0) == 0);
  FUZZ_CHECK(keyrotor::aws::FindHeader(r.headers, "host") != nullptr);
  FUZZ_CHECK(r.body.size() <= limits.max_body);
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(name.find_first_of(std::string_view(" \t\r\n:\0", 6)) == std::string::npos);
    FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
  }
}

void Sandbox(const std::vector<ParsedRequest>& requests, bool resign) {
  keyrotor::FakeClock clock(keyrotor::TimePoint{} + std::chrono::hours(24 * 365 * 56));
  keyrotor::sandbox::SandboxOptions options;
  options.clock = &clock;
  options.seed = 1;
  keyrotor::sandbox::Sandbox sandbox(options);
  keyrotor::sandbox::Sandbox::IssuedKey admin = sandbox.CreateAdmin("admin");
  keyrotor::aws::Credentials credentials;
  credentials.access_key_id = admin.access_key_id;
  credentials.secret_access_key = admin.secret.Clone();
  for (const ParsedRequest& p : requests) {
    keyrotor::aws::HttpRequest request = p.request;
    if (resign) {
      std::erase_if(request.headers, [](const auto& h) {
        std::string_view n = h.first;
        auto is = [&](std::string_view want) {
          return n.size() == want.size() && std::equal(n.begin(), n.end(), want.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == b;
                 });
        };
        return is("authorization") || is("x-amz-date") || is("x-amz-security-token");
      });
      // The sandbox accepts any region; the service comes from the routing.
      std::string service = "iam";
      if (const std::string* target = keyrotor::aws::FindHeader(request.headers, "x-amz-target")) {
        service = target->rfind("AmazonSSM", 0) == 0 ? "ssm" : "secretsmanager";
      } else if (request.body.find("Version=2011-06-15") != std::string::npos) {
        service = "sts";
      } else if (request.body.find("Version=2010-03-31") != std::string::npos) {
        service = "sns";
      }
      if (!keyrotor::aws::SignRequest(request, credentials, {"us-east-1", service}, clock.Now()).ok()) continue;
    }
    keyrotor::net::ResponseControl control;
    keyrotor::aws::HttpResponse response = sandbox.Handle(request, control);
    FUZZ_CHECK(control.reset_connection || (response.status >= 200 && response.status <= 599));
  }
}

void Run(std::string_view data) {
  if (data.size() < 3) return;
  const auto flags = static_cast<unsigned char>(data[0]);
  ParserLimits limits;
  if (flags & 1) limits = {256, 64};
  std::string_view stream = data.substr(3);
  size_t a = static_cast<unsigned char>(data[1]) * stream.size() / 256;
  size_t b = static_cast<unsigned char>(data[2]) * stream.size() / 256;
  if (a > b) std::swap(a, b);

  Outcome whole = FeedPieces({stream}, limits);
  Outcome split = FeedPieces({stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}, limits);
  FUZZ_CHECK(Describe(whole) == Describe(split));
  for (const ParsedRequest& p : whole.requests) CheckRequest(p, limits);

  if ((flags & 2) && !whole.requests.empty()) Sandbox(whole.requests, (flags & 4) != 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
