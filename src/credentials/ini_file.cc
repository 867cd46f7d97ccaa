#include "credentials/ini_file.h"

#include <algorithm>

#include "base/file_util.h"
#include "base/secret.h"
#include "base/strings.h"

namespace keyrotor::credentials {
namespace {

// configparser's defaults section: not a section, inherited by all of them.
constexpr std::string_view kDefaultSection = "DEFAULT";

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
  char32_t cp;
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
size_t LeadingSpaceBytes(std::string_view s, size_t* columns = nullptr) {
  size_t i = 0, cols = 0;
  char32_t cp;
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
    char32_t cp;
    if (DecodeUtf8(s, start, &cp) != end - start || !IsPySpace(cp)) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view PyStrip(std::string_view s) { return PyRStrip(s.substr(LeadingSpaceBytes(s))); }

std::vector<std::string_view> PySplitLines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  char32_t cp;
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

}  // namespace

// ---- model -------------------------------------------------------------------

std::string IniFile::Key::Value() const {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) joined += '\n';
    joined += parts[i];
  }
  joined.resize(PyRStrip(joined).size());
  return joined;
}

const IniFile::Key* IniFile::Section::Find(std::string_view lower_key) const {
  for (const Key& k : keys) {
    if (k.name == lower_key) return &k;
  }
  return nullptr;
}

Result<IniFile> IniFile::Parse(std::string_view text, std::string path) {
  std::vector<Line> lines;
  // Python's universal newlines: "\r\n", a lone "\r" and "\n" all end a line.
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    size_t eol_len = (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
    lines.push_back({std::string(text.substr(start, i - start)), std::string(text.substr(i, eol_len))});
    i += eol_len - 1;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back({std::string(text.substr(start)), ""});
  return FromLines(std::move(lines), std::move(path));
}

Result<IniFile> IniFile::Load(const std::string& path) {
  KR_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Result<IniFile> parsed = Parse(text, path);
  WipeString(text);
  return parsed;
}

IniFile& IniFile::operator=(IniFile&& other) noexcept {
  std::swap(path_, other.path_);
  std::swap(lines_, other.lines_);
  std::swap(sections_, other.sections_);
  std::swap(section_index_, other.section_index_);
  return *this;
}

IniFile& IniFile::operator=(const IniFile& other) {
  if (this != &other) *this = IniFile(other);
  return *this;
}

IniFile::~IniFile() {
  // Credentials files hold secret keys; leave none in freed memory.
  for (Line& l : lines_) WipeString(l.text);
  for (Section& s : sections_) {
    for (Key& k : s.keys) {
      for (std::string& part : k.parts) WipeString(part);
    }
  }
}

Result<IniFile> IniFile::FromLines(std::vector<Line> lines, std::string path) {
  IniFile f;
  f.path_ = std::move(path);
  f.lines_ = std::move(lines);
  KR_RETURN_IF_ERROR(f.Index());
  KR_RETURN_IF_ERROR(f.CheckNestedBlocks());
  return f;
}

// One pass over the lines in the order and with the decisions of
// configparser.RawConfigParser._read (Python 3.11). configparser collects some
// errors and raises at the end; any error fails the whole file for botocore,
// so we stop at the first one.
Status IniFile::Index() {
  sections_.clear();
  section_index_.clear();
  auto fail = [&](size_t line, const std::string& reason) {
    return Status::ParseError(path_ + ":" + std::to_string(line + 1) + ": " + reason);
  };
  for (size_t i = 0; i < lines_.size(); ++i) {
    // botocore decodes the whole file first; one bad byte and nothing parses.
    if (!IsValidUtf8(lines_[i].text)) return fail(i, "invalid UTF-8 (botocore cannot decode the file)");
  }

  std::map<std::pair<std::string, std::string>, size_t> key_lines;  // (title, key)
  Section* section = nullptr;
  Key* key = nullptr;  // the key a deeper-indented line would continue
  size_t indent_level = 0;

  for (size_t i = 0; i < lines_.size(); ++i) {
    const std::string& text = lines_[i].text;
    const std::string_view stripped = PyStrip(text);
    // Full-line comments are skipped wherever they are, even inside a
    // multi-line value, and do not end it.
    if (IsCommentLine(stripped)) continue;
    if (stripped.empty()) {
      // empty_lines_in_values=True: a blank line joins the current value
      // (the final rstrip drops trailing ones).
      if (key) {
        key->parts.emplace_back();
        key->part_lines.push_back(i);
      }
      continue;
    }
    size_t indent;
    const size_t lead = LeadingSpaceBytes(text, &indent);
    if (key && indent > indent_level) {
      key->parts.emplace_back(stripped);
      key->part_lines.push_back(i);
      key->last_line = i;
      continue;
    }
    indent_level = indent;
    key = nullptr;

    if (std::optional<std::string_view> title = SectionTitleOf(stripped)) {
      if (*title != kDefaultSection) {
        auto [it, fresh] = section_index_.emplace(std::string(*title), sections_.size());
        if (!fresh) {
          return fail(i, "section [" + std::string(*title) + "] is defined twice (first at line " +
                             std::to_string(sections_[it->second].header_line + 1) + ")");
        }
      }
      // [DEFAULT] may appear several times; each block is kept so edits land
      // where the user put them, and lookups search them all.
      sections_.push_back({std::string(*title), i, {}});
      section = &sections_.back();
      continue;
    }

    // No name is quoted before a section: a stray line there may be a
    // pasted secret.
    if (!section) return fail(i, "text appears before any [section] header");
    const size_t delim_rel = stripped.find_first_of("=:");
    if (delim_rel == std::string_view::npos) {
      if (stripped[0] == '[' && stripped.rfind(']') == 1) return fail(i, "empty section name '[]'");
      if (stripped[0] == '[') return fail(i, "unterminated section header (no closing ']')");
      return fail(i, "expected 'key = value', a [section] header or a comment");
    }
    const std::string_view raw_name = PyRStrip(stripped.substr(0, delim_rel));
    const std::string name = ToLower(raw_name);
    if (raw_name.empty()) return fail(i, std::string("missing key name before '") + stripped[delim_rel] + "'");
    auto [it, fresh] = key_lines.emplace(std::make_pair(section->title, name), i);
    if (!fresh) {
      return fail(i, "key " + Quote(name) + " is defined twice in section [" + section->title + "] (first at line " +
                         std::to_string(it->second + 1) + ")");
    }

    Key k;
    k.name = name;
    k.line = k.last_line = i;
    const size_t delim = lead + delim_rel;
    const size_t stripped_end = lead + stripped.size();
    k.value_begin = delim + 1 + LeadingSpaceBytes(std::string_view(text).substr(delim + 1));
    k.value_end = std::max(k.value_begin, stripped_end);
    k.parts.push_back(text.substr(k.value_begin, k.value_end - k.value_begin));
    k.part_lines.push_back(i);
    section->keys.push_back(std::move(k));
    key = &section->keys.back();
  }
  return Status::Ok();
}

// botocore's raw_config_parse turns every value that starts with '\n' (an
// empty key line followed by indented lines) into a dict, and refuses the file
// when one of those lines has no '='. It does so for the values each real
// section sees, so a bad block under [DEFAULT] only counts when some section
// inherits it.
Status IniFile::CheckNestedBlocks() const {
  auto check = [&](const Key& k) -> Status {
    if (k.Value().rfind('\n', 0) != 0) return Status::Ok();
    for (size_t p = 0; p < k.parts.size(); ++p) {
      for (std::string_view piece : PySplitLines(k.parts[p])) {
        if (!PyStrip(piece).empty() && piece.find('=') == std::string_view::npos) {
          return Status::ParseError(path_ + ":" + std::to_string(k.part_lines[p] + 1) +
                                    ": line in the nested block of key " + Quote(k.name) + " has no '='");
        }
      }
    }
    return Status::Ok();
  };
  const std::vector<const Section*> defaults = DefaultSections();
  for (const Section& s : sections_) {
    if (s.title == kDefaultSection) continue;
    for (const Key& k : s.keys) KR_RETURN_IF_ERROR(check(k));
    for (const Section* d : defaults) {
      for (const Key& k : d->keys) {
        if (!s.Find(k.name)) KR_RETURN_IF_ERROR(check(k));
      }
    }
  }
  return Status::Ok();
}

std::vector<const IniFile::Section*> IniFile::DefaultSections() const {
  std::vector<const Section*> out;
  for (const Section& s : sections_) {
    if (s.title == kDefaultSection) out.push_back(&s);
  }
  return out;
}

const IniFile::Section* IniFile::FindSection(std::string_view title) const {
  auto it = section_index_.find(title);
  return it == section_index_.end() ? nullptr : &sections_[it->second];
}

const IniFile::Key* IniFile::Resolve(std::string_view section, std::string_view key) const {
  const std::string name = ToLower(key);
  if (section != kDefaultSection) {
    const Section* s = FindSection(section);
    if (!s) return nullptr;
    if (const Key* k = s->Find(name)) return k;
  }
  for (const Section* d : DefaultSections()) {
    if (const Key* k = d->Find(name)) return k;
  }
  return nullptr;
}

std::vector<std::string> IniFile::Sections() const {
  std::vector<std::string> out;
  for (const Section& s : sections_) {
    if (s.title != kDefaultSection) out.push_back(s.title);
  }
  return out;
}

bool IniFile::HasSection(std::string_view title) const { return FindSection(title) != nullptr; }

std::optional<std::string> IniFile::Get(std::string_view section, std::string_view key) const {
  const Key* k = Resolve(section, key);
  if (!k) return std::nullopt;
  return k->Value();
}

std::optional<std::map<std::string, std::string>> IniFile::GetNested(std::string_view section,
                                                                     std::string_view key) const {
  std::optional<std::string> value = Get(section, key);
  if (!value || value->rfind('\n', 0) != 0) return std::nullopt;
  std::map<std::string, std::string> out;
  for (std::string_view line : PySplitLines(*value)) {
    line = PyStrip(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;  // only reachable under an uninherited [DEFAULT]
    out[std::string(PyStrip(line.substr(0, eq)))] = std::string(PyStrip(line.substr(eq + 1)));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> IniFile::Items(std::string_view section) const {
  std::vector<std::pair<std::string, std::string>> out;
  const Section* own = FindSection(section);
  if (own) {
    for (const Key& k : own->keys) out.emplace_back(k.name, k.Value());
  } else if (section != kDefaultSection) {
    return out;
  }
  for (const Section* d : DefaultSections()) {
    for (const Key& k : d->keys) {
      if (!own || !own->Find(k.name)) out.emplace_back(k.name, k.Value());
    }
  }
  return out;
}

int IniFile::LineOf(std::string_view section, std::string_view key) const {
  if (key.empty()) {
    for (const Section& s : sections_) {
      if (s.title == section) return static_cast<int>(s.header_line) + 1;
    }
    return 0;
  }
  const Key* k = Resolve(section, key);
  return k ? static_cast<int>(k->line) + 1 : 0;
}

std::optional<std::string> IniFile::SectionForProfile(std::string_view profile, FileKind kind) const {
  std::optional<std::string> found;
  for (const Section& s : sections_) {
    if (ProfileNameOfSection(s.title, kind) == profile) found = s.title;
  }
  return found;
}

std::string IniFile::Serialize() const {
  std::string out;
  for (const Line& l : lines_) {
    out += l.text;
    out += l.eol;
  }
  return out;
}

// ---- edits ---------------------------------------------------------------------

std::string IniFile::NewLineEnding() const {
  for (const Line& l : lines_) {
    if (!l.eol.empty()) return l.eol;
  }
  return "\n";
}

// Inserts `added` before index `at` (lines.size() appends), keeping a missing
// final newline missing: the old last line gets `eol`, the new last line none.
void IniFile::InsertLines(std::vector<Line>& lines, size_t at, std::vector<Line> added, const std::string& eol) {
  for (Line& l : added) l.eol = eol;
  if (at == lines.size() && !lines.empty() && lines.back().eol.empty()) {
    lines.back().eol = eol;
    added.back().eol.clear();
  }
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), added.begin(), added.end());
}

namespace {

Status CheckEditable(std::string_view section, std::string_view key, std::optional<std::string_view> value) {
  auto has_line_break = [](std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; };
  if (section.empty() || has_line_break(section) || !IsValidUtf8(section)) {
    return Status::InvalidArgument("section name must be one non-empty line of UTF-8");
  }
  if (key.empty() || has_line_break(key) || !IsValidUtf8(key) || PyStrip(key) != key ||
      key.find_first_of("=:") != std::string_view::npos || key[0] == '#' || key[0] == ';' || key[0] == '[') {
    return Status::InvalidArgument("key " + Quote(key) +
                                   " cannot be written: it must be one line without surrounding whitespace, "
                                   "'=' or ':', and must not start with '#', ';' or '['");
  }
  // The value is not quoted in the message: it is usually a secret.
  if (value && (has_line_break(*value) || !IsValidUtf8(*value) || PyStrip(*value) != *value)) {
    return Status::InvalidArgument("value for key " + Quote(key) +
                                   " cannot be written: botocore would read it back differently (line break, "
                                   "surrounding whitespace or invalid UTF-8)");
  }
  return Status::Ok();
}

}  // namespace

Status IniFile::Commit(std::vector<Line> edited, std::string_view section, std::string_view key,
                       std::optional<std::string_view> expected) {
  const std::string what = "[" + std::string(section) + "] " + std::string(key);
  Result<IniFile> reparsed = FromLines(std::move(edited), path_);
  if (!reparsed.ok()) {
    return Status::InvalidArgument("editing " + what +
                                   " would make the file unreadable to botocore: " + reparsed.status().message());
  }
  // Read the edit back as botocore would: the value (or its absence) must be
  // exactly what was asked for.
  const Key* k = nullptr;
  if (section == kDefaultSection) {
    k = reparsed->Resolve(section, key);
  } else if (const Section* s = reparsed->FindSection(section)) {
    k = s->Find(ToLower(key));
  }
  const bool reads_back = expected ? (k && k->Value() == *expected) : (k == nullptr);
  if (!reads_back) return Status::InvalidArgument("editing " + what + " would not read back as written");
  // And nothing else may change: every other value of every section that
  // existed reads the same (a [DEFAULT] edit changes the key everywhere).
  const std::string name = ToLower(key);
  auto without_edited = [&](const std::string& title, std::vector<std::pair<std::string, std::string>> items) {
    if (section == kDefaultSection || title == section) {
      std::erase_if(items, [&](const auto& item) { return item.first == name; });
    }
    return items;
  };
  std::vector<std::string> titles = Sections();
  titles.emplace_back(kDefaultSection);
  for (const std::string& title : titles) {
    if (without_edited(title, Items(title)) != without_edited(title, reparsed->Items(title)) ||
        HasSection(title) != reparsed->HasSection(title)) {
      return Status::InvalidArgument("editing " + what + " would change other settings in [" + title + "]");
    }
  }
  *this = std::move(reparsed).value();
  return Status::Ok();
}

Status IniFile::Set(std::string_view section, std::string_view key, std::string_view value) {
  KR_RETURN_IF_ERROR(CheckEditable(section, key, value));
  const std::string name = ToLower(key);
  const std::string eol = NewLineEnding();
  std::vector<Line> lines = lines_;

  // The block the key lives in (or should go to); for [DEFAULT] the block
  // that already has the key, else the last one.
  const Section* block = nullptr;
  const Key* existing = nullptr;
  for (const Section& s : sections_) {
    if (s.title != section) continue;
    block = &s;
    if ((existing = s.Find(name))) break;
  }

  if (existing) {
    std::string& text = lines[existing->line].text;
    std::string prefix = text.substr(0, existing->value_begin);
    const std::string suffix = text.substr(existing->value_end);
    // "key =" given a value: keep the spacing symmetric ("key = v", not "key =v").
    if (existing->value_begin == existing->value_end && !value.empty() && !prefix.empty() &&
        (prefix.back() == '=' || prefix.back() == ':') && prefix.size() >= 2 &&
        (prefix[prefix.size() - 2] == ' ' || prefix[prefix.size() - 2] == '\t')) {
      prefix += ' ';
    }
    text = prefix + std::string(value) + suffix;
    // The old value's continuation lines (and comments among them) go with it.
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(existing->line + 1),
                lines.begin() + static_cast<std::ptrdiff_t>(existing->last_line + 1));
    if (existing->last_line + 1 == lines_.size() && lines_.back().eol.empty()) lines[existing->line].eol.clear();
  } else if (block) {
    const Key* last = block->keys.empty() ? nullptr : &block->keys.back();
    const size_t anchor = last ? last->last_line : block->header_line;
    const std::string& anchor_text = lines_[last ? last->line : block->header_line].text;
    size_t indent_cols;
    std::string indent = anchor_text.substr(0, LeadingSpaceBytes(anchor_text, &indent_cols));
    // A line indented deeper than the new key right after it would become its
    // continuation (possible after a bare header: "[a]" then "  [b]").
    for (size_t i = anchor + 1; i < lines_.size(); ++i) {
      std::string_view stripped = PyStrip(lines_[i].text);
      if (stripped.empty() || IsCommentLine(stripped)) continue;
      size_t next_cols;
      size_t next_lead = LeadingSpaceBytes(lines_[i].text, &next_cols);
      if (next_cols > indent_cols) indent = lines_[i].text.substr(0, next_lead);
      break;
    }
    // Copy the separator style of the key above ("k=v", "k = v", "k: v").
    std::string sep = " = ";
    if (last) {
      const std::string& t = lines_[last->line].text;
      size_t delim = t.find_first_of("=:", LeadingSpaceBytes(t));
      std::string before(PyRStrip(t.substr(0, delim)));
      sep = t.substr(before.size(), last->value_begin - before.size());
      std::string_view ws_before = std::string_view(sep).substr(0, delim - before.size());
      if (sep.size() == ws_before.size() + 1) sep += ws_before;  // "k =" had no space after: mirror
    }
    std::string line = indent + std::string(key) + sep + std::string(value);
    if (value.empty()) line.resize(PyRStrip(line).size());
    InsertLines(lines, anchor + 1, {Line{line, ""}}, eol);
  } else {
    std::vector<Line> added;
    if (!lines.empty() && !PyStrip(lines.back().text).empty()) added.push_back({"", ""});
    added.push_back({"[" + std::string(section) + "]", ""});
    added.push_back({std::string(key) + (value.empty() ? " =" : " = " + std::string(value)), ""});
    InsertLines(lines, lines.size(), std::move(added), eol);
  }
  return Commit(std::move(lines), section, key, value);
}

Status IniFile::Remove(std::string_view section, std::string_view key) {
  const std::string name = ToLower(key);
  const Key* existing = nullptr;
  for (const Section& s : sections_) {
    if (s.title == section && (existing = s.Find(name))) break;
  }
  if (!existing) return Status::NotFound("section [" + std::string(section) + "] does not set " + Quote(name));
  std::vector<Line> lines = lines_;
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(existing->line),
              lines.begin() + static_cast<std::ptrdiff_t>(existing->last_line + 1));
  // Removing the last line must not add a final newline the file did not have.
  if (existing->last_line + 1 == lines_.size() && lines_.back().eol.empty() && !lines.empty()) lines.back().eol.clear();
  return Commit(std::move(lines), section, key, std::nullopt);
}

Status IniFile::RemoveSection(std::string_view title) {
  if (title == kDefaultSection) return Status::InvalidArgument("the [DEFAULT] section cannot be removed");
  const Section* section = FindSection(title);
  if (!section) return Status::NotFound("no section [" + std::string(title) + "]");
  size_t begin = section->header_line;
  size_t end = lines_.size();
  for (const Section& other : sections_) {
    if (other.header_line > begin && other.header_line < end) end = other.header_line;
  }
  const bool to_end = end == lines_.size();
  if (to_end && begin > 0 && PyStrip(lines_[begin - 1].text).empty()) --begin;
  std::vector<Line> lines = lines_;
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(begin), lines.begin() + static_cast<std::ptrdiff_t>(end));
  if (to_end && !lines.empty() && lines_.back().eol.empty()) lines.back().eol.clear();
  Result<IniFile> reparsed = FromLines(std::move(lines), path_);
  if (!reparsed.ok()) {
    return Status::InvalidArgument("removing [" + std::string(title) +
                                   "] would make the file unreadable to botocore: " + reparsed.status().message());
  }
  // Every other section must read exactly as before.
  std::vector<std::string> titles = Sections();
  titles.emplace_back(kDefaultSection);
  for (const std::string& other : titles) {
    if (other == title) continue;
    if (Items(other) != reparsed->Items(other) || HasSection(other) != reparsed->HasSection(other)) {
      return Status::InvalidArgument("removing [" + std::string(title) + "] would change other settings in [" + other +
                                     "]");
    }
  }
  if (reparsed->HasSection(title)) {
    return Status::InvalidArgument("removing [" + std::string(title) + "] would not remove it");
  }
  *this = std::move(reparsed).value();
  return Status::Ok();
}

// ---- profile names ---------------------------------------------------------------

// botocore's build_profile_map: a title that starts with "profile" is
// shlex-split and names a profile only when that gives exactly two words.
// The prefix test comes before the "default" test and checks no word boundary.
std::optional<std::string> ProfileNameOfSection(std::string_view title, FileKind kind) {
  if (title == kDefaultSection) return std::nullopt;
  if (kind == FileKind::kCredentials) return std::string(title);
  if (StartsWith(title, "profile")) {
    std::optional<std::vector<std::string>> words = ShlexSplit(title);
    if (words && words->size() == 2) return (*words)[1];
    return std::nullopt;
  }
  if (title == "default") return std::string(title);
  return std::nullopt;
}

}  // namespace keyrotor::credentials
