#include "fleet/runner.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

#include "base/strings.h"
#include "credentials/assume_role_provider.h"
#include "credentials/caching_provider.h"
#include "fleet/discovery.h"
#include "fleet/selection.h"

namespace keyrotor::fleet {

size_t RunSummary::failed_accounts() const {
  return static_cast<size_t>(
      std::count_if(accounts.begin(), accounts.end(), [](const AccountResult& a) { return !a.status.ok(); }));
}

nlohmann::json RunSummary::ToJson() const {
  nlohmann::json accts = nlohmann::json::array();
  for (const AccountResult& a : accounts) {
    nlohmann::json j = {{"name", a.name}, {"id", a.id}, {"selected", a.selected}};
    if (!a.status.ok()) j["error"] = a.status.ToString();
    if (!a.skipped.empty()) j["skipped"] = a.skipped;
    if (!a.warnings.empty()) j["warnings"] = a.warnings;
    accts.push_back(std::move(j));
  }
  return {{"started", FormatIso8601(started)},
          {"finished", FormatIso8601(finished)},
          {"wall_seconds", std::chrono::duration<double>(finished - started).count()},
          {"plan", plan},
          {"users", users},
          {"results", results},
          {"failed_users", failed_users},
          {"failed_accounts", failed_accounts()},
          {"not_started", not_started},
          {"interrupted", interrupted},
          {"notifications_owed", notifications_owed},
          {"notification_failures", notification_failures},
          {"accounts", std::move(accts)}};
}

aws::ClientFactory AccountClientFactory(const aws::ClientFactory& admin, const Account& account,
                                        AccountLimiters* limiters) {
  aws::ClientFactory f = admin;
  if (!account.region.empty()) f = f.WithRegion(account.region);
  if (!account.role_arn.empty()) {
    credentials::AssumeRoleOptions options;
    options.profile = "account " + account.name;
    options.role_arn = account.role_arn;
    options.external_id = account.external_id;
    options.role_session_name = account.session_name;
    // AssumeRole itself goes to the admin's STS, unpaced by this account's limiter.
    auto assume = std::make_shared<credentials::AssumeRoleCredentialsProvider>(admin, admin.context().credentials,
                                                                               std::move(options));
    f = f.WithCredentials(std::make_shared<credentials::CachingCredentialsProvider>(std::move(assume)));
  }
  return f.WithRateLimiter(&limiters->all).WithIamRateLimiter(&limiters->iam);
}

struct FleetRunner::AccountState {
  AccountState(const aws::ClientFactory& admin, const Account& account)
      : limiters(admin.context().clock, account.rate_limit), clients(AccountClientFactory(admin, account, &limiters)) {}
  AccountLimiters limiters;
  aws::ClientFactory clients;
  std::string id;  // from STS, once known
  // The last credential report, parsed, reused while AWS keeps it (four
  // hours): when it was generated (unset: none) and its key columns. Its
  // text is dropped once parsed: at 10,000 users it is megabytes.
  std::optional<TimePoint> report_generated;
  ReportedKeys reported;
  // One engine per selection: each has its own policy and hand-over.
  std::map<size_t, std::unique_ptr<engine::Rotator>> rotators;
};

FleetRunner::FleetRunner(const FleetConfig& config, aws::ClientFactory admin, engine::Journal* journal)
    : config_(config), admin_(std::move(admin)), journal_(journal) {}

FleetRunner::~FleetRunner() = default;

FleetRunner::AccountState& FleetRunner::State(const Account& account) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& state = accounts_[account.name];
  if (!state) state = std::make_unique<AccountState>(admin_, account);
  return *state;
}

const aws::ClientFactory& FleetRunner::Clients(const Account& account) { return State(account).clients; }

namespace {

// What a bulk read's failure costs, with the permission that would avoid it.
std::string BulkWarning(const Status& status, const char* actions, const char* consequence) {
  std::string why = status.IsAws("AccessDenied") ? "denied" : "failed (" + status.ToString() + ")";
  return std::string(actions) + " " + why + ": " + consequence;
}

bool Contains(const std::vector<std::string>& list, const std::string& name, bool ignore_case) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& s) {
    return ignore_case ? ToLower(s) == ToLower(name) : s == name;
  });
}

}  // namespace

Result<std::string> IdentifyAccount(const aws::ClientFactory& clients, const Account& account) {
  KR_ASSIGN_OR_RETURN(aws::StsClient sts, clients.Sts());
  Result<aws::CallerIdentity> who = sts.GetCallerIdentity();
  if (!who.ok()) {
    return who.status().WithContext(account.role_arn.empty() ? "asking STS who the admin credentials are"
                                                              : "assuming " + account.role_arn);
  }
  if (!account.id.empty() && who->account != account.id) {
    return Status::FailedPrecondition("the credentials work in account " + who->account + ", not in " + account.id +
                                      " as the config says: not touching it");
  }
  return who->account;
}

Result<std::vector<SelectedUser>> FleetRunner::SelectInBulk(const Account& account, AccountState& state,
                                                            AccountResult& result) {
  KR_ASSIGN_OR_RETURN(aws::IamClient iam, state.clients.Iam());
  Result<aws::AuthorizationDetails> details = iam.GetUsersAndGroups();
  if (!details.ok()) {
    result.warnings.push_back(BulkWarning(details.status(), "iam:GetAccountAuthorizationDetails",
                                          "users, groups and tags are listed one call at a time"));
    return SelectUsersIn(iam, config_, account);
  }
  AccountDirectory dir = DirectoryFromDetails(*details);
  KR_ASSIGN_OR_RETURN(std::vector<SelectedUser> selected, SelectUsersFromDirectory(dir, config_, account));
  Clock* clock = admin_.context().clock;
  if (!state.report_generated || clock->Now() - *state.report_generated >= kCredentialReportFresh) {
    Result<aws::CredentialReport> report = FetchCredentialReport(iam, clock);
    Result<ReportedKeys> reported = report.ok() ? ParseCredentialReport(report->csv) : Result<ReportedKeys>(report.status());
    if (reported.ok()) {
      state.report_generated = report->generated;
      state.reported = std::move(reported).value();
    } else {
      state.report_generated.reset();
      state.reported.clear();
      result.warnings.push_back(BulkWarning(reported.status(), "iam:GenerateCredentialReport/iam:GetCredentialReport",
                                            "every selected user's keys are listed one call at a time"));
    }
  }
  for (SelectedUser& u : selected) {
    auto facts = std::make_shared<engine::UserFacts>();
    facts->tags = dir.tags[u.user_name];
    facts->groups = dir.groups_of[u.user_name];
    if (state.report_generated) {
      auto it = state.reported.find(u.user_name);
      if (it != state.reported.end()) facts->keys = it->second;  // absent: made after the report
    }
    u.facts = std::move(facts);
  }
  return selected;
}

RunSummary FleetRunner::Run(const RunOptions& options) {
  Clock* clock = admin_.context().clock;
  RunSummary summary;
  summary.plan = options.plan;
  summary.started = clock->Now();
  const int concurrency = std::max(1, options.concurrency > 0 ? options.concurrency : config_.concurrency);

  struct Item {
    const Account* account;
    AccountState* state;
    SelectedUser user;
  };
  std::mutex mu;  // guards everything below, and serialises the callbacks
  std::condition_variable cv;
  // One queue per account, taken from in turn: each account is paced by its
  // own IAM limit, so a worker waiting on one account's budget must not hold
  // the others' users back.
  std::vector<std::deque<Item>> queues;
  size_t next_queue = 0, queued = 0;
  bool listing_done = false;
  size_t total = 0;

  auto stopping = [&] { return options.stop && options.stop->load(); };

  auto rotator_for = [&](AccountState& state, size_t selection) -> engine::Rotator& {
    std::lock_guard<std::mutex> lock(mu_);
    auto& r = state.rotators[selection];
    if (!r) {
      engine::EngineOptions eo = config_.selections[selection].options;
      eo.dry_run = options.plan;
      if (!eo.notifier_options.transport) eo.notifier_options.transport = admin_.context().transport;
      r = std::make_unique<engine::Rotator>(state.clients, journal_, std::move(eo));
    }
    return *r;
  };

  // Counts a user's outcome and reports it; `mu` held.
  auto record = [&](const UserResult& result) {
    ++summary.users;
    ++summary.results[engine::ResultName(result.outcome.result)];
    if (result.outcome.failed()) ++summary.failed_users;
    summary.notifications_owed += result.outcome.notifications_owed.size();
    summary.notification_failures += static_cast<size_t>(result.outcome.notification_failures);
    if (options.on_result) options.on_result(result);
  };

  auto worker = [&] {
    for (;;) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return queued > 0 || listing_done || stopping(); });
        if (stopping() || queued == 0) return;  // listing done, nothing left; or stopping
        while (queues[next_queue].empty()) next_queue = (next_queue + 1) % queues.size();
        item = std::move(queues[next_queue].front());
        queues[next_queue].pop_front();
        next_queue = (next_queue + 1) % queues.size();
        --queued;
      }
      UserResult result;
      result.account_name = item.account->name;
      result.selection = item.user.selection;
      engine::StepOverrides overrides;
      overrides.facts = item.user.facts.get();
      result.outcome = rotator_for(*item.state, item.user.selection).RotateUser(item.user.user_name, overrides);
      std::lock_guard<std::mutex> lock(mu);
      record(result);
    }
  };

  std::vector<std::thread> workers;
  workers.reserve(concurrency);
  for (int i = 0; i < concurrency; ++i) workers.emplace_back(worker);

  // The accounts of this pass: the configured ones, and the discovered ones
  // (kept here: the queue's items point at them).
  AccountPlan plan;
  if (config_.organization.enabled) {
    if (caller_account_.empty()) {
      Result<std::string> caller = IdentifyAccount(admin_, Account{});
      if (caller.ok()) caller_account_ = *caller;
    }
    plan = PlanAccounts(config_, admin_, caller_account_);
    std::lock_guard<std::mutex> lock(mu);
    if (!plan.discovery.ok()) summary.accounts.push_back({"organization", "", 0, plan.discovery, "", {}});
    for (const DiscoveredAccount& d : plan.discovered) {
      if (!d.included && (options.accounts.empty() || Contains(options.accounts, d.id, false))) {
        summary.accounts.push_back({d.id, d.id, 0, Status::Ok(), d.reason, {}});
      }
    }
  } else {
    plan.accounts = config_.accounts;
  }

  // Listing runs beside the workers, several accounts at once (each paced by
  // its own limits): the first account's users rotate while the next ones
  // are assumed and read.
  std::vector<const Account*> to_list;
  for (const Account& account : plan.accounts) {
    if (!options.accounts.empty() && !Contains(options.accounts, account.name, false) &&
        (account.id.empty() || !Contains(options.accounts, account.id, false))) {
      continue;
    }
    to_list.push_back(&account);
  }
  std::atomic<size_t> next_account{0};
  std::atomic<bool> listing_cut{false};
  std::vector<AccountResult> listed(to_list.size());
  auto lister = [&] {
    for (size_t i; (i = next_account.fetch_add(1)) < to_list.size();) {
      if (stopping()) {
        listing_cut = true;
        return;
      }
      const Account& account = *to_list[i];
      AccountResult& ar = listed[i];
      ar.name = account.name;
      AccountState& state = State(account);
      Result<std::string> id =
          state.id.empty() ? IdentifyAccount(state.clients, account) : Result<std::string>(state.id);
      std::vector<SelectedUser> selected;
      if (id.ok()) {
        state.id = ar.id = *id;
        Result<aws::IamClient> iam = state.clients.Iam();
        Result<std::vector<SelectedUser>> users =
            !iam.ok()              ? Result<std::vector<SelectedUser>>(iam.status())
            : config_.bulk_planning ? SelectInBulk(account, state, ar)
                                    : SelectUsersIn(*iam, config_, account);
        if (users.ok()) {
          selected = std::move(users).value();
        } else {
          ar.status = users.status().WithContext("selecting users");
        }
      } else {
        ar.status = id.status();
      }
      if (!options.users.empty()) {
        std::erase_if(selected, [&](const SelectedUser& u) { return !Contains(options.users, u.user_name, true); });
      }
      // With bulk facts, a user with nothing due is decided here, without a
      // worker or an IAM call; only users with something due are queued.
      std::vector<UserResult> decided;
      std::deque<Item> due;
      for (SelectedUser& u : selected) {
        std::optional<engine::UserOutcome> triaged;
        if (u.facts) triaged = rotator_for(state, u.selection).Triage(u.user_name, *u.facts);
        if (triaged) {
          decided.push_back({account.name, u.selection, std::move(*triaged)});
        } else {
          due.push_back({&account, &state, std::move(u)});
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      ar.selected = selected.size();
      total += selected.size();
      if (options.on_total) options.on_total(total);
      for (const UserResult& r : decided) record(r);
      queued += due.size();
      queues.push_back(std::move(due));
      cv.notify_all();
    }
  };
  {
    constexpr size_t kMaxListers = 16;
    std::vector<std::thread> listers;
    for (size_t i = 0; i < std::min(kMaxListers, to_list.size()); ++i) listers.emplace_back(lister);
    for (std::thread& t : listers) t.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < to_list.size(); ++i) {
      if (!listed[i].name.empty()) summary.accounts.push_back(std::move(listed[i]));  // in the plan's order
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    listing_done = true;
  }
  cv.notify_all();
  for (std::thread& t : workers) t.join();

  summary.not_started = queued;
  summary.interrupted = stopping() && (summary.not_started > 0 || listing_cut.load());
  summary.finished = clock->Now();
  return summary;
}

}  // namespace keyrotor::fleet
