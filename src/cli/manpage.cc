// keyrotor manpage --output-dir DIR --prose-dir DIR: writes keyrotor.1 and
// one keyrotor-COMMAND[-SUBCOMMAND].1 per command, from the CLI11 definitions
// the binary parses with (so NAME, SYNOPSIS, OPTIONS and their defaults cannot
// drift from --help), plus the hand-written sections in PROSE_DIR/NAME.md
// (NAME: "keyrotor" for the top page, else the command path joined by '-').
//
// The prose format is a small subset of Markdown:
//   ## SECTION           starts a section (DESCRIPTION, EXIT STATUS, FILES, EXAMPLES, SEE ALSO, ...)
//   blank line           ends a paragraph
//   "    text"           a literal line (commands, file contents), kept as written
//   "- text"             a bulleted item, continued by the following indented lines
//   `code`, *term*       bold, italic
// DESCRIPTION prose follows the command's own description; SEE ALSO prose
// follows the generated references to the parent and sub-commands.
//
// Hidden: the build runs it (the `man` target); people read its output.
// Exit status: 0 written (a command without prose is named on stderr, and its
// page has only the generated sections), 1 a page could not be written, 2 bad input.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "base/file_util.h"
#include "base/strings.h"
#include "cli/common.h"

namespace keyrotor::cli {
namespace {

struct ManpageFlags {
  std::string output_dir;
  std::string prose_dir;
};

// Text for roff's fill mode: backslashes escaped, '-' as the minus sign \-
// (so options copy and paste as typed), every non-ASCII character as \[uXXXX]
// (groff warns about raw UTF-8 under -ww).
std::string Escape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
      uint32_t code = extra == 3 ? c & 0x07 : extra == 2 ? c & 0x0F : c & 0x1F;
      for (int k = 0; k < extra && i + 1 < text.size(); ++k) code = (code << 6) | (text[++i] & 0x3F);
      out += fmt::format("\\[u{:04X}]", code);
    }
  }
  return out;
}

// A line of roff input must not start with a control character.
std::string Line(const std::string& escaped) {
  if (!escaped.empty() && (escaped[0] == '.' || escaped[0] == '\'')) return "\\&" + escaped + "\n";
  return escaped + "\n";
}

// Inline markup: `code` in bold, *term* in italic (prose only: help texts
// hold ARN patterns like user/*); the rest escaped.
std::string Inline(std::string_view text, bool prose = false) {
  const char* marks = prose ? "`*" : "`";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    char mark = text[i];
    if (mark == '`' || (prose && mark == '*')) {
      size_t end = text.find(mark, i + 1);
      if (end != std::string_view::npos && end > i + 1) {
        out += (mark == '`' ? "\\fB" : "\\fI") + Escape(text.substr(i + 1, end - i - 1)) + "\\fR";
        i = end + 1;
        continue;
      }
    }
    size_t next = text.find_first_of(marks, i + 1);
    if (next == std::string_view::npos) next = text.size();
    out += Escape(text.substr(i, next - i));
    i = next;
  }
  return out;
}

struct ProseSection {
  std::string title;
  std::vector<std::string> lines;
};

Result<std::vector<ProseSection>> ParseProse(const std::string& path, const std::string& text) {
  std::vector<ProseSection> sections;
  int number = 0;
  for (const std::string& raw : Split(text, '\n')) {
    ++number;
    std::string line = raw;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (StartsWith(line, "## ")) {
      std::string title(Trim(line.substr(3)));
      if (title.empty() || title.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ ") != std::string::npos) {
        return Status::InvalidArgument(fmt::format("{}:{}: a section title must be upper case: '{}'", path, number, title));
      }
      sections.push_back({title, {}});
    } else if (sections.empty()) {
      if (!line.empty()) {
        return Status::InvalidArgument(fmt::format("{}:{}: text before the first '## SECTION'", path, number));
      }
    } else {
      sections.back().lines.push_back(line);
    }
  }
  return sections;
}

// Roff for a section's body: paragraphs, literal blocks, bulleted items. The
// text of a paragraph or item is marked up as a whole, so `code` may span lines.
std::string RenderProse(const std::vector<std::string>& lines) {
  std::string out, text;
  enum class Block { kNone, kParagraph, kLiteral, kItem } block = Block::kNone;
  auto close = [&] {
    if (block == Block::kLiteral) out += ".fi\n.RE\n";
    if (!text.empty()) out += Line(Inline(text, /*prose=*/true));
    text.clear();
    block = Block::kNone;
  };
  for (const std::string& line : lines) {
    if (line.empty()) {
      close();
    } else if (StartsWith(line, "    ") && (block == Block::kNone || block == Block::kLiteral)) {
      if (block != Block::kLiteral) out += ".PP\n.RS 4\n.nf\n";
      block = Block::kLiteral;
      out += Line(Escape(line.substr(4)));
    } else if (StartsWith(line, "- ")) {
      close();
      out += ".IP \\(bu 2\n";
      block = Block::kItem;
      text = std::string(Trim(line.substr(2)));
    } else {
      if (block == Block::kLiteral) close();
      if (block == Block::kNone) {
        out += ".PP\n";
        block = Block::kParagraph;
      }
      text += (text.empty() ? "" : " ") + std::string(Trim(line));
    }
  }
  close();
  return out;
}

// A section's body right after its .SH: a paragraph break there is redundant (mandoc warns).
std::string AfterHeading(std::string body) { return StartsWith(body, ".PP\n") ? body.substr(4) : body; }

bool Hidden(const CLI::Option* opt) { return opt->get_group().empty(); }
bool Hidden(const CLI::App* app) { return app->get_group().empty(); }

std::vector<const CLI::App*> VisibleSubcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !Hidden(sub); });
}

// "keyrotor config check" and the page's name, "keyrotor-config-check".
std::vector<std::string> CommandPath(const CLI::App& app) {
  std::vector<std::string> path;
  for (const CLI::App* a = &app; a->get_parent() != nullptr; a = a->get_parent())
    path.insert(path.begin(), a->get_name());
  path.insert(path.begin(), "keyrotor");
  return path;
}

// The option as --help shows it: "-h, --help", "--config TEXT".
std::string OptionHead(const CLI::Option* opt) {
  std::vector<std::string> names;
  for (const std::string& s : opt->get_snames()) names.push_back("\\fB\\-" + Escape(s) + "\\fR");
  for (const std::string& l : opt->get_lnames()) names.push_back("\\fB\\-\\-" + Escape(l) + "\\fR");
  std::string head = Join(names, ", ");
  if (opt->get_type_size_max() > 0 && !opt->get_type_name().empty()) {
    head += " \\fI" + Escape(opt->get_type_name()) + "\\fR";
  }
  return head;
}

std::string ToUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A positional argument as the synopsis names it: PATH, ENTRY.
std::string Placeholder(const CLI::Option* opt) { return ToUpper(opt->get_name(/*positional=*/true)); }

// First clause of the description, for NAME (whatis); "keyrotor: rotate ..." loses its "keyrotor: ".
std::string Summary(const std::string& name, std::string description) {
  if (StartsWith(description, name + ": ")) description = description.substr(name.size() + 2);
  size_t end = description.size();
  for (const char* stop : {". ", ": ", "; ", " ("}) end = std::min(end, description.find(stop));
  std::string summary = description.substr(0, end);
  while (!summary.empty() && summary.back() == '.') summary.pop_back();
  return summary;
}

std::string RenderPage(const CLI::App& app, const std::vector<ProseSection>& prose) {
  std::vector<std::string> path = CommandPath(app);
  std::string page_name = Join(path, "-");
  std::string out = fmt::format(".\\\" Generated by `keyrotor manpage` from the CLI definitions and docs/man/{}.md.\n",
                                path.size() == 1 ? "keyrotor" : Join({path.begin() + 1, path.end()}, "-"));
  out += fmt::format(".TH {} 1 \"\" \"keyrotor {}\" \"User Commands\"\n", Escape(ToUpper(page_name)), KEYROTOR_VERSION);
  // Option names and paths must not be hyphenated at a line end (--pro-file), nor spread out.
  out += ".nh\n.ad l\n";
  out += ".SH NAME\n" + Escape(page_name) + " \\- " + Escape(Summary(path.back(), app.get_description())) + "\n";

  std::vector<const CLI::Option*> options, positionals;
  for (const CLI::Option* opt : app.get_options([](const CLI::Option* o) { return !Hidden(o); })) {
    (opt->nonpositional() ? options : positionals).push_back(opt);
  }
  std::vector<const CLI::App*> subs = VisibleSubcommands(app);

  out += ".SH SYNOPSIS\n.B " + Escape(Join(path, " ")) + "\n";
  for (const CLI::Option* opt : options) {
    if (opt->get_required()) out += OptionHead(opt) + "\n";
  }
  if (!options.empty()) out += "[\\fIOPTIONS\\fR]\n";
  for (const CLI::Option* opt : positionals) {
    std::string name = "\\fI" + Escape(Placeholder(opt)) + "\\fR";
    out += (opt->get_required() ? name : "[" + name + "]") + "\n";
  }
  if (!subs.empty()) out += "\\fICOMMAND\\fR ...\n";

  out += ".SH DESCRIPTION\n" + Line(Inline(app.get_description()));
  std::map<std::string, const ProseSection*> by_title;
  for (const ProseSection& s : prose) by_title[s.title] = &s;
  if (by_title.count("DESCRIPTION")) out += RenderProse(by_title["DESCRIPTION"]->lines);

  if (!subs.empty()) {
    out += ".SH COMMANDS\n";
    for (const CLI::App* sub : subs) {
      out += ".TP\n\\fB" + Escape(sub->get_name()) + "\\fR\n" + Line(Inline(sub->get_description()));
      out += "See \\fB" + Escape(page_name + "-" + sub->get_name()) + "\\fR(1).\n";
    }
  }
  if (!positionals.empty()) {
    out += ".SH ARGUMENTS\n";
    for (const CLI::Option* opt : positionals) {
      out += ".TP\n\\fI" + Escape(Placeholder(opt)) + "\\fR\n" + Line(Inline(opt->get_description()));
    }
  }
  if (!options.empty()) {
    out += ".SH OPTIONS\n";
    for (const CLI::Option* opt : options) {
      out += ".TP\n" + OptionHead(opt) + "\n";
      std::string help = opt->get_description();
      if (opt->get_required()) help += help.empty() ? "Required." : " (required)";
      out += Line(Inline(help));
      if (!opt->get_default_str().empty()) out += ".br\nDefault: \\fB" + Escape(opt->get_default_str()) + "\\fR\n";
    }
  }
  for (const ProseSection& s : prose) {
    if (s.title == "DESCRIPTION" || s.title == "SEE ALSO") continue;
    out += ".SH " + s.title + "\n" + AfterHeading(RenderProse(s.lines));
  }

  std::vector<std::string> see_also;
  if (path.size() > 1) {
    see_also.push_back(Join({path.begin(), path.end() - 1}, "-"));
  }
  for (const CLI::App* sub : subs) see_also.push_back(page_name + "-" + sub->get_name());
  if (!see_also.empty() || by_title.count("SEE ALSO")) {
    out += ".SH SEE ALSO\n";
    std::vector<std::string> refs;
    for (const std::string& s : see_also) refs.push_back("\\fB" + Escape(s) + "\\fR(1)");
    std::string more = by_title.count("SEE ALSO") ? RenderProse(by_title["SEE ALSO"]->lines) : "";
    // One paragraph: the generated references, then the page's own.
    if (!refs.empty() && StartsWith(more, ".PP\n")) more = more.substr(4);
    if (!refs.empty()) out += Join(refs, ",\n") + (more.empty() ? "\n" : ",\n");
    out += more;
  }
  return out;
}

void CollectCommands(const CLI::App& app, std::vector<const CLI::App*>& out) {
  out.push_back(&app);
  for (const CLI::App* sub : VisibleSubcommands(app)) CollectCommands(*sub, out);
}

int WriteManpages(const CLI::App& root, const ManpageFlags& flags) {
  std::error_code ec;
  std::filesystem::create_directories(flags.output_dir, ec);
  if (ec) {
    PrintError(Status::IoError(flags.output_dir + ": " + ec.message()));
    return kExitPartialFailure;
  }
  std::vector<const CLI::App*> commands;
  CollectCommands(root, commands);
  std::set<std::string> written;
  for (const CLI::App* app : commands) {
    std::vector<std::string> path = CommandPath(*app);
    std::string prose_name = path.size() == 1 ? "keyrotor" : Join({path.begin() + 1, path.end()}, "-");
    std::string prose_path = flags.prose_dir + "/" + prose_name + ".md";
    std::vector<ProseSection> prose;
    Result<std::string> text = ReadFile(prose_path);
    if (text.ok()) {
      Result<std::vector<ProseSection>> parsed = ParseProse(prose_path, *text);
      if (!parsed.ok()) {
        PrintError(parsed.status());
        return kExitUsage;
      }
      prose = std::move(parsed).value();
    } else if (text.status().code() == StatusCode::kNotFound) {
      fmt::print(stderr, "keyrotor: warning: {}: no such file; `{}` gets a page without EXAMPLES\n", prose_path,
                 Join(path, " "));
    } else {
      PrintError(text.status());
      return kExitUsage;
    }
    std::string file = Join(path, "-") + ".1";
    AtomicWriteOptions options;
    options.mode = 0644;
    if (Status s = AtomicWriteFile(flags.output_dir + "/" + file, RenderPage(*app, prose), options); !s.ok()) {
      PrintError(s);
      return kExitPartialFailure;
    }
    written.insert(file);
  }
  // A page of a command that no longer exists would otherwise be installed forever.
  // increment(ec), not a range-for: its operator++ throws on a read error.
  for (std::filesystem::directory_iterator it(flags.output_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (StartsWith(name, "keyrotor") && name.ends_with(".1") && !written.count(name)) {
      std::error_code removed;
      std::filesystem::remove(it->path(), removed);
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterManpageCommand(CLI::App& app) {
  auto flags = std::make_shared<ManpageFlags>();
  auto* cmd = app.add_subcommand("manpage", "Write keyrotor's man pages (section 1) from its command definitions");
  cmd->group("");  // for the build, not for people
  cmd->add_option("--output-dir", flags->output_dir, "Where to write keyrotor.1 and keyrotor-COMMAND.1")->required();
  cmd->add_option("--prose-dir", flags->prose_dir, "The hand-written sections, NAME.md (docs/man)")->required();
  const CLI::App* root = &app;
  cmd->callback([root, flags] { throw CLI::RuntimeError(WriteManpages(*root, *flags)); });
}

}  // namespace keyrotor::cli
