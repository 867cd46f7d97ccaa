// IniFile's edits: Set, Remove, RemoveSection, keeping every other byte of
// the file as it was.
#include <algorithm>

#include "base/strings.h"
#include "credentials/ini_file.h"
#include "credentials/ini_syntax.h"

namespace keyrotor::credentials {

using ini_syntax::kDefaultSection;
using ini_syntax::IsValidUtf8;
using ini_syntax::LeadingSpaceBytes;
using ini_syntax::PyRStrip;
using ini_syntax::PyStrip;
using ini_syntax::IsCommentLine;
using ini_syntax::Quote;

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

}  // namespace keyrotor::credentials
