// AWS Organizations (JSON 1.1, target prefix AWSOrganizationsV20161128): the
// read calls account discovery makes. Shapes and errors follow the
// Organizations API Reference (docs.aws.amazon.com/organizations/latest/
// APIReference: DescribeOrganization, ListRoots, ListAccounts,
// ListAccountsForParent, ListOrganizationalUnitsForParent, ListChildren, the
// Account data type with its State and the deprecated Status, and "Common
// Errors"). Only the management account and a delegated administrator may
// call them; a caller outside any organization gets
// AWSOrganizationsNotInUseException.
#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "base/crypto.h"
#include "base/strings.h"
#include "sandbox/services.h"

namespace keyrotor::sandbox {
namespace {

constexpr std::string_view kTokenPrefix = "keyrotor-sandbox-org:";

Status InvalidInput(std::string message) { return ApiError(400, "InvalidInputException", std::move(message)); }

// Who may call: the organization's management account and its delegated administrators.
Result<const Organization*> CallerOrganization(OpContext& ctx) {
  const std::optional<Organization>& org = ctx.state.world->org;
  bool member = org && std::any_of(org->accounts.begin(), org->accounts.end(),
                                   [&](const OrgAccount& a) { return a.id == ctx.state.account_id; });
  if (!member) {
    return ApiError(400, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization.");
  }
  if (ctx.caller.permissions != UserPermissions::kAdmin) {
    return ApiError(400, "AccessDeniedException", "You don't have permissions to access this resource.");
  }
  if (ctx.state.account_id != org->management_account && !org->delegated_administrators.count(ctx.state.account_id)) {
    return ApiError(400, "AccessDeniedException",
                    "You don't have permissions to access this resource. The caller is not the management account "
                    "or a delegated administrator of the organization.");
  }
  return &*org;
}

struct PageRange {
  size_t begin = 0, end = 0;
  std::optional<std::string> next_token;
};

// MaxResults 1..20 (the API's range for these calls); NextToken an opaque offset.
Result<PageRange> PageOf(const nlohmann::json& body, size_t count) {
  PageRange out;
  size_t max = 20;
  if (auto it = body.find("MaxResults"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return ApiError(400, "SerializationException", "Unexpected value type for MaxResults: expected an integer");
    }
    int64_t n = it->get<int64_t>();
    if (n < 1 || n > 20) {
      return InvalidInput("You specified an invalid value for MaxResults: it must be between 1 and 20.");
    }
    max = static_cast<size_t>(n);
  }
  KR_ASSIGN_OR_RETURN(std::optional<std::string> token, OptionalString(body, "NextToken"));
  if (token) {
    std::optional<std::string> decoded = Base64Decode(*token);
    size_t offset = 0;
    bool ok = decoded && StartsWith(*decoded, kTokenPrefix);
    if (ok) {
      std::string_view digits = std::string_view(*decoded).substr(kTokenPrefix.size());
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), offset);
      ok = ec == std::errc() && ptr == digits.data() + digits.size() && offset <= count;
    }
    if (!ok) return InvalidInput("You specified an invalid value for nextToken.");
    out.begin = offset;
  }
  out.end = std::min(count, out.begin + max);
  if (out.end < count) out.next_token = Base64Encode(std::string(kTokenPrefix) + std::to_string(out.end));
  return out;
}

Reply PagedReply(const char* member, nlohmann::json items, const PageRange& page) {
  nlohmann::json body = {{member, std::move(items)}};
  if (page.next_token) body["NextToken"] = *page.next_token;
  return Reply::Json(std::move(body));
}

// The deprecated Status knows only ACTIVE, SUSPENDED and PENDING_CLOSURE.
std::string LegacyStatus(const std::string& state) {
  if (state == "ACTIVE" || state == "PENDING_CLOSURE") return state;
  return "SUSPENDED";
}

nlohmann::json AccountJson(const Organization& org, const OrgAccount& a) {
  return {{"Id", a.id},
          {"Arn", org.AccountArn(a.id)},
          {"Email", a.email},
          {"Name", a.name},
          {"Status", LegacyStatus(a.state)},
          {"State", a.state},
          {"JoinedMethod", a.id == org.management_account ? "INVITED" : "CREATED"},
          {"JoinedTimestamp", EpochSeconds(a.joined)}};
}

nlohmann::json UnitJson(const Organization& org, const OrgUnit& u) {
  return {{"Id", u.id}, {"Arn", org.UnitArn(u.id)}, {"Name", u.name}};
}

Result<std::string> ParentId(const Organization& org, const nlohmann::json& body) {
  KR_ASSIGN_OR_RETURN(std::string parent, RequiredString(body, "ParentId"));
  if (!org.HasParent(parent)) {
    return ApiError(400, "ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.");
  }
  return parent;
}

Result<Reply> DescribeOrganization(OpContext& ctx, const RoutedRequest&) {
  const std::optional<Organization>& org = ctx.state.world->org;
  bool member = org && std::any_of(org->accounts.begin(), org->accounts.end(),
                                   [&](const OrgAccount& a) { return a.id == ctx.state.account_id; });
  // Any member account may describe its organization.
  if (!member) {
    return ApiError(400, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization.");
  }
  return Reply::Json({{"Organization",
                       {{"Id", org->id},
                        {"Arn", org->Arn()},
                        {"FeatureSet", "ALL"},
                        {"MasterAccountArn", org->AccountArn(org->management_account)},
                        {"MasterAccountId", org->management_account},
                        {"MasterAccountEmail", org->management_email},
                        {"AvailablePolicyTypes", nlohmann::json::array()}}}});
}

Result<Reply> ListRoots(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(const Organization* org, CallerOrganization(ctx));
  KR_ASSIGN_OR_RETURN(PageRange page, PageOf(request.body, 1));
  nlohmann::json roots = nlohmann::json::array();
  if (page.begin < page.end) {
    roots.push_back({{"Id", org->root_id},
                     {"Arn", org->RootArn()},
                     {"Name", "Root"},
                     {"PolicyTypes", nlohmann::json::array()}});
  }
  return PagedReply("Roots", std::move(roots), page);
}

Result<Reply> ListAccounts(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(const Organization* org, CallerOrganization(ctx));
  KR_ASSIGN_OR_RETURN(PageRange page, PageOf(request.body, org->accounts.size()));
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = page.begin; i < page.end; ++i) items.push_back(AccountJson(*org, org->accounts[i]));
  return PagedReply("Accounts", std::move(items), page);
}

Result<Reply> ListAccountsForParent(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(const Organization* org, CallerOrganization(ctx));
  KR_ASSIGN_OR_RETURN(std::string parent, ParentId(*org, request.body));
  std::vector<const OrgAccount*> children;
  for (const OrgAccount& a : org->accounts) {
    if (a.parent_id == parent) children.push_back(&a);
  }
  KR_ASSIGN_OR_RETURN(PageRange page, PageOf(request.body, children.size()));
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = page.begin; i < page.end; ++i) items.push_back(AccountJson(*org, *children[i]));
  return PagedReply("Accounts", std::move(items), page);
}

Result<Reply> ListOrganizationalUnitsForParent(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(const Organization* org, CallerOrganization(ctx));
  KR_ASSIGN_OR_RETURN(std::string parent, ParentId(*org, request.body));
  std::vector<const OrgUnit*> children;
  for (const OrgUnit& u : org->units) {
    if (u.parent_id == parent) children.push_back(&u);
  }
  KR_ASSIGN_OR_RETURN(PageRange page, PageOf(request.body, children.size()));
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = page.begin; i < page.end; ++i) items.push_back(UnitJson(*org, *children[i]));
  return PagedReply("OrganizationalUnits", std::move(items), page);
}

Result<Reply> ListChildren(OpContext& ctx, const RoutedRequest& request) {
  KR_ASSIGN_OR_RETURN(const Organization* org, CallerOrganization(ctx));
  KR_ASSIGN_OR_RETURN(std::string parent, ParentId(*org, request.body));
  KR_ASSIGN_OR_RETURN(std::string type, RequiredString(request.body, "ChildType"));
  if (type != "ACCOUNT" && type != "ORGANIZATIONAL_UNIT") {
    return ApiError(400, "ValidationException",
                    ValidationMessage(type, "childType",
                                      "Member must satisfy enum value set: [ACCOUNT, ORGANIZATIONAL_UNIT]"));
  }
  std::vector<std::string> ids;
  if (type == "ACCOUNT") {
    for (const OrgAccount& a : org->accounts) {
      if (a.parent_id == parent) ids.push_back(a.id);
    }
  } else {
    for (const OrgUnit& u : org->units) {
      if (u.parent_id == parent) ids.push_back(u.id);
    }
  }
  KR_ASSIGN_OR_RETURN(PageRange page, PageOf(request.body, ids.size()));
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = page.begin; i < page.end; ++i) items.push_back({{"Id", ids[i]}, {"Type", type}});
  return PagedReply("Children", std::move(items), page);
}

}  // namespace

std::string Organization::Arn() const {
  return "arn:aws:organizations::" + management_account + ":organization/" + id;
}
std::string Organization::AccountArn(const std::string& account_id) const {
  return "arn:aws:organizations::" + management_account + ":account/" + id + "/" + account_id;
}
std::string Organization::UnitArn(const std::string& unit_id) const {
  return "arn:aws:organizations::" + management_account + ":ou/" + id + "/" + unit_id;
}
std::string Organization::RootArn() const {
  return "arn:aws:organizations::" + management_account + ":root/" + id + "/" + root_id;
}
bool Organization::HasParent(std::string_view parent_id) const {
  if (parent_id == root_id) return true;
  return std::any_of(units.begin(), units.end(), [&](const OrgUnit& u) { return u.id == parent_id; });
}

Operation FindOrganizationsOperation(std::string_view name) {
  static const std::unordered_map<std::string_view, Operation> kOperations = {
      {"DescribeOrganization", DescribeOrganization},
      {"ListRoots", ListRoots},
      {"ListAccounts", ListAccounts},
      {"ListAccountsForParent", ListAccountsForParent},
      {"ListOrganizationalUnitsForParent", ListOrganizationalUnitsForParent},
      {"ListChildren", ListChildren},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace keyrotor::sandbox
