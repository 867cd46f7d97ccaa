#include "fleet/selection.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "base/strings.h"

namespace keyrotor::fleet {
namespace {

bool NamedIn(const std::vector<std::string>& names, const std::string& user) {
  // IAM user names are unique case-insensitively, and so compared here.
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return EqualsIgnoreCase(n, user); });
}

// Whether the selection's candidates all come from ListUsers under a prefix
// ("" = not from ListUsers at all: groups only), or need every user ("/").
std::optional<std::string> ListPrefix(const Selection& s) {
  if (s.all_users || !s.users.empty() || s.user_regex || !s.tags.empty()) return "/";
  if (!s.path_prefix.empty()) return s.path_prefix;
  return std::nullopt;
}

// The longest prefix of both that ends at a path separator.
std::string CommonPathPrefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  std::string common = a.substr(0, n);
  return common.substr(0, common.rfind('/') + 1);
}

// Selects from IAM (ListUsers, GetGroup, ListUserTags) or, given a
// directory read in bulk, from that without a call.
class UserSelector {
 public:
  UserSelector(aws::IamClient* iam, const AccountDirectory* dir, const FleetConfig& config,
               std::vector<const Selection*> selections)
      : iam_(iam), dir_(dir), config_(config), selections_(std::move(selections)) {}

  Result<std::vector<SelectedUser>> Select() {
    KR_RETURN_IF_ERROR(ListCandidates());
    KR_RETURN_IF_ERROR(ReadGroups());
    std::vector<SelectedUser> selected;
    for (const auto& [name, path] : candidates_) {  // std::map: ordered by user name
      for (const Selection* s : selections_) {
        KR_ASSIGN_OR_RETURN(bool match, Matches(*s, name, path));
        if (match) {
          selected.push_back({name, path, s->index, nullptr});
          break;
        }
      }
    }
    return selected;
  }

 private:
  Status ListCandidates() {
    std::optional<std::string> prefix;
    for (const Selection* s : selections_) {
      std::optional<std::string> p = ListPrefix(*s);
      if (p) prefix = prefix ? CommonPathPrefix(*prefix, *p) : *p;
    }
    if (!prefix) return Status::Ok();  // groups alone select: their members are the candidates
    if (dir_) {
      for (const auto& [name, path] : dir_->users) {
        if (StartsWith(path, *prefix)) candidates_.emplace(name, path);
      }
      return Status::Ok();
    }
    KR_ASSIGN_OR_RETURN(std::vector<aws::IamUser> users, iam_->ListUsers(*prefix == "/" ? "" : *prefix));
    for (aws::IamUser& u : users) candidates_.emplace(std::move(u.user_name), std::move(u.path));
    return Status::Ok();
  }

  Status ReadGroups() {
    for (const Selection* s : selections_) {
      for (const std::string& group : s->groups) {
        std::string key = ToLower(group);  // group names are case-insensitive in IAM too
        if (members_.count(key)) continue;
        if (dir_) {
          auto it = dir_->group_members.find(key);
          if (it == dir_->group_members.end()) {
            return Status::Aws(AwsErrorDetail{"NoSuchEntity", "The group with name " + group + " cannot be found.", "",
                                              404},
                               "GetAccountAuthorizationDetails")
                .WithContext(config_.Locate({s->line, "selection[" + std::to_string(s->index) + "].groups"}) +
                             ": group '" + group + "'");
          }
          members_[key] = it->second;
          if (by_lower_name_.empty()) {
            for (const auto& [name, path] : dir_->users) by_lower_name_.emplace(ToLower(name), name);
          }
          for (const std::string& member : it->second) {
            auto user = by_lower_name_.find(member);
            if (user != by_lower_name_.end()) candidates_.emplace(user->second, dir_->users.at(user->second));
          }
          continue;
        }
        Result<std::vector<aws::IamUser>> users = iam_->GetGroup(group);
        if (!users.ok()) {
          return users.status().WithContext(
              config_.Locate({s->line, "selection[" + std::to_string(s->index) + "].groups"}) + ": group '" + group +
              "'");
        }
        std::set<std::string>& members = members_[key];
        for (aws::IamUser& u : *users) {
          members.insert(ToLower(u.user_name));
          candidates_.emplace(std::move(u.user_name), std::move(u.path));
        }
      }
    }
    return Status::Ok();
  }

  Result<bool> Matches(const Selection& s, const std::string& user, const std::string& path) {
    if (NamedIn(s.exclude_users, user)) return false;
    if (s.exclude_regex && std::regex_search(user, *s.exclude_regex)) return false;
    if (s.all_users || NamedIn(s.users, user)) return true;
    if (s.user_regex && std::regex_search(user, *s.user_regex)) return true;
    if (!s.path_prefix.empty() && StartsWith(path, s.path_prefix)) return true;
    for (const std::string& group : s.groups) {
      if (members_[ToLower(group)].count(ToLower(user))) return true;
    }
    if (s.tags.empty()) return false;
    KR_ASSIGN_OR_RETURN(const std::vector<aws::Tag>* tags, TagsOf(user));
    for (const aws::Tag& want : s.tags) {
      for (const aws::Tag& t : *tags) {
        if (t.key == want.key && t.value == want.value) return true;  // exact, as the engine's exempt_tags
      }
    }
    return false;
  }

  // ListUsers does not return tags (IAM API reference), so they are asked
  // per user, once, and only when a tags criterion decides.
  Result<const std::vector<aws::Tag>*> TagsOf(const std::string& user) {
    auto it = tags_.find(user);
    if (it != tags_.end()) return &it->second;
    if (dir_) {
      auto known = dir_->tags.find(user);
      return &tags_.emplace(user, known == dir_->tags.end() ? std::vector<aws::Tag>{} : known->second).first->second;
    }
    Result<std::vector<aws::Tag>> tags = iam_->ListUserTags(user);
    if (!tags.ok()) {
      // Deleted since it was listed: it has no tags to match.
      if (!tags.status().IsAws("NoSuchEntity")) return tags.status().WithContext("user " + user + ": tags");
      tags = std::vector<aws::Tag>{};
    }
    return &tags_.emplace(user, std::move(tags).value()).first->second;
  }

  aws::IamClient* iam_;
  const AccountDirectory* dir_;
  const FleetConfig& config_;
  std::vector<const Selection*> selections_;
  std::map<std::string, std::string> candidates_;         // user name -> path
  std::map<std::string, std::set<std::string>> members_;  // lower-case group -> lower-case user names
  std::map<std::string, std::vector<aws::Tag>> tags_;
  std::map<std::string, std::string> by_lower_name_;  // with dir_: lower-case name -> name
};

}  // namespace

namespace {

Result<std::vector<SelectedUser>> Select(aws::IamClient* iam, const AccountDirectory* dir, const FleetConfig& config,
                                         const std::string& account_name, const std::string& account_id) {
  std::vector<const Selection*> selections;
  for (const Selection& s : config.selections) {
    if (s.AppliesTo(account_name, account_id)) selections.push_back(&s);
  }
  if (selections.empty()) return std::vector<SelectedUser>{};
  return UserSelector(iam, dir, config, std::move(selections)).Select();
}

}  // namespace

Result<std::vector<SelectedUser>> SelectUsers(aws::IamClient& iam, const FleetConfig& config,
                                              const std::string& account_name) {
  if (!config.FindAccount(account_name)) {
    return Status::InvalidArgument(config.path + ": no account is named '" + account_name + "'");
  }
  return Select(&iam, nullptr, config, account_name, config.FindAccount(account_name)->id);
}

Result<std::vector<SelectedUser>> SelectUsersIn(aws::IamClient& iam, const FleetConfig& config, const Account& account) {
  return Select(&iam, nullptr, config, account.name, account.id);
}

Result<std::vector<SelectedUser>> SelectUsersFromDirectory(const AccountDirectory& dir, const FleetConfig& config,
                                                           const Account& account) {
  return Select(nullptr, &dir, config, account.name, account.id);
}

}  // namespace keyrotor::fleet
