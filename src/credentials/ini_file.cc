#include "credentials/ini_file.h"

#include <algorithm>

#include "base/file_util.h"
#include "base/secret.h"
#include "base/strings.h"
#include "credentials/ini_syntax.h"

namespace keyrotor::credentials {

using ini_syntax::kDefaultSection;
using ini_syntax::IsValidUtf8;
using ini_syntax::LeadingSpaceBytes;
using ini_syntax::PyRStrip;
using ini_syntax::PyStrip;
using ini_syntax::PySplitLines;
using ini_syntax::ShlexSplit;
using ini_syntax::IsCommentLine;
using ini_syntax::SectionTitleOf;
using ini_syntax::Quote;


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
