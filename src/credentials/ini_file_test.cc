// Expected values below were observed on this machine with Python 3.11.7's
// configparser and botocore 1.43.11 (botocore.configloader.raw_config_parse /
// build_profile_map on the same bytes); the comments say what botocore returns
// where it is not obvious.
#include "credentials/ini_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "base/file_util.h"

namespace keyrotor::credentials {
namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

IniFile Parsed(std::string_view text) {
  Result<IniFile> r = IniFile::Parse(text, "test.ini");
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return IniFile::Parse("", "empty").value();
  }
  return std::move(r).value();
}

// The message of the ParseError `text` must give.
std::string ParseErrorOf(std::string_view text) {
  Result<IniFile> r = IniFile::Parse(text, "/home/u/.aws/config");
  if (r.ok()) {
    ADD_FAILURE() << "parsed, but botocore refuses it: " << text;
    return "";
  }
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  return r.status().message();
}

// ---- reading ----------------------------------------------------------------

constexpr std::string_view kMessy =
    "# top comment\n"
    "; another style\n"
    "[default]\n"
    "AWS_Access_Key_ID = AKIAOLD   # rotated 2024\n"
    "aws_secret_access_key: secret1\n"
    "    # an indented comment\n"
    "\n"
    "[profile dev]\n"
    "region=us-east-1\n"
    "s3 =\n"
    "  addressing_style = path\n"
    "  Signature_Version = s3v4\n"
    "unknown_key   =   kept  \n"
    "\t; tab-indented comment\n"
    "[Default]\n"
    "output = json";  // no final newline

TEST(IniFileParseTest, MessyFileRoundTripsByteForByte) {
  IniFile f = Parsed(kMessy);
  EXPECT_EQ(f.Serialize(), kMessy);
  EXPECT_EQ(f.Sections(), (std::vector<std::string>{"default", "profile dev", "Default"}));
  EXPECT_EQ(f.Get("default", "aws_access_key_id"), "AKIAOLD   # rotated 2024");
  EXPECT_EQ(f.Get("default", "aws_secret_access_key"), "secret1");
  EXPECT_EQ(f.Get("profile dev", "unknown_key"), "kept");
  EXPECT_EQ(f.Get("Default", "output"), "json");
  EXPECT_EQ(f.path(), "test.ini");
}

TEST(IniFileParseTest, CrlfAndLoneCrEndLinesAndArePreserved) {
  // Python reads files with universal newlines: "\r\n" and a lone "\r" end lines.
  const std::string text = "[a]\r\nk = v\r\n  w\r\nj = 1\rm = 2\r\n";
  IniFile f = Parsed(text);
  EXPECT_EQ(f.Serialize(), text);
  EXPECT_EQ(f.Get("a", "k"), "v\nw");
  EXPECT_EQ(f.Get("a", "j"), "1");
  EXPECT_EQ(f.Get("a", "m"), "2");
  EXPECT_EQ(f.LineOf("a", "m"), 5);
}

TEST(IniFileParseTest, EmptyAndCommentOnlyFiles) {
  IniFile empty = Parsed("");
  EXPECT_TRUE(empty.Sections().empty());
  EXPECT_EQ(empty.Serialize(), "");
  IniFile comments = Parsed("   \n\n# c\n; d");
  EXPECT_TRUE(comments.Sections().empty());
  EXPECT_EQ(comments.Serialize(), "   \n\n# c\n; d");
}

TEST(IniFileParseTest, KeysAreLowerCasedAndBothSeparatorsWork) {
  IniFile f = Parsed("[a]\nAWS_Secret_Access_Key : s\nRegion=r\nk : v : w\nj= x=y\n");
  EXPECT_EQ(f.Get("a", "aws_secret_access_key"), "s");
  EXPECT_EQ(f.Get("a", "AWS_SECRET_ACCESS_KEY"), "s");
  EXPECT_EQ(f.Get("a", "k"), "v : w");  // the first '=' or ':' separates
  EXPECT_EQ(f.Get("a", "j"), "x=y");
  EXPECT_EQ(f.Items("a"), (Items{{"aws_secret_access_key", "s"}, {"region", "r"}, {"k", "v : w"}, {"j", "x=y"}}));
}

TEST(IniFileParseTest, InlineCommentsAreNotStripped) {
  IniFile f = Parsed("[a]\naws_access_key_id = AKIA1   # note\nj = x ; y\nk = #all\n");
  EXPECT_EQ(f.Get("a", "aws_access_key_id"), "AKIA1   # note");
  EXPECT_EQ(f.Get("a", "j"), "x ; y");
  EXPECT_EQ(f.Get("a", "k"), "#all");
}

TEST(IniFileParseTest, SectionHeaderRunsToLastBracketAndKeepsSpaces) {
  // SECTCRE is \[(?P<header>.+)\]: greedy, untrimmed; text after ']' ignored.
  IniFile f = Parsed("[ a ] ]  trailing\nk=1\n[b]c]\n[d] # comment\n");
  EXPECT_EQ(f.Sections(), (std::vector<std::string>{" a ] ", "b]c", "d"}));
  EXPECT_EQ(f.Get(" a ] ", "k"), "1");
  EXPECT_FALSE(f.HasSection("a"));
  EXPECT_TRUE(f.HasSection("d"));
}

TEST(IniFileParseTest, SectionNamesAreCaseSensitive) {
  IniFile f = Parsed("[default]\nk=1\n[Default]\nk=2\n");
  EXPECT_EQ(f.Get("default", "k"), "1");
  EXPECT_EQ(f.Get("Default", "k"), "2");
  EXPECT_EQ(f.Get("DEFAULT", "k"), std::nullopt);
}

TEST(IniFileParseTest, ContinuationLinesCommentsAndBlankLines) {
  // botocore: 'v1\n\nv2\nv3' — the blank line stays, both comments (indented
  // or not) are skipped without ending the value, trailing blanks are dropped.
  IniFile f = Parsed("[a]\nk = v1\n\n  v2\n  # indented comment\n# comment\n  v3\n\n\nj = 1\n");
  EXPECT_EQ(f.Get("a", "k"), "v1\n\nv2\nv3");
  EXPECT_EQ(f.Get("a", "j"), "1");
  EXPECT_EQ(f.LineOf("a", "j"), 10);
}

TEST(IniFileParseTest, IndentationDecidesContinuationInUnicodeColumns) {
  // U+00A0 and U+3000 are whitespace to Python, so they indent.
  IniFile f = Parsed("[a]\nk=1\n\xc2\xa0v\n\xe3\x80\x80w\n");
  EXPECT_EQ(f.Get("a", "k"), "1\nv\nw");
  // Keys indented alike are separate keys; a shallower one too.
  IniFile g = Parsed("[a]\n  k=1\n  j=2\nm=3\n");
  EXPECT_EQ(g.Items("a"), (Items{{"k", "1"}, {"j", "2"}, {"m", "3"}}));
  // An indented "[b]" after a key continues the value, not a section.
  IniFile h = Parsed("[a]\nk=1\n  [b]\n");
  EXPECT_EQ(h.Get("a", "k"), "1\n[b]");
  EXPECT_FALSE(h.HasSection("b"));
  // ...but right after a header nothing can be continued.
  IniFile i = Parsed("  [a]\n  k=1\n[b]\n");
  EXPECT_EQ(i.Sections(), (std::vector<std::string>{"a", "b"}));
}

TEST(IniFileParseTest, NestedBlockReadsAsBotocoreDict) {
  IniFile f = Parsed("[profile dev]\ns3 =\n  Addressing_Style = path\n  x = 1\n  x = 2\n  y=  a = b \nregion = r\n");
  // Nested keys keep their case and the last duplicate wins.
  EXPECT_EQ(f.GetNested("profile dev", "s3"),
            (std::map<std::string, std::string>{{"Addressing_Style", "path"}, {"x", "2"}, {"y", "a = b"}}));
  EXPECT_EQ(f.Get("profile dev", "s3"), "\nAddressing_Style = path\nx = 1\nx = 2\ny=  a = b");
  EXPECT_EQ(f.GetNested("profile dev", "region"), std::nullopt);
  EXPECT_EQ(f.GetNested("profile dev", "missing"), std::nullopt);
}

TEST(IniFileParseTest, NestedBlockMayStartAfterABlankLine) {
  IniFile f = Parsed("[a]\ns3 =\n\n  a=b\n");
  EXPECT_EQ(f.GetNested("a", "s3"), (std::map<std::string, std::string>{{"a", "b"}}));
}

TEST(IniFileParseTest, EmptyValueIsTheEmptyString) {
  IniFile f = Parsed("[a]\nk =\ns3 =\n\n[b]\n");
  EXPECT_EQ(f.Get("a", "k"), "");
  EXPECT_EQ(f.Get("a", "s3"), "");  // a blank line alone does not make a block
  EXPECT_EQ(f.GetNested("a", "s3"), std::nullopt);
}

TEST(IniFileParseTest, UnterminatedHeaderWithSeparatorIsAKey) {
  // configparser tries SECTCRE, then OPTCRE: "[b = c" is the key "[b".
  IniFile f = Parsed("[a]\n[b = c\n");
  EXPECT_EQ(f.Get("a", "[b"), "c");
  EXPECT_EQ(f.Sections(), std::vector<std::string>{"a"});
}

TEST(IniFileParseTest, DefaultSectionIsInheritedAndNotListed) {
  // configparser's [DEFAULT] (exact case): hidden from sections(), inherited
  // by all; it may appear twice. botocore gives profile a region 'x'.
  IniFile f = Parsed("[DEFAULT]\nregion = x\n[profile a]\nk=1\n[b]\nregion=y\n[DEFAULT]\noutput=json\n");
  EXPECT_EQ(f.Sections(), (std::vector<std::string>{"profile a", "b"}));
  EXPECT_FALSE(f.HasSection("DEFAULT"));
  EXPECT_EQ(f.Get("profile a", "region"), "x");
  EXPECT_EQ(f.Get("b", "region"), "y");
  EXPECT_EQ(f.Get("DEFAULT", "output"), "json");
  EXPECT_EQ(f.Items("profile a"), (Items{{"k", "1"}, {"region", "x"}, {"output", "json"}}));
  EXPECT_EQ(f.Items("b"), (Items{{"region", "y"}, {"output", "json"}}));
  EXPECT_EQ(f.LineOf("profile a", "region"), 2);  // where the value comes from
  EXPECT_EQ(f.LineOf("b", "region"), 6);
  EXPECT_EQ(f.Get("nosuch", "region"), std::nullopt);
}

TEST(IniFileParseTest, LineOfSectionsAndKeys) {
  IniFile f = Parsed(kMessy);
  EXPECT_EQ(f.LineOf("default"), 3);
  EXPECT_EQ(f.LineOf("profile dev"), 8);
  EXPECT_EQ(f.LineOf("profile dev", "S3"), 10);
  EXPECT_EQ(f.LineOf("Default", "output"), 16);
  EXPECT_EQ(f.LineOf("profile dev", "output"), 0);
  EXPECT_EQ(f.LineOf("nosuch"), 0);
}

TEST(IniFileParseTest, LoadReadsTheFileAndReportsNotFound) {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "kr-ini-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/credentials";
  Result<IniFile> missing = IniFile::Load(path);
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  ASSERT_TRUE(AtomicWriteFile(path, "[default]\naws_access_key_id = AKIA1\n").ok());
  Result<IniFile> f = IniFile::Load(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->Get("default", "aws_access_key_id"), "AKIA1");
  EXPECT_EQ(f->path(), path);
  ASSERT_TRUE(AtomicWriteFile(path, "[a]\n[a]\n").ok());
  EXPECT_EQ(IniFile::Load(path).status().message(), path + ":2: section [a] is defined twice (first at line 1)");
  fs::remove_all(dir);
}

// ---- what botocore refuses -----------------------------------------------------

TEST(IniFileErrorTest, DuplicateSection) {
  EXPECT_EQ(ParseErrorOf("[a]\n[b]\n[a] # same title\n"),
            "/home/u/.aws/config:3: section [a] is defined twice (first at line 1)");
}

TEST(IniFileErrorTest, DuplicateKeyAfterLowerCasing) {
  EXPECT_EQ(ParseErrorOf("[a]\nKey=1\nkey=2\n"),
            "/home/u/.aws/config:3: key 'key' is defined twice in section [a] (first at line 2)");
  // Across two [DEFAULT] blocks too.
  EXPECT_EQ(ParseErrorOf("[DEFAULT]\nregion = x\n[a]\n[DEFAULT]\nREGION=1\n"),
            "/home/u/.aws/config:5: key 'region' is defined twice in section [DEFAULT] (first at line 2)");
}

TEST(IniFileErrorTest, AnythingBeforeTheFirstSection) {
  EXPECT_EQ(ParseErrorOf("# fine\nk=1\n[a]\n"), "/home/u/.aws/config:2: text appears before any [section] header");
  EXPECT_EQ(ParseErrorOf("garbage\n"), "/home/u/.aws/config:1: text appears before any [section] header");
}

TEST(IniFileErrorTest, MessagesNeverQuoteLineText) {
  // A pasted secret on a stray line must not end up in a log.
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  EXPECT_EQ(ParseErrorOf(secret + "==\n[a]\n").find(secret), std::string::npos);
  EXPECT_EQ(ParseErrorOf("[a]\n" + secret + "\n").find(secret), std::string::npos);
}

TEST(IniFileErrorTest, LineThatIsNeitherKeySectionNorComment) {
  EXPECT_EQ(ParseErrorOf("[a]\nk = 1\nnokey\n"),
            "/home/u/.aws/config:3: expected 'key = value', a [section] header or a comment");
}

TEST(IniFileErrorTest, BadSectionHeaders) {
  EXPECT_EQ(ParseErrorOf("[a]\n[b\n"), "/home/u/.aws/config:2: unterminated section header (no closing ']')");
  EXPECT_EQ(ParseErrorOf("[a]\n[]\n"), "/home/u/.aws/config:2: empty section name '[]'");
  EXPECT_EQ(ParseErrorOf("[]\n"), "/home/u/.aws/config:1: text appears before any [section] header");
}

TEST(IniFileErrorTest, MissingKeyName) {
  EXPECT_EQ(ParseErrorOf("[a]\n=1\n"), "/home/u/.aws/config:2: missing key name before '='");
  EXPECT_EQ(ParseErrorOf("[a]\n  : x\n"), "/home/u/.aws/config:2: missing key name before ':'");
}

TEST(IniFileErrorTest, NestedBlockLineWithoutEquals) {
  EXPECT_EQ(ParseErrorOf("[a]\ns3 =\n  addressing_style = path\n  signature_version\n"),
            "/home/u/.aws/config:4: line in the nested block of key 's3' has no '='");
  // botocore splits nested lines on '=' only.
  EXPECT_EQ(ParseErrorOf("[a]\ns3 =\n  addressing_style: path\n"),
            "/home/u/.aws/config:3: line in the nested block of key 's3' has no '='");
  // With a value on the key line it is a plain multi-line value.
  IniFile f = Parsed("[a]\nk = x\n  no equals here\n");
  EXPECT_EQ(f.Get("a", "k"), "x\nno equals here");
}

TEST(IniFileErrorTest, BadNestedBlockInDefaultCountsOnlyWhenInherited) {
  // botocore parses nested blocks of the values each section sees.
  Parsed("[DEFAULT]\ns3=\n  bad\n");             // no section inherits it
  Parsed("[DEFAULT]\ns3=\n  bad\n[a]\ns3=1\n");  // overridden
  EXPECT_EQ(ParseErrorOf("[DEFAULT]\ns3=\n  bad\n[a]\n"),
            "/home/u/.aws/config:3: line in the nested block of key 's3' has no '='");
}

TEST(IniFileErrorTest, InvalidUtf8AndByteOrderMark) {
  EXPECT_EQ(ParseErrorOf("[a]\nk=\xff\n"), "/home/u/.aws/config:2: invalid UTF-8 (botocore cannot decode the file)");
  // Python's utf-8 codec rejects encoded surrogates.
  EXPECT_EQ(ParseErrorOf("[a]\nk=\xed\xa0\x80\n"),
            "/home/u/.aws/config:2: invalid UTF-8 (botocore cannot decode the file)");
  // botocore reads with 'utf-8', not 'utf-8-sig': the BOM is text before [a].
  EXPECT_EQ(ParseErrorOf("\xef\xbb\xbf[a]\nk=1\n"), "/home/u/.aws/config:1: text appears before any [section] header");
}

// ---- edits -------------------------------------------------------------------------

TEST(IniFileEditTest, SetReplacesOnlyTheValue) {
  IniFile f = Parsed(kMessy);
  ASSERT_TRUE(f.Set("default", "aws_access_key_id", "AKIANEW").ok());
  ASSERT_TRUE(f.Set("default", "AWS_SECRET_ACCESS_KEY", "secret2").ok());
  ASSERT_TRUE(f.Set("profile dev", "unknown_key", "still kept").ok());
  std::string expected(kMessy);
  expected.replace(expected.find("AKIAOLD   # rotated 2024"), 24, "AKIANEW");
  expected.replace(expected.find("secret1"), 7, "secret2");
  expected.replace(expected.find("=   kept  "), 10, "=   still kept  ");
  EXPECT_EQ(f.Serialize(), expected);
  EXPECT_EQ(f.Get("default", "aws_access_key_id"), "AKIANEW");
}

TEST(IniFileEditTest, SetOnAnEmptyValueKeepsTheSpacingStyle) {
  IniFile f = Parsed("[a]\nk =\nj=\nm = \n");
  ASSERT_TRUE(f.Set("a", "k", "1").ok());
  ASSERT_TRUE(f.Set("a", "j", "2").ok());
  ASSERT_TRUE(f.Set("a", "m", "3").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\nj=2\nm = 3\n");
  ASSERT_TRUE(f.Set("a", "k", "").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = \nj=2\nm = 3\n");
  EXPECT_EQ(f.Get("a", "k"), "");
}

TEST(IniFileEditTest, SetDropsTheOldValuesContinuationLines) {
  IniFile f = Parsed("[a]\ns3 =\n  addressing_style = path\n  # about it\n  x = y\n# after\nk = 1\n");
  ASSERT_TRUE(f.Set("a", "s3", "plain").ok());
  EXPECT_EQ(f.Serialize(), "[a]\ns3 = plain\n# after\nk = 1\n");
}

TEST(IniFileEditTest, SetAppendsAfterTheLastKeyOfTheSection) {
  IniFile f = Parsed("[a]\nx: 1\n  more\n# about [b]\n\n[b]\n  k=1\n  j=2\n");
  ASSERT_TRUE(f.Set("a", "aws_session_token", "tok").ok());
  ASSERT_TRUE(f.Set("b", "Region", "r").ok());
  // The new line copies the separator and indentation of the key above it.
  EXPECT_EQ(f.Serialize(), "[a]\nx: 1\n  more\naws_session_token: tok\n# about [b]\n\n[b]\n  k=1\n  j=2\n  Region=r\n");
  EXPECT_EQ(f.Get("b", "region"), "r");
}

TEST(IniFileEditTest, SetInAnEmptySectionDoesNotSwallowAnIndentedHeader) {
  // "  [b]" right after "[a]" is a section; after an unindented key it would
  // be that key's continuation, so the new key takes its indentation.
  IniFile f = Parsed("[a]\n  [b]\n");
  ASSERT_TRUE(f.Set("a", "k", "v").ok());
  EXPECT_EQ(f.Serialize(), "[a]\n  k = v\n  [b]\n");
  EXPECT_EQ(f.Sections(), (std::vector<std::string>{"a", "b"}));
}

TEST(IniFileEditTest, SetCreatesAMissingSectionAtTheEnd) {
  IniFile f = Parsed("[a]\nk = 1\n");
  ASSERT_TRUE(f.Set("profile new", "region", "eu-west-1").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\n\n[profile new]\nregion = eu-west-1\n");
  // Already ending with a blank line: no second one.
  IniFile g = Parsed("[a]\nk = 1\n\n");
  ASSERT_TRUE(g.Set("b", "k", "2").ok());
  EXPECT_EQ(g.Serialize(), "[a]\nk = 1\n\n[b]\nk = 2\n");
  IniFile empty = Parsed("");
  ASSERT_TRUE(empty.Set("default", "aws_access_key_id", "AKIA1").ok());
  EXPECT_EQ(empty.Serialize(), "[default]\naws_access_key_id = AKIA1\n");
}

TEST(IniFileEditTest, AMissingFinalNewlineStaysMissing) {
  IniFile f = Parsed("[a]\nk = 1");
  ASSERT_TRUE(f.Set("a", "j", "2").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\nj = 2");
  ASSERT_TRUE(f.Set("b", "m", "3").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\nj = 2\n\n[b]\nm = 3");
  ASSERT_TRUE(f.Remove("b", "m").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\nj = 2\n\n[b]");
}

TEST(IniFileEditTest, NewLinesUseTheFilesLineEnding) {
  IniFile f = Parsed("[a]\r\nk = 1\r\n");
  ASSERT_TRUE(f.Set("a", "j", "2").ok());
  ASSERT_TRUE(f.Set("b", "m", "3").ok());
  EXPECT_EQ(f.Serialize(), "[a]\r\nk = 1\r\nj = 2\r\n\r\n[b]\r\nm = 3\r\n");
}

TEST(IniFileEditTest, SetOverridesAnInheritedDefaultInThatSectionOnly) {
  IniFile f = Parsed("[DEFAULT]\naws_access_key_id = AKIASHARED\n[dev]\nregion = r\n[prod]\n");
  ASSERT_TRUE(f.Set("dev", "aws_access_key_id", "AKIADEV").ok());
  EXPECT_EQ(f.Get("dev", "aws_access_key_id"), "AKIADEV");
  EXPECT_EQ(f.Get("prod", "aws_access_key_id"), "AKIASHARED");
  EXPECT_EQ(f.Serialize(),
            "[DEFAULT]\naws_access_key_id = AKIASHARED\n[dev]\nregion = r\naws_access_key_id = AKIADEV\n[prod]\n");
  ASSERT_TRUE(f.Set("DEFAULT", "aws_access_key_id", "AKIASHARED2").ok());
  EXPECT_EQ(f.Get("prod", "aws_access_key_id"), "AKIASHARED2");
  ASSERT_TRUE(f.Remove("dev", "aws_access_key_id").ok());
  EXPECT_EQ(f.Get("dev", "aws_access_key_id"), "AKIASHARED2");
}

TEST(IniFileEditTest, SetRejectsWhatBotocoreWouldReadBackDifferently) {
  IniFile f = Parsed("[a]\nk = 1\n");
  EXPECT_EQ(f.Set("a", "k", "two\nlines").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("a", "k", " padded").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("a", "k", "nbsp\xc2\xa0").code(), StatusCode::kInvalidArgument);  // Python strips U+00A0
  EXPECT_EQ(f.Set("a", "k=j", "1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("a", "#k", "1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("a", "[k", "1]").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("a", "", "1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("", "k", "1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Set("a\nb", "k", "1").code(), StatusCode::kInvalidArgument);
  // The refusal does not echo the (secret) value.
  EXPECT_EQ(f.Set("a", "k", " wJalrXUtnFEMI").message().find("wJalr"), std::string::npos);
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\n");
}

TEST(IniFileEditTest, EditThatBotocoreCouldNotReadIsRefused) {
  // A new section would inherit the broken nested block under [DEFAULT].
  IniFile f = Parsed("[DEFAULT]\ns3 =\n  bad\n");
  Status s = f.Set("dev", "region", "r");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("test.ini:3: line in the nested block of key 's3'"), std::string::npos) << s.ToString();
  EXPECT_EQ(f.Serialize(), "[DEFAULT]\ns3 =\n  bad\n");
}

TEST(IniFileEditTest, RemoveTakesTheKeyWithItsContinuationLines) {
  IniFile f = Parsed("[a]\nk = 1\ns3 =\n  x = 1\n  ; note\n  y = 2\n# kept\nj = 2\n");
  ASSERT_TRUE(f.Remove("a", "S3").ok());
  EXPECT_EQ(f.Serialize(), "[a]\nk = 1\n# kept\nj = 2\n");
  EXPECT_EQ(f.Items("a"), (Items{{"k", "1"}, {"j", "2"}}));
  EXPECT_TRUE(f.Remove("a", "s3").IsNotFound());
  EXPECT_TRUE(f.Remove("nosuch", "k").IsNotFound());
}

TEST(IniFileEditTest, EditedFileParsesToTheSameModel) {
  IniFile f = Parsed(kMessy);
  ASSERT_TRUE(f.Set("profile dev", "s3", "x").ok());
  ASSERT_TRUE(f.Set("profile new", "aws_session_token", "tok").ok());
  ASSERT_TRUE(f.Remove("default", "aws_secret_access_key").ok());
  IniFile again = Parsed(f.Serialize());
  EXPECT_EQ(again.Sections(), f.Sections());
  for (const std::string& s : f.Sections()) EXPECT_EQ(again.Items(s), f.Items(s)) << s;
  EXPECT_EQ(again.Serialize(), f.Serialize());
}

// ---- profile names ---------------------------------------------------------------

TEST(IniEditTest, RemoveSectionUndoesASetThatAppendedIt) {
  for (std::string original : {"[a]\nk = v\n", "[a]\r\nk = v", "# only a comment\n", ""}) {
    IniFile file = Parsed(original);
    ASSERT_TRUE(file.Set("new", "aws_access_key_id", "AKIAEXAMPLE").ok());
    ASSERT_TRUE(file.RemoveSection("new").ok());
    EXPECT_EQ(file.Serialize(), original);
  }
}

TEST(IniEditTest, RemoveSectionKeepsTheOthers) {
  IniFile file = Parsed("[a]\nk = 1\n\n[b]\nk = 2\n; about c\n[c]\nk = 3\n");
  ASSERT_TRUE(file.RemoveSection("b").ok());
  EXPECT_EQ(file.Serialize(), "[a]\nk = 1\n\n[c]\nk = 3\n");
  EXPECT_TRUE(file.RemoveSection("b").IsNotFound());
  EXPECT_EQ(file.RemoveSection("DEFAULT").code(), StatusCode::kInvalidArgument);
}

TEST(IniProfileTest, CredentialsFileTitlesAreProfileNamesVerbatim) {
  EXPECT_EQ(ProfileNameOfSection("default", FileKind::kCredentials), "default");
  EXPECT_EQ(ProfileNameOfSection("profile dev", FileKind::kCredentials), "profile dev");
  EXPECT_EQ(ProfileNameOfSection(" sp ", FileKind::kCredentials), " sp ");
  // configparser's [DEFAULT] is never a section, so never a profile.
  EXPECT_EQ(ProfileNameOfSection("DEFAULT", FileKind::kCredentials), std::nullopt);
}

TEST(IniProfileTest, ConfigFileTitlesFollowBuildProfileMap) {
  auto name = [](std::string_view title) { return ProfileNameOfSection(title, FileKind::kConfig); };
  EXPECT_EQ(name("default"), "default");
  EXPECT_EQ(name("profile dev"), "dev");
  EXPECT_EQ(name("profile default"), "default");
  EXPECT_EQ(name("profile \"default\""), "default");
  EXPECT_EQ(name("profile  sp  "), "sp");
  EXPECT_EQ(name("profile\tt"), "t");
  // shlex.split (POSIX): quotes and escapes.
  EXPECT_EQ(name("profile \"a b\""), "a b");
  EXPECT_EQ(name("profile 'c d'"), "c d");
  EXPECT_EQ(name("profile e\\ f"), "e f");
  EXPECT_EQ(name("profile \"g\\\"h\""), "g\"h");
  EXPECT_EQ(name("profile 'i\\j'"), "i\\j");
  EXPECT_EQ(name("profile \"k\\l\""), "k\\l");
  EXPECT_EQ(name("profile a\"b\"c"), "abc");
  EXPECT_EQ(name("profile \"\""), "");
  EXPECT_EQ(name("profile #x"), "#x");
  // Only the prefix is checked: botocore really does map these.
  EXPECT_EQ(name("profiles x"), "x");
  EXPECT_EQ(name("profilex y"), "y");
  // Not profiles.
  EXPECT_EQ(name("profile"), std::nullopt);
  EXPECT_EQ(name("profile a b"), std::nullopt);
  EXPECT_EQ(name("profile \"unclosed"), std::nullopt);
  EXPECT_EQ(name("profile a\\"), std::nullopt);
  EXPECT_EQ(name(" profile z"), std::nullopt);
  EXPECT_EQ(name("Profile u"), std::nullopt);
  EXPECT_EQ(name("Default"), std::nullopt);
  EXPECT_EQ(name(" default"), std::nullopt);
  EXPECT_EQ(name("DEFAULT"), std::nullopt);
  EXPECT_EQ(name("dev2"), std::nullopt);
  EXPECT_EQ(name("sso-session s"), std::nullopt);
  EXPECT_EQ(name("services s"), std::nullopt);
}

TEST(IniProfileTest, TheLastSectionNamingAProfileWins) {
  // build_profile_map fills a dict in file order: the later section replaces
  // the earlier one wholesale (botocore: region 'plain' here, 'prefixed' below).
  IniFile f = Parsed("[profile default]\nregion=prefixed\n[default]\nregion=plain\n");
  EXPECT_EQ(f.SectionForProfile("default", FileKind::kConfig), "default");
  IniFile g = Parsed("[default]\nregion=plain\n[profile default]\nregion=prefixed\n");
  EXPECT_EQ(g.SectionForProfile("default", FileKind::kConfig), "profile default");
  IniFile h = Parsed("[profile a]\nx=1\n[profile 'a']\ny=2\n[b]\n");
  EXPECT_EQ(h.SectionForProfile("a", FileKind::kConfig), "profile 'a'");
  EXPECT_EQ(h.SectionForProfile("b", FileKind::kConfig), std::nullopt);
  EXPECT_EQ(h.SectionForProfile("b", FileKind::kCredentials), "b");
  EXPECT_EQ(h.SectionForProfile("profile a", FileKind::kCredentials), "profile a");
}

}  // namespace
}  // namespace keyrotor::credentials
