// Which IAM users of one account a fleet run rotates, and with which
// [[selection]]: a user takes the first selection that matches it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "aws/iam.h"
#include "base/status.h"
#include "fleet/bulk.h"
#include "fleet/config.h"

namespace keyrotor::fleet {

struct SelectedUser {
  std::string user_name;
  std::string path;
  size_t selection = 0;  // index into FleetConfig::selections
  // What bulk reads told about the user (tags, groups, keys); null when the
  // users were listed one call at a time.
  std::shared_ptr<const engine::UserFacts> facts;
};

// Each selected user once, ordered by user name. Asks IAM as little as it
// can: one paginated ListUsers (narrowed to a path prefix when every
// selection that needs the list is confined to one; none at all when only
// groups select), one GetGroup per named group, and ListUserTags only for a
// user whose fate depends on a tags criterion. A named group that does not
// exist is an error (a typo would otherwise silently select nobody).
Result<std::vector<SelectedUser>> SelectUsers(aws::IamClient& iam, const FleetConfig& config,
                                              const std::string& account_name);
// The same for any account, configured or discovered.
Result<std::vector<SelectedUser>> SelectUsersIn(aws::IamClient& iam, const FleetConfig& config, const Account& account);
// The same selection from a directory read in bulk: no IAM call.
Result<std::vector<SelectedUser>> SelectUsersFromDirectory(const AccountDirectory& dir, const FleetConfig& config,
                                                           const Account& account);

}  // namespace keyrotor::fleet
