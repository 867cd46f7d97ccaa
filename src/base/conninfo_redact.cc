#include "base/conninfo_redact.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>
#include <vector>

#include "base/strings.h"

namespace keyrotor {
namespace {

constexpr std::string_view kMask = "****";

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where a URL starting at `start` (just after "://") ends in free text: at
// the first blank. A password holding a raw blank is not found this way;
// the conninfo pass of RedactConnectionSecrets covers the journal's own URL.
size_t UrlEnd(std::string_view text, size_t start) {
  size_t end = start;
  while (end < text.size() && !IsBlank(text[end])) ++end;
  return end;
}

// The user info of every URL: everything between "://" and the last '@'
// of the URL. libpq ends it at the first '@' or '/', but a password holding
// either (unencoded) is then split by libpq and would partly survive a
// narrower cut; hiding a host now and then is the lesser harm.
std::string RedactUserInfo(std::string text) {
  for (size_t scheme = text.find("://"); scheme != std::string::npos; scheme = text.find("://", scheme + 3)) {
    size_t start = scheme + 3;
    size_t end = UrlEnd(text, start);
    size_t at = std::string_view(text).substr(start, end - start).rfind('@');
    if (at == std::string_view::npos || at == 0) continue;
    text.replace(start, at, kMask);
  }
  return text;
}

// The next "password=" value at or after `from` (also sslpassword=,
// PGPASSWORD=...), as [begin, end): quoted '...' with backslash escapes as
// libpq reads them (quotes included), or bare up to a blank (and, in a URI
// query, up to the next '&'). Nothing when there is none.
std::optional<std::pair<size_t, size_t>> NextPasswordValue(std::string_view text, size_t from) {
  std::string lower = ToLower(text);
  for (size_t key = lower.find("password", from); key != std::string::npos; key = lower.find("password", key + 8)) {
    size_t i = key + 8;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size() || text[i] != '=') continue;
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t end = i;
    if (end < text.size() && text[end] == '\'') {
      for (++end; end < text.size() && text[end] != '\''; ++end) {
        if (text[end] == '\\' && end + 1 < text.size()) ++end;
      }
      if (end < text.size()) ++end;  // the closing quote
    } else {
      bool in_query = key > 0 && (text[key - 1] == '?' || text[key - 1] == '&');
      while (end < text.size() && !IsBlank(text[end]) && !(in_query && text[end] == '&')) ++end;
    }
    return std::make_pair(i, end);
  }
  return std::nullopt;
}

std::string RedactPasswordValues(std::string text) {
  for (auto value = NextPasswordValue(text, 0); value; value = NextPasswordValue(text, value->first + kMask.size())) {
    text.replace(value->first, value->second - value->first, kMask);
  }
  return text;
}

// The passwords `conninfo` holds, as written (the URI's user-info password,
// password= values) and percent-decoded.
std::vector<std::string> PasswordsIn(std::string_view conninfo) {
  std::vector<std::string> out;
  if (size_t scheme = conninfo.find("://"); scheme != std::string_view::npos) {
    size_t start = scheme + 3;
    size_t at = conninfo.rfind('@');
    if (at != std::string_view::npos && at > start) {
      std::string_view info = conninfo.substr(start, at - start);
      if (size_t colon = info.find(':'); colon != std::string_view::npos) out.emplace_back(info.substr(colon + 1));
    }
  }
  for (auto value = NextPasswordValue(conninfo, 0); value; value = NextPasswordValue(conninfo, value->second)) {
    std::string v(conninfo.substr(value->first, value->second - value->first));
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
    out.push_back(std::move(v));
  }
  size_t n = out.size();
  for (size_t i = 0; i < n; ++i) {
    std::string decoded = UriDecode(out[i]);
    if (decoded != out[i]) out.push_back(decoded);
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

// `password` cut where libpq cuts a URI apart.
std::vector<std::string> PiecesOf(const std::string& password) {
  std::vector<std::string> pieces;
  std::string piece;
  for (char c : password) {
    if (std::string_view("/@?#&:=").find(c) != std::string_view::npos) {
      if (!piece.empty()) pieces.push_back(std::move(piece));
      piece.clear();
    } else {
      piece += c;
    }
  }
  if (!piece.empty()) pieces.push_back(std::move(piece));
  return pieces;
}

std::string ReplaceAll(std::string text, const std::string& what) {
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + kMask.size())) {
    text.replace(pos, what.size(), kMask);
  }
  return text;
}

// Every "..." in `text` that holds one of `pieces` becomes "****".
std::string MaskQuotedHolding(std::string text, const std::vector<std::string>& pieces) {
  size_t open = text.find('"');
  while (open != std::string::npos) {
    size_t close = text.find('"', open + 1);
    if (close == std::string::npos) break;
    std::string_view inside = std::string_view(text).substr(open + 1, close - open - 1);
    bool holds = std::any_of(pieces.begin(), pieces.end(),
                             [&](const std::string& p) { return inside.find(p) != std::string_view::npos; });
    if (holds) {
      text.replace(open + 1, close - open - 1, kMask);
      close = open + 1 + kMask.size();
    }
    open = text.find('"', close + 1);
  }
  return text;
}

}  // namespace

std::string RedactConnectionSecrets(std::string_view text, std::string_view conninfo) {
  std::string out(text);
  if (!conninfo.empty()) {
    std::vector<std::string> passwords = PasswordsIn(conninfo);
    // Longest first: a password that contains another is replaced whole.
    std::sort(passwords.begin(), passwords.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    std::vector<std::string> pieces;
    for (const std::string& p : passwords) {
      for (std::string& piece : PiecesOf(p)) pieces.push_back(std::move(piece));
    }
    out = MaskQuotedHolding(std::move(out), pieces);
    for (const std::string& p : passwords) out = ReplaceAll(std::move(out), p);
  }
  return RedactPasswordValues(RedactUserInfo(std::move(out)));
}

bool HoldsConnectionSecret(std::string_view value) { return RedactConnectionSecrets(value) != value; }

}  // namespace keyrotor
