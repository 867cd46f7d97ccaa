// keyrotor vault get | list: reads keyrotor's local vault (destinations/vault.h).
// `get` exists to hand a key to a program, so it prints the secret on stdout
// (and only there); `list` never prints one.
#include "destinations/vault.h"

#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "base/clock.h"
#include "cli/common.h"
#include "destinations/destination_util.h"

namespace keyrotor::cli {
namespace {

constexpr char kPreviousSuffix[] = ".previous";

struct VaultFlags {
  std::string path;
  std::string entry;
  std::string key_file;
  std::string format = "json";
};

int ExitFor(const Status& s) {
  PrintError(s);
  return s.code() == StatusCode::kNotFound || s.code() == StatusCode::kInvalidArgument ? kExitUsage
                                                                                       : kExitPartialFailure;
}

// Single-quoted for sh: safe whatever the bytes (a secret is base64-like anyway).
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The entry to print: the one named, or the only current entry there is.
Result<std::string> ChooseEntry(const destinations::Vault& vault, const std::string& wanted) {
  if (!wanted.empty()) return wanted;
  KR_ASSIGN_OR_RETURN(std::vector<destinations::VaultListing> all, vault.List());
  std::vector<std::string> names;
  for (const auto& e : all) {
    if (!e.name.ends_with(kPreviousSuffix)) names.push_back(e.name);
  }
  if (names.size() == 1) return names[0];
  if (names.empty()) return Status::NotFound(vault.path() + ": the vault has no entries");
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status::InvalidArgument(vault.path() + " holds several entries (" + list + "): name one");
}

// Opens an existing vault: reading a path that holds none is a typo, not an empty vault.
Result<destinations::Vault> OpenExisting(const VaultFlags& flags) {
  std::error_code ec;
  if (!std::filesystem::exists(flags.path, ec)) {
    if (ec) return Status::IoError(flags.path + ": " + ec.message());
    return Status::NotFound(flags.path + ": no vault there");
  }
  return destinations::Vault::Open(flags.path, flags.key_file);
}

int RunVaultGet(const VaultFlags& flags) {
  Result<destinations::Vault> vault = OpenExisting(flags);
  if (!vault.ok()) return ExitFor(vault.status());
  Result<std::string> name = ChooseEntry(*vault, flags.entry);
  if (!name.ok()) return ExitFor(name.status());
  Result<destinations::VaultEntry> entry = vault->Get(*name);
  if (!entry.ok()) return ExitFor(entry.status());
  const std::string& secret = entry->secret_access_key.reveal();
  std::string out;
  if (flags.format == "json") {
    // The credential_process format, so a profile can read the vault:
    //   credential_process = keyrotor vault get PATH ENTRY
    out = "{\"Version\": 1, \"AccessKeyId\": \"" + destinations::JsonEscape(entry->access_key_id) +
          "\", \"SecretAccessKey\": \"" + destinations::JsonEscape(secret) + "\"}\n";
  } else if (flags.format == "credentials") {
    out = "[" + *name + "]\naws_access_key_id = " + entry->access_key_id + "\naws_secret_access_key = " + secret + "\n";
  } else {  // env, for eval "$(keyrotor vault get ... --format env)"
    out = "export AWS_ACCESS_KEY_ID=" + ShellQuote(entry->access_key_id) +
          "\nexport AWS_SECRET_ACCESS_KEY=" + ShellQuote(secret) + "\nunset AWS_SESSION_TOKEN\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  WipeString(out);
  return kExitOk;
}

int RunVaultList(const VaultFlags& flags) {
  Result<destinations::Vault> vault = OpenExisting(flags);
  if (!vault.ok()) return ExitFor(vault.status());
  Result<std::vector<destinations::VaultListing>> all = vault->List();
  if (!all.ok()) return ExitFor(all.status());
  fmt::print("{:<32} {:<22} {:<20} {}\n", "ENTRY", "ACCESS KEY ID", "USER", "CREATED");
  for (const auto& e : *all) {
    fmt::print("{:<32} {:<22} {:<20} {}\n", e.name, e.access_key_id, e.user.empty() ? "-" : e.user,
               e.created == TimePoint{} ? "-" : FormatIso8601(e.created));
  }
  return kExitOk;
}

}  // namespace

void RegisterVaultCommand(CLI::App& app) {
  auto* vault = app.add_subcommand("vault", "Read keyrotor's local encrypted vault (vault:PATH destinations)");
  vault->require_subcommand(1);

  auto get_flags = std::make_shared<VaultFlags>();
  auto* get = vault->add_subcommand(
      "get", "Print one entry's key on stdout (json: the credential_process format; credentials; env)");
  get->add_option("path", get_flags->path, "Vault file")->required();
  get->add_option("entry", get_flags->entry, "Entry name (default: the only entry)");
  get->add_option("--key-file", get_flags->key_file, "The vault's key file (default: PATH.key)");
  get->add_option("--format", get_flags->format, "json, credentials or env")
      ->check(CLI::IsMember({"json", "credentials", "env"}));
  get->callback([get_flags] { throw CLI::RuntimeError(RunVaultGet(*get_flags)); });

  auto list_flags = std::make_shared<VaultFlags>();
  auto* list = vault->add_subcommand("list", "List the entries: names, key ids, users, creation times (no secrets)");
  list->add_option("path", list_flags->path, "Vault file")->required();
  list->add_option("--key-file", list_flags->key_file, "The vault's key file (default: PATH.key)");
  list->callback([list_flags] { throw CLI::RuntimeError(RunVaultList(*list_flags)); });
}

}  // namespace keyrotor::cli
