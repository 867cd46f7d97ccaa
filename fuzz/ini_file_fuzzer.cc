// The shared config/credentials file parser (credentials/ini_file.h).
//
// Properties, from the header's promises:
//  - Serialize() of an unedited file returns the input byte for byte;
//  - a parse error is "PATH:LINE: reason";
//  - the model is stable: what Get() reads for every key, and what
//    SectionForProfile() picks, are the same after a re-parse;
//  - Set() of a key in a new section, then RemoveSection() of it, gives back
//    the original bytes, and the value reads back in between;
//  - Set() of an existing key either is refused or reads back, leaving the
//    file parseable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "credentials/ini_file.h"
#include "fuzz_check.h"

using keyrotor::credentials::FileKind;
using keyrotor::credentials::IniFile;

namespace {

constexpr char kPath[] = "/fuzz/config";

// Whether the last line (before a final line end) holds only whitespace. Any
// non-ASCII byte counts as possible whitespace (U+00A0 and friends are, to
// configparser), which only makes the check below skip more often.
bool EndsWithBlankLine(std::string_view text) {
  if (text.ends_with("\r\n")) {
    text.remove_suffix(2);
  } else if (text.ends_with('\n') || text.ends_with('\r')) {
    text.remove_suffix(1);
  } else if (text.empty()) {
    return false;
  }
  size_t start = text.find_last_of("\r\n");
  std::string_view last = start == std::string_view::npos ? text : text.substr(start + 1);
  for (char c : last) {
    // Python's str.isspace() in ASCII: \t \v \f, the separators 0x1c-0x1f, space.
    const auto u = static_cast<unsigned char>(c);
    if (u != ' ' && u != '\t' && u != '\f' && u != '\v' && !(u >= 0x1c && u <= 0x1f) && u < 0x80) return false;
  }
  return true;
}

void Run(std::string_view text) {
  keyrotor::Result<IniFile> parsed = IniFile::Parse(text, kPath);
  if (!parsed.ok()) {
    FUZZ_CHECK(keyrotor::fuzz::NamesALine(parsed.status().message(), kPath));
    return;
  }
  IniFile& file = *parsed;
  FUZZ_CHECK(file.Serialize() == text);

  keyrotor::Result<IniFile> again = IniFile::Parse(file.Serialize(), kPath);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->Sections() == file.Sections());
  for (const std::string& section : file.Sections()) {
    FUZZ_CHECK(file.HasSection(section));
    FUZZ_CHECK(file.LineOf(section) > 0);
    auto items = file.Items(section);
    FUZZ_CHECK(again->Items(section) == items);
    for (const auto& [key, value] : items) {
      FUZZ_CHECK(file.Get(section, key) == value);
      FUZZ_CHECK(file.LineOf(section, key) > 0);
      (void)file.GetNested(section, key);
    }
    for (FileKind kind : {FileKind::kConfig, FileKind::kCredentials}) {
      std::optional<std::string> profile = keyrotor::credentials::ProfileNameOfSection(section, kind);
      if (!profile) continue;
      std::optional<std::string> owner = file.SectionForProfile(*profile, kind);
      FUZZ_CHECK(owner.has_value());
      FUZZ_CHECK(keyrotor::credentials::ProfileNameOfSection(*owner, kind) == profile);
    }
  }

  // An appended section comes off again without a trace. Not when the file
  // ends with a blank line: Set() then adds no blank line before the new
  // header, and RemoveSection() cannot tell that blank line from one Set()
  // added, so it goes too (the settings are unchanged; see docs/fuzzing.md).
  const std::string fresh = "profile keyrotor-fuzz-new";
  if (!file.HasSection(fresh)) {
    IniFile edited = file;
    if (edited.Set(fresh, "aws_access_key_id", "AKIAIOSFODNN7EXAMPLE").ok()) {
      FUZZ_CHECK(edited.Get(fresh, "aws_access_key_id") == "AKIAIOSFODNN7EXAMPLE");
      FUZZ_CHECK(IniFile::Parse(edited.Serialize(), kPath).ok());
      FUZZ_CHECK(edited.RemoveSection(fresh).ok());
      if (!EndsWithBlankLine(text)) {
        FUZZ_CHECK(edited.Serialize() == text);
      } else {
        FUZZ_CHECK(edited.Sections() == file.Sections());
        for (const std::string& section : file.Sections()) FUZZ_CHECK(edited.Items(section) == file.Items(section));
      }
    }
  }

  // Rewriting the first key of the first section: refused, or it reads back
  // and the result parses to the same sections.
  std::vector<std::string> sections = file.Sections();
  if (!sections.empty()) {
    auto items = file.Items(sections.front());
    if (!items.empty()) {
      IniFile edited = file;
      const std::string& key = items.front().first;
      if (edited.Set(sections.front(), key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").ok()) {
        FUZZ_CHECK(edited.Get(sections.front(), key) == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        keyrotor::Result<IniFile> reread = IniFile::Parse(edited.Serialize(), kPath);
        FUZZ_CHECK(reread.ok());
        FUZZ_CHECK(reread->Sections() == sections);
      }
      if (edited.Remove(sections.front(), key).ok()) {
        keyrotor::Result<IniFile> reread = IniFile::Parse(edited.Serialize(), kPath);
        FUZZ_CHECK(reread.ok());
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return keyrotor::fuzz::Guarded([&] { Run(std::string_view(reinterpret_cast<const char*>(data), size)); });
}
