#include "fleet/selection.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "base/strings.h"
#include "support/sandbox_world.h"

namespace keyrotor::fleet {
namespace {

// Counts the IAM actions the selection sends, to hold it to its budget.
class CountingTransport : public aws::HttpTransport {
 public:
  explicit CountingTransport(aws::HttpTransport* inner) : inner_(inner) {}
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request, const aws::TransportOptions& options) override {
    for (const std::string& param : Split(request.body, '&')) {
      if (StartsWith(param, "Action=")) {
        std::lock_guard<std::mutex> lock(mu_);
        ++calls_[param.substr(7)];
      }
    }
    return inner_->Send(request, options);
  }
  int Calls(const std::string& action) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[action];
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.clear();
  }

 private:
  aws::HttpTransport* inner_;
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

class FleetSelectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto iam = world_.Clients().Iam();
    ASSERT_TRUE(iam.ok());
    admin_iam_ = std::make_unique<aws::IamClient>(std::move(iam).value());
    // A fleet: service users under /service/, people under /people/, a few
    // tagged, a few in groups.
    User("svc-billing", "/service/", {{"team", "payments"}});
    User("svc-ledger", "/service/payments/", {{"team", "payments"}});
    User("svc-search", "/service/");
    User("svc-break-glass", "/service/");
    User("admin-root", "/service/");
    User("alice", "/people/");
    User("bob", "/people/", {{"team", "payments"}});
    User("carol", "/people/");
    User("ci-deploy", "/ci/");
    Group("rotated", {"carol", "ci-deploy"});
    Group("empty", {});

    aws::ClientFactory clients = world_.Clients();
    aws::ClientContext ctx = clients.context();
    ctx.transport = &counting_;
    aws::EndpointSettings endpoints;
    endpoints.explicit_url = "http://127.0.0.1:4566/";
    auto iam_counted = aws::ClientFactory(ctx, "us-east-1", endpoints, {}).Iam();
    ASSERT_TRUE(iam_counted.ok());
    iam_ = std::make_unique<aws::IamClient>(std::move(iam_counted).value());
  }

  void User(const std::string& name, const std::string& path, const std::vector<aws::Tag>& tags = {}) {
    ASSERT_TRUE(admin_iam_->CreateUser(name, path, tags).ok()) << name;
  }
  void Group(const std::string& name, const std::vector<std::string>& members) {
    ASSERT_TRUE(admin_iam_->Call("CreateGroup", {{"GroupName", name}}).ok());
    for (const std::string& m : members) {
      ASSERT_TRUE(admin_iam_->Call("AddUserToGroup", {{"GroupName", name}, {"UserName", m}}).ok());
    }
  }

  FleetConfig Config(const std::string& text) {
    Result<FleetConfig> c = ParseFleetConfig(text, "keyrotor.toml", {{"HOME", "/home/op"}});
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c).value() : FleetConfig{};
  }

  // "user:selection" for each selected user, in order.
  std::vector<std::string> Select(const FleetConfig& config, const std::string& account = "default") {
    counting_.Reset();
    Result<std::vector<SelectedUser>> users = SelectUsers(*iam_, config, account);
    EXPECT_TRUE(users.ok()) << users.status().message();
    std::vector<std::string> out;
    if (!users.ok()) return out;
    for (const SelectedUser& u : *users) out.push_back(u.user_name + ":" + std::to_string(u.selection));
    return out;
  }

  testing::SandboxWorld world_;
  CountingTransport counting_{world_.transport.get()};
  std::unique_ptr<aws::IamClient> admin_iam_;
  std::unique_ptr<aws::IamClient> iam_;
};

TEST_F(FleetSelectionTest, FirstMatchWinsAndEachUserOnce) {
  FleetConfig c = Config(R"(
[[selection]]
tags = ["team=payments"]
[[selection]]
users = ["ALICE", "bob"]
groups = ["rotated"]
[[selection]]
path_prefix = "/service/"
exclude_users = ["svc-break-glass"]
exclude_regex = "^admin-"
)");
  // bob is tagged: selection 0 takes him before selection 1 can; user names
  // match case-insensitively; svc-billing matches 0 and 2, once, as 0.
  EXPECT_EQ(Select(c), (std::vector<std::string>{"alice:1", "bob:0", "carol:1", "ci-deploy:1", "svc-billing:0",
                                                 "svc-ledger:0", "svc-search:2"}));
}

TEST_F(FleetSelectionTest, ExcludedUsersFallThroughToLaterSelections) {
  FleetConfig c = Config(R"(
[[selection]]
user_regex = "^svc-"
exclude_regex = "break-glass|search"
mode = "immediate"
[[selection]]
path_prefix = "/service/"
)");
  EXPECT_EQ(Select(c), (std::vector<std::string>{"admin-root:1", "svc-billing:0", "svc-break-glass:1", "svc-ledger:0",
                                                 "svc-search:1"}));
  EXPECT_EQ(c.selections[0].options.policy.mode, engine::RotationMode::kImmediate);
}

TEST_F(FleetSelectionTest, OneListUsersNarrowedToTheCommonPathPrefix) {
  FleetConfig c = Config(R"(
[[selection]]
path_prefix = "/service/payments/"
[[selection]]
path_prefix = "/service/"
exclude_users = ["admin-root", "svc-break-glass"]
)");
  EXPECT_EQ(Select(c), (std::vector<std::string>{"svc-billing:1", "svc-ledger:0", "svc-search:1"}));
  EXPECT_EQ(counting_.Calls("ListUsers"), 1);
  EXPECT_EQ(counting_.Calls("ListUserTags"), 0);
  EXPECT_EQ(counting_.Calls("GetGroup"), 0);
}

TEST_F(FleetSelectionTest, GroupsAloneNeedNoListUsersAndEachGroupIsReadOnce) {
  FleetConfig c = Config(R"(
[[selection]]
groups = ["rotated"]
exclude_users = ["carol"]
[[selection]]
groups = ["Rotated", "empty"]
)");
  EXPECT_EQ(Select(c), (std::vector<std::string>{"carol:1", "ci-deploy:0"}));
  EXPECT_EQ(counting_.Calls("ListUsers"), 0);
  EXPECT_EQ(counting_.Calls("GetGroup"), 2);  // "rotated" once (names are case-insensitive), "empty" once
}

TEST_F(FleetSelectionTest, TagsAreReadOnlyForUsersWhoseFateDependsOnThem) {
  FleetConfig c = Config(R"(
[[selection]]
path_prefix = "/people/"
[[selection]]
tags = ["team=payments"]
exclude_regex = "^admin-"
)");
  EXPECT_EQ(Select(c), (std::vector<std::string>{"alice:0", "bob:0", "carol:0", "svc-billing:1", "svc-ledger:1"}));
  // Not for the three people (selection 0 took them first), nor admin-root
  // (excluded): admin (the sandbox's own), ci-deploy, svc-billing,
  // svc-break-glass, svc-ledger, svc-search.
  EXPECT_EQ(counting_.Calls("ListUserTags"), 6);
  EXPECT_EQ(counting_.Calls("ListUsers"), 1);
}

TEST_F(FleetSelectionTest, SelectionsApplyOnlyToTheirAccounts) {
  FleetConfig c = Config(R"(
[[accounts]]
name = "prod"
[[accounts]]
name = "staging"
role_arn = "arn:aws:iam::123456789012:role/keyrotor"
[[selection]]
accounts = ["staging"]
all_users = true
[[selection]]
accounts = ["prod"]
users = ["alice"]
)");
  EXPECT_EQ(Select(c, "prod"), std::vector<std::string>{"alice:1"});
  EXPECT_EQ(Select(c, "staging").size(), 10u);  // the fleet and the sandbox's admin
  Result<std::vector<SelectedUser>> none = SelectUsers(*iam_, c, "qa");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no account is named 'qa'"), std::string::npos);
}

TEST_F(FleetSelectionTest, SelectedUsersCarryTheirPath) {
  FleetConfig c = Config("[[selection]]\nusers = [\"svc-ledger\"]\n");
  Result<std::vector<SelectedUser>> users = SelectUsers(*iam_, c, "default");
  ASSERT_TRUE(users.ok()) << users.status().message();
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].path, "/service/payments/");
}

TEST_F(FleetSelectionTest, UnknownGroupIsAnErrorNamingTheSelection) {
  FleetConfig c = Config("[[selection]]\nall_users = true\n[[selection]]\ngroups = [\"rotatd\"]\n");
  Result<std::vector<SelectedUser>> users = SelectUsers(*iam_, c, "default");
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().message().rfind("keyrotor.toml:3: selection[1].groups: group 'rotatd': ", 0), 0u)
      << users.status().message();
}

TEST_F(FleetSelectionTest, ListUsersIsPaginatedAThousandAPage) {
  for (int i = 0; i < 1005; ++i) User("bulk-" + std::to_string(10000 + i), "/bulk/");
  FleetConfig c = Config("[[selection]]\nuser_regex = \"^bulk-\"\n");
  std::vector<std::string> selected = Select(c);
  ASSERT_EQ(selected.size(), 1005u);
  EXPECT_EQ(selected.front(), "bulk-10000:0");
  EXPECT_EQ(selected.back(), "bulk-11004:0");
  EXPECT_EQ(counting_.Calls("ListUsers"), 2);  // 1,000 users, then 5 (and the admin)
}

}  // namespace
}  // namespace keyrotor::fleet
