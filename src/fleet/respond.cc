#include "fleet/respond.h"

#include "base/strings.h"
#include "fleet/discovery.h"
#include "fleet/selection.h"

namespace keyrotor::fleet {
namespace {

// The account a role ARN leads to: arn:aws:iam::ACCOUNT:role/NAME.
std::string RoleAccount(const std::string& role_arn) {
  std::vector<std::string> parts = Split(role_arn, ':');
  return parts.size() >= 6 ? parts[4] : "";
}

}  // namespace

void ExposureOverrides::ApplyTo(engine::EngineOptions& options) const {
  if (order) options.policy.on_exposure = *order;
  if (delete_after) options.policy.exposed_delete_after = *delete_after;
  if (lookup_window) options.policy.exposure_lookup_window = *lookup_window;
  if (!lookup_regions.empty()) options.policy.exposure_lookup_regions = lookup_regions;
  if (dry_run) options.dry_run = true;
}

nlohmann::json ResponseResult::ToJson() const {
  nlohmann::json j = engine::OutcomeToJson(outcome);
  j["access_key_id"] = access_key_id;
  j["account_id"] = account_id;
  j["account_name"] = account_name;
  if (selection) j["selection"] = *selection;
  return j;
}

Result<std::optional<size_t>> SelectionForUser(aws::IamClient& iam, const FleetConfig& config, const Account& account,
                                               const std::string& user) {
  bool any = false, tags = false, groups = false;
  for (const Selection& s : config.selections) {
    if (!s.AppliesTo(account.name, account.id)) continue;
    any = true;
    tags = tags || !s.tags.empty();
    groups = groups || !s.groups.empty();
  }
  if (!any) return std::optional<size_t>();
  // A directory of this one user, as the bulk reads would have made it.
  KR_ASSIGN_OR_RETURN(aws::IamUser found, iam.GetUser(user));
  AccountDirectory dir;
  dir.users[found.user_name] = found.path;
  if (tags) {
    KR_ASSIGN_OR_RETURN(dir.tags[found.user_name], iam.ListUserTags(found.user_name));
  }
  if (groups) {
    KR_ASSIGN_OR_RETURN(std::vector<aws::IamGroup> member_of, iam.ListGroupsForUser(found.user_name));
    for (const Selection& s : config.selections) {
      for (const std::string& g : s.groups) dir.group_members[ToLower(g)];  // every named group exists...
    }
    for (const aws::IamGroup& g : member_of) {
      dir.group_members[ToLower(g.group_name)].insert(ToLower(found.user_name));  // ...and holds the user if it does
      dir.groups_of[found.user_name].push_back(g.group_name);
    }
  }
  KR_ASSIGN_OR_RETURN(std::vector<SelectedUser> selected, SelectUsersFromDirectory(dir, config, account));
  for (const SelectedUser& s : selected) {
    if (EqualsIgnoreCase(s.user_name, user)) return std::optional<size_t>(s.selection);
  }
  return std::optional<size_t>();
}

Responder::Responder(const FleetConfig* config, aws::ClientFactory admin, engine::Journal* journal,
                     engine::EngineOptions defaults, ExposureOverrides overrides)
    : config_(config),
      admin_(std::move(admin)),
      journal_(journal),
      defaults_(std::move(defaults)),
      overrides_(std::move(overrides)) {}

Responder::~Responder() = default;

Result<Account> Responder::FindAccount(const std::string& account_id) {
  if (caller_account_.empty()) {
    KR_ASSIGN_OR_RETURN(aws::StsClient sts, admin_.Sts());
    Result<aws::CallerIdentity> who = sts.GetCallerIdentity();
    if (!who.ok()) return who.status().WithContext("asking STS who the admin credentials are");
    caller_account_ = who->account;
  }
  Account own;
  own.name = "default";
  own.id = caller_account_;
  if (!config_) {
    if (account_id.empty() || account_id == caller_account_) return own;
    return Status::FailedPrecondition("account " + account_id + " is not the admin credentials' account (" +
                                      caller_account_ +
                                      "): pass --config with the account in [[accounts]] or [organization]");
  }
  if (!plan_) plan_ = PlanAccounts(*config_, admin_, caller_account_);
  const std::vector<Account>& accounts = plan_->accounts;
  auto id_of = [&](const Account& a) {
    if (!a.id.empty()) return a.id;
    if (!a.role_arn.empty()) return RoleAccount(a.role_arn);
    return caller_account_;
  };
  if (account_id.empty()) {
    if (accounts.size() == 1) return accounts[0];
    for (const Account& a : accounts) {
      if (id_of(a) == caller_account_ && a.role_arn.empty()) return a;
    }
    return Status::InvalidArgument("the config works in " + std::to_string(accounts.size()) +
                                   " accounts: say which one holds the key (--account ID)");
  }
  for (const Account& a : accounts) {
    if (id_of(a) == account_id) return a;
  }
  for (const DiscoveredAccount& d : plan_->discovered) {
    if (d.id == account_id) {
      return Status::FailedPrecondition("account " + account_id + " (" + d.name + ") is not worked in: " + d.reason);
    }
  }
  std::string why = plan_->discovery.ok() ? "" : " (discovering the organization failed: " + plan_->discovery.ToString() + ")";
  return Status::FailedPrecondition("account " + account_id + " is neither in the config's [[accounts]] nor found by " +
                                    "its [organization]" + why);
}

Result<ResponseResult> Responder::Respond(const std::string& access_key_id, const std::string& account_id,
                                          const engine::ExposureRequest& exposure) {
  KR_RETURN_IF_ERROR(engine::ValidateExposedKeyId(access_key_id));
  KR_ASSIGN_OR_RETURN(Account account, FindAccount(account_id));
  auto& limiters = limiters_[account.name];
  if (!limiters) limiters = std::make_unique<AccountLimiters>(admin_.context().clock, account.rate_limit);
  aws::ClientFactory clients = AccountClientFactory(admin_, account, limiters.get());
  KR_ASSIGN_OR_RETURN(std::string id, IdentifyAccount(clients, account));
  if (!account_id.empty() && id != account_id) {
    return Status::FailedPrecondition("the credentials for account " + account.name + " work in " + id + ", not in " +
                                      account_id);
  }
  ResponseResult result;
  result.access_key_id = access_key_id;
  result.account_id = id;
  result.account_name = config_ ? account.name : "";
  KR_ASSIGN_OR_RETURN(aws::IamClient iam, clients.Iam());
  Result<std::string> owner = engine::FindKeyOwner(iam, access_key_id);
  if (!owner.ok()) {
    if (owner.status().code() != StatusCode::kNotFound) return owner.status();
    // Nothing to cut off: reported, not a failure (the key was deleted already).
    result.outcome.account = id;
    result.outcome.old_key_id = access_key_id;
    result.outcome.result = engine::UserOutcome::Result::kSkipped;
    result.outcome.message = owner.status().message() + ": nothing to do";
    return result;
  }
  engine::EngineOptions options = defaults_;
  if (config_) {
    KR_ASSIGN_OR_RETURN(result.selection, SelectionForUser(iam, *config_, account, *owner));
    if (result.selection) {
      options = config_->selections[*result.selection].options;
      if (!options.notifier_options.transport) options.notifier_options.transport = admin_.context().transport;
    }
  }
  overrides_.ApplyTo(options);
  engine::Rotator rotator(clients, journal_, options);
  engine::ExposureRequest request = exposure;
  request.access_key_id = access_key_id;
  engine::StepOverrides steps;
  steps.exposure = &request;
  result.outcome = rotator.RotateUser(*owner, steps);
  return result;
}

}  // namespace keyrotor::fleet
