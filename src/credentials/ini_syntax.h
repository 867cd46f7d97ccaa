// Python text semantics and configparser's line syntax, as botocore sees a
// shared config/credentials file: what IniFile's parser (ini_file.cc) and its
// editor (ini_file_edit.cc) share. Internal to credentials/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyrotor::credentials::ini_syntax {

// configparser's defaults section: not a section, inherited by all of them.
inline constexpr std::string_view kDefaultSection = "DEFAULT";

// Decodes one code point the way Python's strict UTF-8 codec does (no
// overlongs, no surrogates, nothing past U+10FFFF). Returns its length, 0 if invalid.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp);
bool IsValidUtf8(std::string_view s);
// Python's str.isspace(), which is also what re's \s and str.strip() use.
bool IsPySpace(char32_t c);
// Python's str.splitlines() boundaries (botocore's _parse_nested uses it).
bool IsPyLineBreak(char32_t c);
// Bytes of leading whitespace; `columns` (if given) gets their count in code
// points, which is how configparser measures indentation.
size_t LeadingSpaceBytes(std::string_view s, size_t* columns = nullptr);
std::string_view PyRStrip(std::string_view s);
std::string_view PyStrip(std::string_view s);
std::vector<std::string_view> PySplitLines(std::string_view s);
// shlex.split(s) (POSIX mode, no comments), which botocore applies to section
// titles. nullopt where shlex raises ValueError (unclosed quote, trailing '\').
std::optional<std::vector<std::string>> ShlexSplit(std::string_view s);
bool IsCommentLine(std::string_view stripped);
// configparser's SECTCRE, "\[(?P<header>.+)\]", matched at the start of the
// stripped line: greedy, so the title runs to the LAST ']' and keeps its spaces.
std::optional<std::string_view> SectionTitleOf(std::string_view stripped);
// 'text', for error messages.
std::string Quote(std::string_view s);

}  // namespace keyrotor::credentials::ini_syntax
