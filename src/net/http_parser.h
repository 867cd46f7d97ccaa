// An incremental HTTP/1.1 request parser, kept apart from sockets so that it
// is a pure function of the bytes fed to it: unit tests split input at every
// byte boundary, and a libFuzzer target can drive it directly.
//
// Usage: Feed() bytes as they arrive. kNeedMore means every byte was absorbed
// and more are needed; kComplete means one request is ready (TakeRequest())
// and `consumed` says where the next, pipelined, request starts; kError
// carries the HTTP status to answer with before closing the connection.
//
// Choices where RFC 9112 leaves room:
//  - obs-fold (a header line starting with SP/HTAB) is rejected with 400, as
//    §5.2 allows: no AWS client folds, and unfolding invites smuggling bugs.
//  - A bare LF ends a line like CRLF does (§2.2); a bare CR elsewhere is 400.
//  - Empty lines before the request line are skipped (§2.2).
//  - Only origin-form targets ("/path?query") are accepted; the sandbox is
//    never used as a proxy.
//  - Host is required (exactly one, non-empty) for HTTP/1.0 too, since the
//    request URL is built from it.
//  - Chunked trailers are read and dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aws/http.h"

namespace keyrotor::net {

struct ParserLimits {
  size_t max_header_bytes = 64u << 10;  // request line + headers, and again for trailers
  size_t max_body = 8u << 20;           // decoded body bytes
};

struct ParsedRequest {
  // url is "http://" + Host + the request target exactly as received.
  aws::HttpRequest request;
  bool keep_alive = true;
  bool expect_continue = false;
};

class RequestParser {
 public:
  enum class State { kNeedMore, kComplete, kError };

  struct FeedResult {
    State state = State::kNeedMore;
    size_t consumed = 0;     // bytes of this Feed's input that were used
    int error_status = 0;    // 400, 413, 414, 417, 431, 501 or 505 on kError
    std::string_view error;  // a short reason for people, on kError
  };

  explicit RequestParser(ParserLimits limits = {});

  FeedResult Feed(std::string_view data);

  // True once the blank line after the headers has been read; from then on
  // expect_continue() tells whether the client waits for "100 Continue"
  // before it sends the body.
  bool headers_complete() const { return phase_ != Phase::kHead && phase_ != Phase::kError; }
  bool expect_continue() const { return parsed_.expect_continue; }

  // After kComplete: hands over the request and readies the parser for the
  // next one on the same connection.
  ParsedRequest TakeRequest();

  // Forgets any partial request (and a sticky error).
  void Reset();

 private:
  enum class Phase { kHead, kBodyLength, kChunkSize, kChunkData, kChunkDataEnd, kTrailer, kDone, kError };

  FeedResult Fail(int status, std::string_view reason);
  // Each Step* consumes from data starting at *pos and returns true when the
  // phase changed or a result is final; false means it needs more bytes.
  bool StepHead(std::string_view data, size_t* pos, FeedResult* out);
  bool StepBodyLength(std::string_view data, size_t* pos);
  bool StepChunkSize(std::string_view data, size_t* pos, FeedResult* out);
  bool StepChunkData(std::string_view data, size_t* pos);
  bool StepChunkDataEnd(std::string_view data, size_t* pos, FeedResult* out);
  bool StepTrailer(std::string_view data, size_t* pos, FeedResult* out);
  // Parses the buffered request line and header lines; sets the body phase.
  bool ParseHead(FeedResult* out);

  ParserLimits limits_;
  Phase phase_ = Phase::kHead;
  ParsedRequest parsed_;
  FeedResult error_;

  // The head is gathered here (the buffer keeps its capacity across
  // requests); line_start_ is where the current, unfinished line begins.
  std::string head_;
  size_t line_start_ = 0;
  size_t skipped_blank_bytes_ = 0;

  uint64_t body_remaining_ = 0;  // Content-Length left, or bytes left in a chunk
  std::string line_;             // a chunk-size or trailer line being gathered
  size_t trailer_bytes_ = 0;
  bool chunk_end_seen_cr_ = false;
};

}  // namespace keyrotor::net
