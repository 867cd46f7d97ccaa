// Which IAM users of one account a fleet run rotates, and with which
// [[selection]]: a user takes the first selection that matches it.
#pragma once

#include <string>
#include <vector>

#include "aws/iam.h"
#include "base/status.h"
#include "fleet/config.h"

namespace keyrotor::fleet {

struct SelectedUser {
  std::string user_name;
  std::string path;
  size_t selection = 0;  // index into FleetConfig::selections
};

// Each selected user once, ordered by user name. Asks IAM as little as it
// can: one paginated ListUsers (narrowed to a path prefix when every
// selection that needs the list is confined to one; none at all when only
// groups select), one GetGroup per named group, and ListUserTags only for a
// user whose fate depends on a tags criterion. A named group that does not
// exist is an error (a typo would otherwise silently select nobody).
Result<std::vector<SelectedUser>> SelectUsers(aws::IamClient& iam, const FleetConfig& config,
                                              const std::string& account_name);

}  // namespace keyrotor::fleet
