// keyrotor respond: rotate an exposed access key within minutes without
// breaking its application (docs/leak-response.md). The key comes from an
// AWS Health event (--event FILE|-) or a person (--access-key-id).
#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <filesystem>

#include "cli/engine_flags.h"
#include "cli/fleet.h"
#include "engine/policy.h"

namespace keyrotor::cli {
namespace {

struct RespondFlags {
  GlobalFlags global;
  EngineFlags engine;
  std::string config;
  std::string event;  // FILE, or - for stdin
  std::string access_key_id;
  std::string account;
  std::string on_exposure;
  std::string exposed_delete_after;
  std::string lookup_window;
  std::vector<std::string> lookup_regions;
  bool dry_run = false;
  bool example_event = false;
};

Result<std::string> ReadEventText(const std::string& source) {
  std::string text;
  if (source == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return text;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(source, ec)) return Status::InvalidArgument("--event " + source + ": is a directory");
  std::ifstream in(source, std::ios::binary);
  if (!in) return Status::InvalidArgument("--event " + source + ": cannot be read");
  // An EventBridge event is at most 256 KB.
  constexpr size_t kMaxEvent = 1 << 20;
  text.resize(kMaxEvent + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxEvent) return Status::InvalidArgument("--event " + source + ": larger than 1 MiB");
  return text;
}

Result<fleet::ExposureOverrides> ParseOverrides(const RespondFlags& f) {
  fleet::ExposureOverrides o;
  if (!f.on_exposure.empty()) {
    Result<engine::ExposureOrder> order = engine::ParseExposureOrder(f.on_exposure);
    if (!order.ok()) return order.status().WithContext("--on-exposure");
    o.order = *order;
  }
  auto duration = [](const std::string& text, const char* flag) -> Result<std::optional<Duration>> {
    if (text.empty()) return std::optional<Duration>();
    Result<Duration> d = engine::ParseDuration(text);
    if (!d.ok()) return d.status().WithContext(flag);
    return std::optional<Duration>(*d);
  };
  KR_ASSIGN_OR_RETURN(o.delete_after, duration(f.exposed_delete_after, "--exposed-delete-after"));
  KR_ASSIGN_OR_RETURN(o.lookup_window, duration(f.lookup_window, "--exposure-lookup-window"));
  if (o.lookup_window && *o.lookup_window > engine::Days(90)) {
    return Status::InvalidArgument("--exposure-lookup-window: at most 90d (CloudTrail keeps 90 days)");
  }
  o.lookup_regions = f.lookup_regions;
  o.dry_run = f.dry_run;
  return o;
}

void PrintResponse(const fleet::ResponseResult& r, bool json) {
  if (json) {
    fmt::print("{}\n", r.ToJson().dump());
    std::fflush(stdout);
    return;
  }
  fmt::print("exposed key {} in account {}{}:\n", r.access_key_id, r.account_id,
             r.account_name.empty() || r.account_name == r.account_id ? "" : " (" + r.account_name + ")");
  PrintOutcome(r.outcome, /*json=*/false);
}

}  // namespace

static bool ResponseFailed(const engine::UserOutcome& o) {
  return o.failed() || o.result == engine::UserOutcome::Result::kLocked || !o.notifications_owed.empty();
}

ResponseBatch RespondToKeys(fleet::Responder& responder, const std::vector<std::string>& keys,
                            const std::string& account, const engine::ExposureRequest& base) {
  ResponseBatch batch;
  for (const std::string& key : keys) {
    engine::ExposureRequest request = base;
    request.access_key_id = key;
    Result<fleet::ResponseResult> r = responder.Respond(key, account, request);
    if (!r.ok()) {
      batch.failed = true;
      batch.errors.push_back(r.status().WithContext("access key " + key));
      continue;
    }
    if (ResponseFailed(r->outcome)) batch.failed = true;
    batch.results.push_back(std::move(*r));
  }
  return batch;
}

namespace {

int RunRespond(const RespondFlags& flags) {
  EnvMap env = ProcessEnvironment();
  if (flags.event.empty() == flags.access_key_id.empty() && !flags.example_event) {
    PrintError(Status::InvalidArgument("give exactly one of --event FILE|- and --access-key-id ID"));
    return kExitUsage;
  }
  if (flags.example_event) {
    if (flags.access_key_id.empty()) {
      PrintError(Status::InvalidArgument("--example-event needs --access-key-id"));
      return kExitUsage;
    }
    Status valid = engine::ValidateExposedKeyId(flags.access_key_id);
    if (!valid.ok()) {
      PrintError(valid.WithContext("--access-key-id"));
      return kExitUsage;
    }
    fmt::print("{}\n", engine::ExampleExposureEvent(flags.access_key_id,
                                                    flags.account.empty() ? "123456789012" : flags.account,
                                                    Clock::Real()->Now())
                           .dump(2));
    return kExitOk;
  }
  // Everything the command line says is checked before anything is asked.
  std::vector<std::string> keys;
  std::string account = flags.account;
  engine::ExposureRequest request;
  request.reported = Clock::Real()->Now();
  if (!flags.event.empty()) {
    Result<std::string> text = ReadEventText(flags.event);
    if (!text.ok()) {
      PrintError(text.status());
      return kExitUsage;
    }
    Result<engine::ExposureEvent> event = engine::ParseExposureEvent(*text);
    if (!event.ok()) {
      PrintError(event.status().WithContext("--event " + flags.event));
      return kExitUsage;
    }
    if (!account.empty() && account != event->account) {
      PrintError(Status::InvalidArgument("--account " + account + " contradicts the event's account " + event->account));
      return kExitUsage;
    }
    account = event->account;
    keys = event->access_key_ids;
    request.trigger = event->event_type;
    request.event_id = event->event_arn;
  } else {
    Status valid = engine::ValidateExposedKeyId(flags.access_key_id);
    if (!valid.ok()) {
      PrintError(valid.WithContext("--access-key-id"));
      return kExitUsage;
    }
    keys.push_back(flags.access_key_id);
  }
  if (!account.empty() && (account.size() != 12 || account.find_first_not_of("0123456789") != std::string::npos)) {
    PrintError(Status::InvalidArgument("--account: expected a 12-digit account id"));
    return kExitUsage;
  }
  Result<fleet::ExposureOverrides> overrides = ParseOverrides(flags);
  if (!overrides.ok()) {
    PrintError(overrides.status());
    return kExitUsage;
  }

  std::optional<Fleet> fleet;
  std::unique_ptr<aws::ClientFactory> admin;
  std::unique_ptr<engine::Journal> own_journal;
  engine::Journal* journal = nullptr;
  if (!flags.config.empty()) {
    Result<Fleet> loaded = LoadFleet(flags.global, flags.config, env);
    if (!loaded.ok()) {
      PrintFleetError(loaded.status(), flags.config);
      return kExitUsage;
    }
    fleet.emplace(std::move(loaded).value());
    journal = fleet->journal.get();
  } else {
    Result<aws::ClientFactory> factory = BuildClientFactory(flags.global, env, /*with_credentials=*/true);
    if (!factory.ok()) {
      PrintError(factory.status());
      return kExitUsage;
    }
    admin = std::make_unique<aws::ClientFactory>(std::move(factory).value());
    std::string state = flags.engine.state.empty() ? DefaultStatePath(env) : flags.engine.state;
    Result<std::unique_ptr<engine::Journal>> opened = OpenJournal(state, env);
    if (!opened.ok()) {
      PrintError(opened.status());
      return kExitUsage;
    }
    own_journal = std::move(opened).value();
    journal = own_journal.get();
  }
  const aws::ClientFactory& clients = fleet ? *fleet->admin : *admin;
  // A user no selection covers gets the command line's --to and --notify.
  Result<engine::EngineOptions> defaults = BuildEngineOptions(flags.engine, env, clients);
  if (!defaults.ok()) {
    PrintError(defaults.status());
    return kExitUsage;
  }
  fleet::Responder responder(fleet ? &fleet->config : nullptr, clients, journal, *defaults, *overrides);
  ResponseBatch batch = RespondToKeys(responder, keys, account, request);
  for (const fleet::ResponseResult& r : batch.results) PrintResponse(r, flags.engine.json);
  for (const Status& s : batch.errors) PrintError(s);
  return batch.failed ? kExitPartialFailure : kExitOk;
}

}  // namespace

void RegisterRespondCommand(CLI::App& app) {
  auto flags = std::make_shared<RespondFlags>();
  auto* cmd = app.add_subcommand(
      "respond",
      "Respond to an exposed access key: create, verify and hand over its successor and retire the exposed key at "
      "once (rotate-first), or cut it off first (deactivate-first); summarise its CloudTrail activity and notify "
      "(key_exposed). The key comes from an AWS Health event (--event) or --access-key-id");
  cmd->add_option("--event", flags->event, "An AWS Health event as EventBridge delivers it (FILE, or - for stdin)");
  cmd->add_option("--access-key-id", flags->access_key_id, "The exposed key (AKIA...), e.g. found in a log or a chat");
  cmd->add_option("--account", flags->account,
                  "The account holding the key (default: the event's, or the admin credentials' own)");
  cmd->add_option("--config", flags->config,
                  "The fleet config: the account's role, and the user's destinations, notifiers and policy from the "
                  "[[selection]] that covers it");
  cmd->add_option("--on-exposure", flags->on_exposure,
                  "rotate-first (default: no outage) or deactivate-first (cut the key off before its successor "
                  "exists); overrides the config's on_exposure");
  cmd->add_option("--exposed-delete-after", flags->exposed_delete_after,
                  "Delete the exposed key this long after deactivating it (default 24h; 0: at once)");
  cmd->add_option("--exposure-lookup-window", flags->lookup_window,
                  "Read this much of CloudTrail's history of the key (default 24h, at most 90d)");
  cmd->add_option("--exposure-lookup-region", flags->lookup_regions,
                  "A region whose CloudTrail history is read (repeatable; default: the region and us-east-1)");
  cmd->add_flag("--dry-run", flags->dry_run, "Say what would be done; change nothing");
  cmd->add_flag("--example-event", flags->example_event,
                "Print an example AWS Health event for --access-key-id (and --account) and exit");
  AddEngineFlags(*cmd, flags->engine);
  // The schedule's settings mean nothing to a response: its order and timing are the flags above.
  for (const char* name : {"--mode", "--rotate-after", "--deactivate-after", "--delete-after", "--max-age",
                           "--quiet-period", "--force-after", "--exempt-tag", "--exempt-group",
                           "--delete-unknown-inactive"}) {
    cmd->remove_option(cmd->get_option(name));
  }
  AddGlobalFlags(*cmd, flags->global);
  cmd->callback([flags] { throw CLI::RuntimeError(RunRespond(*flags)); });
}

}  // namespace keyrotor::cli
