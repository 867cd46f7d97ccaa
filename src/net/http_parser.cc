#include "net/http_parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "base/strings.h"

namespace keyrotor::net {
namespace {

// A chunk-size line is a hex number and optional extensions; nothing sends
// extensions this long, so a longer line is an attack or garbage.
constexpr size_t kMaxChunkSizeLine = 4096;

constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTokenChar = MakeTokenTable();

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// field-value = *( VCHAR / obs-text / SP / HTAB ): no CR, LF, NUL or DEL.
bool IsFieldValue(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Visible ASCII only: percent-encoding must already have been applied.
bool IsOriginFormTarget(std::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// reg-name / IP-literal with an optional port: no delimiters that would let
// the Host value change the meaning of the URL it is pasted into.
bool IsHostValue(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '@' || ch == '\\') return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

// Calls fn(element) for each trimmed, non-empty element of a comma list.
template <typename Fn>
void ForEachListElement(std::string_view list, Fn fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = TrimOws(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends input up to and including the next '\n' to *line, at most `room`
// bytes. Returns true when the line is complete (the '\n' is not kept, nor a
// '\r' before it); sets *overflow when the line does not fit in `room`.
bool GatherLine(std::string_view data, size_t* pos, std::string* line, size_t room, bool* overflow) {
  const char* begin = data.data() + *pos;
  size_t avail = data.size() - *pos;
  const void* nl = std::memchr(begin, '\n', avail);
  size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - begin) + 1 : avail;
  if (line->size() + take > room) {
    *overflow = true;
    return false;
  }
  line->append(begin, take);
  *pos += take;
  if (!nl) return false;
  line->pop_back();
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::Reset() {
  phase_ = Phase::kHead;
  parsed_ = ParsedRequest{};
  error_ = FeedResult{};
  head_.clear();
  line_start_ = 0;
  skipped_blank_bytes_ = 0;
  body_remaining_ = 0;
  line_.clear();
  trailer_bytes_ = 0;
  chunk_end_seen_cr_ = false;
}

ParsedRequest RequestParser::TakeRequest() {
  ParsedRequest out = std::move(parsed_);
  Reset();
  return out;
}

RequestParser::FeedResult RequestParser::Fail(int status, std::string_view reason) {
  phase_ = Phase::kError;
  error_ = FeedResult{State::kError, 0, status, reason};
  return error_;
}

RequestParser::FeedResult RequestParser::Feed(std::string_view data) {
  FeedResult out;
  size_t pos = 0;
  while (true) {
    bool progressed = false;
    switch (phase_) {
      case Phase::kHead:
        progressed = StepHead(data, &pos, &out);
        break;
      case Phase::kBodyLength:
        progressed = StepBodyLength(data, &pos);
        break;
      case Phase::kChunkSize:
        progressed = StepChunkSize(data, &pos, &out);
        break;
      case Phase::kChunkData:
        progressed = StepChunkData(data, &pos);
        break;
      case Phase::kChunkDataEnd:
        progressed = StepChunkDataEnd(data, &pos, &out);
        break;
      case Phase::kTrailer:
        progressed = StepTrailer(data, &pos, &out);
        break;
      case Phase::kDone:
        return FeedResult{State::kComplete, pos, 0, {}};
      case Phase::kError: {
        FeedResult err = error_;
        err.consumed = pos;
        return err;
      }
    }
    if (!progressed) return FeedResult{State::kNeedMore, pos, 0, {}};
  }
}

bool RequestParser::StepHead(std::string_view data, size_t* pos, FeedResult* out) {
  while (*pos < data.size()) {
    const char* begin = data.data() + *pos;
    size_t avail = data.size() - *pos;
    const void* nl = std::memchr(begin, '\n', avail);
    size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - begin) + 1 : avail;
    if (skipped_blank_bytes_ + head_.size() + take > limits_.max_header_bytes) {
      // Nothing but the request line so far: its target is what is too long.
      *out = line_start_ == 0 ? Fail(414, "request line too long") : Fail(431, "request headers too large");
      return true;
    }
    head_.append(begin, take);
    *pos += take;
    if (!nl) return false;

    std::string_view line(head_.data() + line_start_, head_.size() - line_start_ - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) {
      line_start_ = head_.size();
      continue;
    }
    if (line_start_ == 0) {  // an empty line before the request line (RFC 9112 §2.2)
      skipped_blank_bytes_ += head_.size();
      head_.clear();
      continue;
    }
    ParseHead(out);
    return true;
  }
  return false;
}

bool RequestParser::ParseHead(FeedResult* out) {
  // head_ is a sequence of lines, each ending in '\n', the last one empty.
  std::string_view head(head_);
  auto next_line = [&head]() {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };

  // request-line = method SP request-target SP HTTP-version
  std::string_view request_line = next_line();
  size_t sp1 = request_line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    *out = Fail(400, "malformed request line");
    return true;
  }
  std::string_view method = request_line.substr(0, sp1);
  std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(method)) {
    *out = Fail(400, "malformed method");
    return true;
  }
  if (!IsOriginFormTarget(target)) {
    *out = Fail(400, "request target must be an origin-form path");
    return true;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    *out = Fail(400, "malformed HTTP version");
    return true;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    *out = Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
    return true;
  }
  const bool http11 = version[7] == '1';

  aws::HttpRequest& request = parsed_.request;
  request.method.assign(method);
  std::string_view host;
  int host_count = 0;
  bool has_length = false;
  uint64_t content_length = 0;
  bool length_too_large = false;
  std::string_view length_text;
  int te_headers = 0;
  int chunked_count = 0;
  bool unknown_coding = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool expect_continue = false;

  while (!head.empty()) {
    std::string_view line = next_line();
    if (line.empty()) break;  // the blank line that ends the head
    if (line[0] == ' ' || line[0] == '\t') {
      *out = Fail(400, "obsolete header line folding is not accepted");
      return true;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      *out = Fail(400, "header line without a colon");
      return true;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsToken(name)) {
      *out = Fail(400, "malformed header name");
      return true;
    }
    if (!IsFieldValue(value)) {
      *out = Fail(400, "control character in header value");
      return true;
    }
    request.headers.emplace_back(std::string(name), std::string(value));

    if (EqualsIgnoreCase(name, "host")) {
      ++host_count;
      host = value;
    } else if (EqualsIgnoreCase(name, "content-length")) {
      if (value.empty()) {
        *out = Fail(400, "invalid Content-Length");
        return true;
      }
      uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') {
          *out = Fail(400, "invalid Content-Length");
          return true;
        }
        // Saturates: any value past the limit is answered with 413 anyway.
        n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + static_cast<uint64_t>(c - '0');
      }
      // Duplicates are tolerated only when they agree (RFC 9112 §6.3).
      if (has_length && value != length_text) {
        *out = Fail(400, "conflicting Content-Length headers");
        return true;
      }
      has_length = true;
      length_text = value;
      content_length = n;
      length_too_large = n > limits_.max_body;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      ++te_headers;
      ForEachListElement(value, [&](std::string_view coding) {
        if (EqualsIgnoreCase(coding, "chunked")) {
          ++chunked_count;
        } else {
          unknown_coding = true;
        }
      });
    } else if (EqualsIgnoreCase(name, "connection")) {
      ForEachListElement(value, [&](std::string_view option) {
        if (EqualsIgnoreCase(option, "close"))
          connection_close = true;
        else if (EqualsIgnoreCase(option, "keep-alive"))
          connection_keep_alive = true;
      });
    } else if (EqualsIgnoreCase(name, "expect")) {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        *out = Fail(417, "unsupported expectation");
        return true;
      }
      // An HTTP/1.0 client cannot have meant it (RFC 9110 §10.1.1).
      expect_continue = http11;
    }
  }

  if (host_count != 1) {
    *out = Fail(400, host_count == 0 ? "missing Host header" : "more than one Host header");
    return true;
  }
  if (!IsHostValue(host)) {
    *out = Fail(400, "invalid Host header");
    return true;
  }
  if (te_headers > 0 && has_length) {
    *out = Fail(400, "both Content-Length and Transfer-Encoding");
    return true;
  }
  if (unknown_coding) {
    *out = Fail(501, "only the chunked transfer coding is supported");
    return true;
  }
  if (te_headers > 0 && chunked_count != 1) {
    *out = Fail(400, "malformed Transfer-Encoding");
    return true;
  }
  if (length_too_large) {
    *out = Fail(413, "request body too large");
    return true;
  }

  request.url.reserve(7 + host.size() + target.size());
  request.url.assign("http://").append(host).append(target);
  parsed_.keep_alive = http11 ? !connection_close : connection_keep_alive && !connection_close;
  // An HTTP/1.0 message with Transfer-Encoding has faulty framing: finish it,
  // then close (RFC 9112 §6.1).
  if (!http11 && te_headers > 0) parsed_.keep_alive = false;
  parsed_.expect_continue = expect_continue;

  if (chunked_count == 1) {
    phase_ = Phase::kChunkSize;
  } else if (content_length > 0) {
    request.body.reserve(content_length);
    body_remaining_ = content_length;
    phase_ = Phase::kBodyLength;
  } else {
    phase_ = Phase::kDone;
  }
  return true;
}

bool RequestParser::StepBodyLength(std::string_view data, size_t* pos) {
  size_t take = std::min<uint64_t>(body_remaining_, data.size() - *pos);
  parsed_.request.body.append(data.data() + *pos, take);
  *pos += take;
  body_remaining_ -= take;
  if (body_remaining_ > 0) return false;
  phase_ = Phase::kDone;
  return true;
}

bool RequestParser::StepChunkSize(std::string_view data, size_t* pos, FeedResult* out) {
  if (*pos == data.size()) return false;
  bool overflow = false;
  if (!GatherLine(data, pos, &line_, kMaxChunkSizeLine, &overflow)) {
    if (overflow) *out = Fail(400, "chunk size line too long");
    return overflow;
  }
  // chunk-size [ chunk-ext ] CRLF; extensions are ignored.
  size_t i = 0;
  uint64_t size = 0;
  const uint64_t room = limits_.max_body - parsed_.request.body.size();
  for (; i < line_.size(); ++i) {
    int digit = HexValue(line_[i]);
    if (digit < 0) break;
    if (size > (UINT64_MAX >> 4))
      size = UINT64_MAX;
    else
      size = size * 16 + static_cast<uint64_t>(digit);
    if (size > room) {
      *out = Fail(413, "request body too large");
      return true;
    }
  }
  std::string_view rest = TrimOws(std::string_view(line_).substr(i));
  if (i == 0 || (!rest.empty() && (rest[0] != ';' || !IsFieldValue(rest)))) {
    *out = Fail(400, "malformed chunk size");
    return true;
  }
  line_.clear();
  if (size == 0) {
    phase_ = Phase::kTrailer;
  } else {
    body_remaining_ = size;
    phase_ = Phase::kChunkData;
  }
  return true;
}

bool RequestParser::StepChunkData(std::string_view data, size_t* pos) {
  if (!StepBodyLength(data, pos)) return false;
  phase_ = Phase::kChunkDataEnd;
  return true;
}

bool RequestParser::StepChunkDataEnd(std::string_view data, size_t* pos, FeedResult* out) {
  while (*pos < data.size()) {
    char c = data[(*pos)++];
    if (c == '\r' && !chunk_end_seen_cr_) {
      chunk_end_seen_cr_ = true;
    } else if (c == '\n') {
      chunk_end_seen_cr_ = false;
      phase_ = Phase::kChunkSize;
      return true;
    } else {
      *out = Fail(400, "chunk data longer than its size");
      return true;
    }
  }
  return false;
}

bool RequestParser::StepTrailer(std::string_view data, size_t* pos, FeedResult* out) {
  while (*pos < data.size()) {
    bool overflow = false;
    size_t room = limits_.max_header_bytes - std::min(limits_.max_header_bytes, trailer_bytes_);
    bool complete = GatherLine(data, pos, &line_, room, &overflow);
    if (overflow) {
      *out = Fail(431, "request trailers too large");
      return true;
    }
    if (!complete) return false;
    if (line_.empty()) {
      phase_ = Phase::kDone;
      return true;
    }
    size_t colon = line_.find(':');
    if (line_[0] == ' ' || line_[0] == '\t' || colon == std::string::npos ||
        !IsToken(std::string_view(line_).substr(0, colon)) ||
        !IsFieldValue(std::string_view(line_).substr(colon + 1))) {
      *out = Fail(400, "malformed trailer");
      return true;
    }
    trailer_bytes_ += line_.size() + 2;
    line_.clear();
  }
  return false;
}

}  // namespace keyrotor::net
