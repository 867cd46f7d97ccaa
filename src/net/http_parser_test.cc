#include "net/http_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keyrotor::net {
namespace {

using namespace std::string_literals;
using State = RequestParser::State;

struct Outcome {
  std::vector<ParsedRequest> requests;
  int error_status = 0;
};

// Feeds the pieces in order the way the server does: leftover bytes after a
// complete request go to the next one.
Outcome FeedPieces(const std::vector<std::string_view>& pieces, ParserLimits limits = {}) {
  RequestParser parser(limits);
  Outcome out;
  for (std::string_view piece : pieces) {
    while (true) {
      RequestParser::FeedResult fed = parser.Feed(piece);
      if (fed.state == State::kError) {
        out.error_status = fed.error_status;
        return out;
      }
      EXPECT_LE(fed.consumed, piece.size());
      piece.remove_prefix(fed.consumed);
      if (fed.state == State::kNeedMore) {
        EXPECT_TRUE(piece.empty()) << "kNeedMore must absorb all input";
        break;
      }
      out.requests.push_back(parser.TakeRequest());
      if (piece.empty()) break;
    }
  }
  return out;
}

Outcome RunWhole(std::string_view input, ParserLimits limits = {}) { return FeedPieces({input}, limits); }

// A canonical text form, so outcomes of different splits compare as strings.
std::string Describe(const Outcome& outcome) {
  std::string s;
  for (const ParsedRequest& p : outcome.requests) {
    s += p.request.method + " " + p.request.url + (p.keep_alive ? " keep-alive" : " close") +
         (p.expect_continue ? " expect-continue" : "") + "\n";
    for (const auto& [name, value] : p.request.headers) s += name + "=[" + value + "]\n";
    s += "body=[" + p.request.body + "]\n";
  }
  if (outcome.error_status != 0) s += "error " + std::to_string(outcome.error_status) + "\n";
  return s;
}

TEST(HttpParserTest, ParsesSimpleGet) {
  Outcome out = RunWhole(
      "GET /path/a%2Fb?x=%20y&z HTTP/1.1\r\n"
      "Host: 127.0.0.1:8080\r\n"
      "X-Amz-Date:   20150830T123600Z  \r\n"
      "x-lower:\tv\r\n"
      "X-Empty:\r\n"
      "\r\n");
  ASSERT_EQ(out.error_status, 0);
  ASSERT_EQ(out.requests.size(), 1u);
  const ParsedRequest& p = out.requests[0];
  EXPECT_EQ(p.request.method, "GET");
  // The target is kept byte for byte: the SigV4 verifier canonicalizes it.
  EXPECT_EQ(p.request.url, "http://127.0.0.1:8080/path/a%2Fb?x=%20y&z");
  aws::HeaderList expected = {
      {"Host", "127.0.0.1:8080"}, {"X-Amz-Date", "20150830T123600Z"}, {"x-lower", "v"}, {"X-Empty", ""}};
  EXPECT_EQ(p.request.headers, expected);
  EXPECT_EQ(p.request.body, "");
  EXPECT_TRUE(p.keep_alive);
  EXPECT_FALSE(p.expect_continue);
}

TEST(HttpParserTest, ParsesContentLengthBody) {
  Outcome out = RunWhole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].request.method, "POST");
  EXPECT_EQ(out.requests[0].request.body, "hello world");
}

TEST(HttpParserTest, ParsesChunkedBodyWithExtensionsAndTrailers) {
  Outcome out = RunWhole(
      "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "1;name=value\r\n \r\n"
      "00000A  ; ext\r\n0123456789\r\n"
      "0\r\nX-Trailer: t\r\n\r\n");
  ASSERT_EQ(out.error_status, 0);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].request.body, "hello 0123456789");
  // Trailers are dropped, not merged into the headers.
  EXPECT_EQ(aws::FindHeader(out.requests[0].request.headers, "x-trailer"), nullptr);
}

TEST(HttpParserTest, ChunkedTransferEncodingIsCaseInsensitive) {
  Outcome out = RunWhole("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].request.body, "abc");
}

TEST(HttpParserTest, PipelinedRequestsReportWhereEachEnds) {
  const std::string first = "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string third = "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n";
  const std::string all = first + second + third;

  RequestParser parser;
  RequestParser::FeedResult fed = parser.Feed(all);
  ASSERT_EQ(fed.state, State::kComplete);
  EXPECT_EQ(fed.consumed, first.size());
  EXPECT_EQ(parser.TakeRequest().request.url, "http://h/1");
  fed = parser.Feed(std::string_view(all).substr(first.size()));
  ASSERT_EQ(fed.state, State::kComplete);
  EXPECT_EQ(fed.consumed, second.size());
  EXPECT_EQ(parser.TakeRequest().request.url, "http://h/2");
  fed = parser.Feed(std::string_view(all).substr(first.size() + second.size()));
  ASSERT_EQ(fed.state, State::kComplete);
  EXPECT_EQ(fed.consumed, third.size());
  ParsedRequest last = parser.TakeRequest();
  EXPECT_EQ(last.request.url, "http://h/3");
  EXPECT_EQ(last.request.body, "z");
}

TEST(HttpParserTest, ReportsExpectContinueOnceHeadersAreComplete) {
  RequestParser parser;
  RequestParser::FeedResult fed =
      parser.Feed("PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-Continue\r\n\r\n");
  EXPECT_EQ(fed.state, State::kNeedMore);
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_TRUE(parser.expect_continue());
  fed = parser.Feed("data");
  ASSERT_EQ(fed.state, State::kComplete);
  ParsedRequest p = parser.TakeRequest();
  EXPECT_TRUE(p.expect_continue);
  EXPECT_EQ(p.request.body, "data");
  EXPECT_FALSE(parser.headers_complete());
  EXPECT_FALSE(parser.expect_continue());
}

TEST(HttpParserTest, HeadersIncompleteUntilBlankLine) {
  RequestParser parser;
  EXPECT_EQ(parser.Feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n").state, State::kNeedMore);
  EXPECT_FALSE(parser.headers_complete());
}

TEST(HttpParserTest, Http10ExpectationIsIgnored) {
  Outcome out = RunWhole("POST / HTTP/1.0\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_FALSE(out.requests[0].expect_continue);
}

TEST(HttpParserTest, KeepAliveRules) {
  auto keep_alive = [](std::string_view head) {
    Outcome out = RunWhole(std::string(head) + "Host: h\r\n\r\n");
    EXPECT_EQ(out.requests.size(), 1u) << head;
    return !out.requests.empty() && out.requests[0].keep_alive;
  };
  EXPECT_TRUE(keep_alive("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nConnection: close\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nConnection: TE, Close\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.0\r\n"));
  EXPECT_TRUE(keep_alive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n"));
}

TEST(HttpParserTest, SkipsEmptyLinesBeforeRequestLineAndAcceptsBareLf) {
  Outcome out = RunWhole("\r\n\nGET /x HTTP/1.1\nHost: h\nContent-Length: 2\n\nok");
  ASSERT_EQ(out.error_status, 0);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].request.url, "http://h/x");
  EXPECT_EQ(out.requests[0].request.body, "ok");
}

TEST(HttpParserTest, ErrorIsStickyUntilReset) {
  RequestParser parser;
  EXPECT_EQ(parser.Feed("BAD\r\n\r\n").error_status, 400);
  RequestParser::FeedResult again = parser.Feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(again.state, State::kError);
  EXPECT_EQ(again.error_status, 400);
  parser.Reset();
  EXPECT_EQ(parser.Feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n").state, State::kComplete);
}

struct ErrorCase {
  const char* name;
  std::string input;
  int status;
};

TEST(HttpParserTest, RejectsMalformedRequestsWithTheRightStatus) {
  const std::string big_target(200, 'a');
  const std::vector<ErrorCase> cases = {
      {"no host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
      {"host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"request line without version", "GET /\r\nHost: h\r\n\r\n", 400},
      {"double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"absolute-form target", "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"control char in target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bad version", "GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
      {"unsupported version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n  continued\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
      {"no colon", "GET / HTTP/1.1\r\nHost: h\r\nnocolon\r\n\r\n", 400},
      {"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400},
      {"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n"s, 400},
      {"negative length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
      {"length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nx", 400},
      {"empty length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
      {"conflicting lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 400},
      {"length and chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
      {"empty transfer encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400},
      {"gzip coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"identity coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501},
      {"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400},
      {"empty chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400},
      {"chunk longer than size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
       400},
      {"malformed trailer", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnocolon\r\n\r\n",
       400},
      {"other expectation", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417},
      {"length over limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 413},
      {"huge length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413},
      {"chunks over limit",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'x') + "\r\n28\r\n",
       413},
      {"huge chunk", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\n", 413},
      {"headers over limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(300, 'v') + "\r\n\r\n", 431},
      {"request line over limit", "GET /" + std::string(300, 'p') + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
      {"trailers over limit",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + std::string(300, 't') +
           "\r\n\r\n",
       431},
  };
  const ParserLimits small{256, 100};
  for (const ErrorCase& c : cases) {
    Outcome out = RunWhole(c.input, small);
    EXPECT_EQ(out.error_status, c.status) << c.name;
    EXPECT_TRUE(out.requests.empty()) << c.name;
  }
}

TEST(HttpParserTest, BodyExactlyAtLimitIsAccepted) {
  const ParserLimits limits{1024, 5};
  EXPECT_EQ(RunWhole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n12345", limits).requests.size(), 1u);
  EXPECT_EQ(RunWhole("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n12\r\n3\r\n345\r\n0\r\n\r\n",
                     limits)
                .requests.size(),
            1u);
  EXPECT_EQ(
      RunWhole("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n12\r\n4\r\n", limits).error_status,
      413);
}

// Every way of cutting the input in two, and byte-at-a-time feeding, must give
// exactly what feeding it whole gives: the parser keeps no state in the split.
TEST(HttpParserTest, SplitAtEveryByteBoundaryGivesTheSameResult) {
  const std::vector<std::string> inputs = {
      "GET /a%20b?c=d HTTP/1.1\r\nHost: localhost:1\r\nUser-Agent:  curl \r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n0123456789",
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n"
      "T: v\r\n\r\n",
      "\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /3 "
      "HTTP/1.1\nHost: h\nConnection: close\n\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",                               // obs-fold: 400
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",  // chunk overrun: 400
      "GET /" + std::string(200, 'x') + " HTTP/1.1\r\nHost: h\r\n\r\n",                // 414
      "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'x') + "\r\n\r\n",         // 431
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + std::string(32, 'y') + "\r\n21\r\n",
  };
  const ParserLimits limits{200, 40};
  for (const std::string& input : inputs) {
    const std::string whole = Describe(RunWhole(input, limits));
    ASSERT_FALSE(whole.empty()) << input;
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      std::string_view in(input);
      EXPECT_EQ(Describe(FeedPieces({in.substr(0, cut), in.substr(cut)}, limits)), whole)
          << "cut at " << cut << " of " << input;
    }
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < input.size(); ++i) bytes.push_back(std::string_view(input).substr(i, 1));
    EXPECT_EQ(Describe(FeedPieces(bytes, limits)), whole) << "byte by byte: " << input;
  }
}

TEST(HttpParserTest, ParserIsReusableAcrossManyRequests) {
  RequestParser parser;
  for (int i = 0; i < 100; ++i) {
    std::string req = "PUT /" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
    ASSERT_EQ(parser.Feed(req).state, State::kComplete);
    ParsedRequest p = parser.TakeRequest();
    EXPECT_EQ(p.request.url, "http://h/" + std::to_string(i));
    EXPECT_EQ(p.request.headers.size(), 2u);
  }
}

}  // namespace
}  // namespace keyrotor::net
