#include "credentials/ini_syntax.h"

namespace keyrotor::credentials::ini_syntax {

// ---- Python text semantics -------------------------------------------------
// botocore sees the file as a Python str, so "whitespace" and "line" mean what
// they mean in Python. Everything below works on UTF-8 that Validate() passed.

// Decodes one code point the way Python's strict UTF-8 codec does (no
// overlongs, no surrogates, nothing past U+10FFFF). Returns its length, 0 if invalid.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // U+D800..DFFF are surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  char32_t v = b0 & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (byte(i + k) & 0x3F);
  }
  *cp = v;
  return len;
}

bool IsValidUtf8(std::string_view s) {
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Python's str.isspace(), which is also what re's \s and str.strip() use.
bool IsPySpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Python's str.splitlines() boundaries (botocore's _parse_nested uses it).
bool IsPyLineBreak(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

// Bytes of leading whitespace; `columns` (if given) gets their count in code
// points, which is how configparser measures indentation.
size_t LeadingSpaceBytes(std::string_view s, size_t* columns) {
  size_t i = 0, cols = 0;
  char32_t cp = 0;
  while (i < s.size()) {
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0 || !IsPySpace(cp)) break;
    i += n;
    ++cols;
  }
  if (columns) *columns = cols;
  return i;
}

std::string_view PyRStrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    if (DecodeUtf8(s, start, &cp) != end - start || !IsPySpace(cp)) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view PyStrip(std::string_view s) { return PyRStrip(s.substr(LeadingSpaceBytes(s))); }

std::vector<std::string_view> PySplitLines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) n = 1;
    if (IsPyLineBreak(cp)) {
      out.push_back(s.substr(start, i - start));
      if (cp == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++n;
      start = i + n;
    }
    i += n;
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

// shlex.split(s) (POSIX mode, no comments), which botocore applies to section
// titles. nullopt where shlex raises ValueError (unclosed quote, trailing '\').
std::optional<std::vector<std::string>> ShlexSplit(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::vector<std::string> words;
  size_t i = 0;
  while (true) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) return words;
    std::string word;
    while (i < s.size() && !is_space(s[i])) {
      char c = s[i];
      if (c == '\\') {
        if (i + 1 == s.size()) return std::nullopt;
        word += s[i + 1];
        i += 2;
      } else if (c == '\'') {
        size_t close = s.find('\'', i + 1);
        if (close == std::string_view::npos) return std::nullopt;
        word.append(s.substr(i + 1, close - i - 1));
        i = close + 1;
      } else if (c == '"') {
        for (++i;; ++i) {
          if (i == s.size()) return std::nullopt;
          if (s[i] == '"') break;
          if (s[i] == '\\') {
            if (i + 1 == s.size()) return std::nullopt;
            // Inside double quotes only \\ and \" are escapes; "\x" stays "\x".
            if (s[i + 1] != '\\' && s[i + 1] != '"') word += '\\';
            word += s[++i];
          } else {
            word += s[i];
          }
        }
        ++i;
      } else {
        word += c;
        ++i;
      }
    }
    words.push_back(std::move(word));
  }
}

bool IsCommentLine(std::string_view stripped) {
  return !stripped.empty() && (stripped[0] == '#' || stripped[0] == ';');
}

// configparser's SECTCRE, "\[(?P<header>.+)\]", matched at the start of the
// stripped line: greedy, so the title runs to the LAST ']' and keeps its spaces.
std::optional<std::string_view> SectionTitleOf(std::string_view stripped) {
  if (stripped.empty() || stripped[0] != '[') return std::nullopt;
  size_t close = stripped.rfind(']');
  if (close == std::string_view::npos || close < 2) return std::nullopt;
  return stripped.substr(1, close - 1);
}

std::string Quote(std::string_view s) {
  // Built by appending: "'" + std::string(s) trips GCC 12's -Wrestrict false positive.
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  out += s;
  out += '\'';
  return out;
}

}  // namespace keyrotor::credentials::ini_syntax
