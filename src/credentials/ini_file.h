// The AWS shared config / credentials file (~/.aws/config, ~/.aws/credentials)
// as botocore reads it, and as a user wrote it.
//
// Reading follows botocore exactly: configparser.RawConfigParser with its
// defaults (strict, '=' and ':' delimiters, '#' and ';' full-line comments, no
// inline comments, blank lines kept inside values) followed by botocore's
// raw_config_parse (nested "s3 =" blocks) and build_profile_map (profile
// names). Every rule below was checked against Python 3.11's configparser and
// botocore 1.43 on the real files; the tests in ini_file_test.cc record them.
//
// Writing preserves everything an edit does not touch: Serialize() of an
// unedited file returns the input byte for byte (comments, blank lines, CRLF or
// lone-CR line ends, key spelling, separator spacing, a missing final newline).
//
// configparser quirks that matter here:
//  - Lines end at "\n", "\r\n" or a lone "\r" (Python's universal newlines).
//  - "Whitespace" is Python's str.isspace(), i.e. Unicode: U+00A0 indents a
//    continuation line just like a space; indentation is counted in code
//    points. The file must be valid UTF-8 (botocore fails otherwise).
//  - A section header is "[" anything "]" up to the LAST "]" on the line; the
//    text inside is kept verbatim (no trimming), the text after is ignored.
//  - A key is everything before the first '=' or ':', stripped and lower-cased;
//    the value is the rest, stripped. "k = v # note" has the value "v # note".
//  - A line indented deeper than the key line continues the value; full-line
//    comments (even indented ones) inside a value are skipped, blank lines are
//    kept, and the joined value is right-stripped ("v1\n\nv2").
//  - "[DEFAULT]" (exact case) is configparser's defaults section: it is not a
//    section (so not a profile), may appear more than once, and every key in
//    it is inherited by every section that does not set the key itself. Get(),
//    Items() and GetNested() include inherited keys, as botocore does.
//
// Non-ASCII letters in keys are compared as bytes (Python would lower-case
// them); no AWS setting has such a key.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace keyrotor::credentials {

enum class FileKind { kCredentials, kConfig };

class IniFile {
 public:
  // Parses `text`. Malformed input — anything botocore refuses — gives a
  // ParseError "PATH:LINE: reason"; `path` is used only in messages. Messages
  // never quote a line's text (it may hold a secret), only key and section names.
  static Result<IniFile> Parse(std::string_view text, std::string path);
  // Reads and parses a file; NotFound when it does not exist.
  static Result<IniFile> Load(const std::string& path);

  // Section titles in file order, verbatim ("profile dev"); "[DEFAULT]" is not
  // a section (configparser hides it), so it is not listed.
  std::vector<std::string> Sections() const;
  bool HasSection(std::string_view title) const;

  // The value botocore sees: stripped, inline comments kept, continuation lines
  // joined with '\n'; falls back to [DEFAULT]. A nested block ("s3 =" followed
  // by indented lines) reads as configparser's raw string, which starts with
  // '\n'; use GetNested() for its keys. nullopt when the section or key is absent.
  std::optional<std::string> Get(std::string_view section, std::string_view key) const;
  // The keys of a nested block as botocore's _parse_nested builds them: split
  // at the first '=', stripped, NOT lower-cased, later duplicates win. nullopt
  // when the key is absent or its value is not a nested block.
  std::optional<std::map<std::string, std::string>> GetNested(std::string_view section, std::string_view key) const;
  // (lower-cased key, value) pairs: the section's own keys in file order, then
  // the inherited [DEFAULT] keys it does not override.
  std::vector<std::pair<std::string, std::string>> Items(std::string_view section) const;
  // 1-based line of the key that supplies the value (which is in a [DEFAULT]
  // section for an inherited key), or of the section header when `key` is
  // empty; 0 when absent.
  int LineOf(std::string_view section, std::string_view key = {}) const;

  // The section that defines `profile` for botocore, or nullopt. In a config
  // file several sections can name the same profile ("[default]" and
  // "[profile default]", "[profile a]" and "[profile 'a']"); build_profile_map
  // keeps the LAST one in file order and ignores the others entirely.
  std::optional<std::string> SectionForProfile(std::string_view profile, FileKind kind) const;

  const std::string& path() const { return path_; }

  // Edits. Each one is checked by re-parsing the result: an edit that would
  // leave a file botocore cannot read (or that reads back differently) is
  // refused with InvalidArgument and the file is left as it was.
  //
  // Sets `key` in `section`. An existing key keeps its line, spelling, indent
  // and separator; only the value changes, and any continuation lines of the
  // old value go. Otherwise a "key = value" line (copying the separator style
  // of the key above it) goes after the section's last key; a missing section
  // is appended as "[section]" after a blank line. The value must be a single
  // line without surrounding whitespace (botocore would strip it).
  Status Set(std::string_view section, std::string_view key, std::string_view value);
  // Removes the section's own `key` line with its continuation lines (and the
  // comments between them). NotFound when the section does not set the key.
  Status Remove(std::string_view section, std::string_view key);
  // Removes section `title` (not [DEFAULT]): its header and every line up to
  // the next section. When it is the last section, the blank line before it
  // goes too, so removing a section Set() appended gives back the original
  // bytes; except when the file already ended with a blank line, which Set()
  // reused instead of adding a second: that one goes, settings unchanged
  // (found by fuzzing; docs/fuzzing.md). NotFound when absent.
  Status RemoveSection(std::string_view title);

  std::string Serialize() const;

  // The text holds secret keys: the destructor wipes it, and assignment swaps
  // so the replaced content is wiped too.
  IniFile(const IniFile&) = default;
  IniFile(IniFile&&) noexcept = default;
  IniFile& operator=(const IniFile& other);
  IniFile& operator=(IniFile&& other) noexcept;
  ~IniFile();

 private:
  struct Line {
    std::string text;  // without the line end
    std::string eol;   // "\n", "\r\n", "\r", or "" on a last line without one
  };
  struct Key {
    std::string name;        // lower-cased
    size_t line = 0;         // index into lines_
    size_t last_line = 0;    // last continuation line (== line when none)
    size_t value_begin = 0;  // byte range of the stripped value in the key line
    size_t value_end = 0;
    std::vector<std::string> parts;  // configparser's value lines before joining
    std::vector<size_t> part_lines;  // line index of each part
    std::string Value() const;       // configparser's join: '\n'.join(parts).rstrip()
  };
  struct Section {
    std::string title;
    size_t header_line = 0;
    std::vector<Key> keys;
    const Key* Find(std::string_view lower_key) const;
  };

  IniFile() = default;
  static void InsertLines(std::vector<Line>& lines, size_t at, std::vector<Line> added, const std::string& eol);
  static Result<IniFile> FromLines(std::vector<Line> lines, std::string path);
  Status Index();
  Status CheckNestedBlocks() const;
  const Section* FindSection(std::string_view title) const;
  const Key* Resolve(std::string_view section, std::string_view key) const;
  std::vector<const Section*> DefaultSections() const;
  std::string NewLineEnding() const;
  // Replaces *this with `edited` if it parses, reads `expected` back for the
  // edited key (nullopt: the section no longer sets it) and leaves every other
  // value as it was.
  Status Commit(std::vector<Line> edited, std::string_view section, std::string_view key,
                std::optional<std::string_view> expected);

  std::string path_;
  std::vector<Line> lines_;
  std::vector<Section> sections_;                             // in file order, [DEFAULT] blocks included
  std::map<std::string, size_t, std::less<>> section_index_;  // title -> sections_ index, [DEFAULT] excluded
};

// The profile a section title names, following botocore (§9 of aws-wire.md):
// in a credentials file the title itself; in a config file "default", or the
// second word of a title starting with "profile" after POSIX shell splitting
// (so [profile "a b"] is `a b` and [profile default] is `default`). nullopt
// when the section is not a profile: [DEFAULT], [sso-session x], [services x],
// [dev2], [profile], [profile a b], [profile "unclosed].
// botocore only checks the prefix "profile", so [profiles x] names profile `x`.
std::optional<std::string> ProfileNameOfSection(std::string_view title, FileKind kind);

}  // namespace keyrotor::credentials
