#include "fleet/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/file_util.h"
#include "base/strings.h"
#include "engine/settings.h"
#include "support/process.h"
#include "support/sandbox_world.h"

namespace keyrotor::fleet {
namespace {

using std::chrono::hours;

const EnvMap kEnv = {{"HOME", "/home/op"}};
constexpr char kPath[] = "/etc/keyrotor/keyrotor.toml";

// The lines of a file, numbered from 1 as listed: tests name lines by index.
std::string Lines(std::initializer_list<std::string_view> lines) {
  std::string text;
  for (std::string_view l : lines) text += std::string(l) + "\n";
  return text;
}

Result<FleetConfig> Parse(const std::string& text) { return ParseFleetConfig(text, kPath, kEnv); }

// The single problem reported for `text`.
std::string OnlyError(const std::string& text) {
  Result<FleetConfig> c = Parse(text);
  if (c.ok()) return "(parsed without error)";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().find('\n'), std::string::npos) << c.status().message();
  return c.status().message();
}

TEST(FleetConfigTest, FullExampleParsesIntoEngineOptions) {
  std::string text = Lines({
      R"(state = "~/state/journal.db")",                                     // 1
      "concurrency = 4",                                                     // 2
      R"(schedule = "every 12h")",                                           // 3
      "[policy]",                                                            // 4
      R"(mode = "staged")",                                                  // 5
      R"(rotate_after = "60d")",                                             // 6
      R"(deactivate_after = "7d")",                                          // 7
      R"(delete_after = "5d")",                                              // 8
      R"(max_age = "90d")",                                                  // 9
      R"(quiet_period = "12h")",                                             // 10
      R"(force_after = "20d")",                                              // 11
      R"(verify_timeout = "30s")",                                           // 12
      R"(exempt_tags = ["keyrotor:exempt=true", "frozen=yes"])",             // 13
      R"(exempt_groups = ["admins"])",                                       // 14
      "delete_unknown_inactive = true",                                      // 15
      R"(to = ["secretsmanager:Account_{account}_User_{user}_AccessKey"])",  // 16
      R"(notify = ["sns:arn:aws:sns:us-east-1:123456789012:keys"])",         // 17
      R"(kms_key_id = "alias/keys")",                                        // 18
      "[[accounts]]",                                                        // 19
      R"(name = "prod")",                                                    // 20
      R"(id = "123456789012")",                                              // 21
      R"(role_arn = "arn:aws:iam::123456789012:role/ops/keyrotor")",         // 22
      R"(external_id = "shared-ext-id")",                                    // 23
      R"(session_name = "keyrotor")",                                        // 24
      R"(region = "eu-west-1")",                                             // 25
      "rate_limit = 10",                                                     // 26
      "[[accounts]]",                                                        // 27
      R"(name = "dev")",                                                     // 28
      "rate_limit = 2.5",                                                    // 29
      "[[selection]]",                                                       // 30
      R"(accounts = ["prod"])",                                              // 31
      R"(users = ["alice", "bob"])",                                         // 32
      R"(user_regex = "^svc-")",                                             // 33
      R"(path_prefix = "/service/")",                                        // 34
      R"(groups = ["rotated"])",                                             // 35
      R"(tags = ["team=payments"])",                                         // 36
      R"(exclude_users = ["break-glass"])",                                  // 37
      R"(exclude_regex = "^admin-")",                                        // 38
      R"(mode = "immediate")",                                               // 39
      R"(to = ["ssm:/keys/{user}", "vault:/srv/vault#{user}"])",             // 40
      "[[selection]]",                                                       // 41
      "all_users = true",                                                    // 42
      R"(notify = [])",                                                      // 43
  });
  Result<FleetConfig> parsed = Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const FleetConfig& c = *parsed;
  EXPECT_EQ(c.state, "/home/op/state/journal.db");
  EXPECT_EQ(c.concurrency, 4);
  EXPECT_EQ(c.schedule.text(), "every 12h");

  ASSERT_EQ(c.accounts.size(), 2u);
  const Account& prod = c.accounts[0];
  EXPECT_EQ(prod.name, "prod");
  EXPECT_EQ(prod.id, "123456789012");
  EXPECT_EQ(prod.role_arn, "arn:aws:iam::123456789012:role/ops/keyrotor");
  EXPECT_EQ(prod.external_id, "shared-ext-id");
  EXPECT_EQ(prod.session_name, "keyrotor");
  EXPECT_EQ(prod.region, "eu-west-1");
  EXPECT_EQ(prod.rate_limit, 10);
  EXPECT_EQ(prod.line, 19);
  EXPECT_EQ(c.accounts[1].name, "dev");
  EXPECT_TRUE(c.accounts[1].role_arn.empty());
  EXPECT_EQ(c.accounts[1].rate_limit, 2.5);
  EXPECT_EQ(c.FindAccount("dev"), &c.accounts[1]);
  EXPECT_EQ(c.FindAccount("nope"), nullptr);

  ASSERT_EQ(c.selections.size(), 2u);
  const Selection& first = c.selections[0];
  EXPECT_EQ(first.index, 0u);
  EXPECT_EQ(first.line, 30);
  EXPECT_EQ(first.accounts, std::vector<std::string>{"prod"});
  EXPECT_TRUE(first.AppliesTo("prod"));
  EXPECT_FALSE(first.AppliesTo("dev"));
  EXPECT_EQ(first.users, (std::vector<std::string>{"alice", "bob"}));
  ASSERT_TRUE(first.user_regex);
  EXPECT_EQ(first.user_regex_text, "^svc-");
  EXPECT_EQ(first.path_prefix, "/service/");
  EXPECT_EQ(first.groups, std::vector<std::string>{"rotated"});
  ASSERT_EQ(first.tags.size(), 1u);
  EXPECT_EQ(first.tags[0].key, "team");
  EXPECT_EQ(first.tags[0].value, "payments");
  EXPECT_FALSE(first.all_users);
  EXPECT_EQ(first.exclude_users, std::vector<std::string>{"break-glass"});
  ASSERT_TRUE(first.exclude_regex);

  // The selection's own keys override [policy]; the rest is inherited.
  const engine::Policy& p = first.options.policy;
  EXPECT_EQ(p.mode, engine::RotationMode::kImmediate);
  EXPECT_EQ(p.rotate_after, engine::Days(60));
  EXPECT_EQ(p.deactivate_after, engine::Days(7));
  EXPECT_EQ(p.delete_after, engine::Days(5));
  EXPECT_EQ(p.max_age, engine::Days(90));
  EXPECT_EQ(p.quiet_period, hours(12));
  EXPECT_EQ(p.force_after, engine::Days(20));
  EXPECT_EQ(p.verify_timeout, std::chrono::seconds(30));
  ASSERT_EQ(p.exempt_tags.size(), 2u);
  EXPECT_EQ(p.exempt_tags[1].key, "frozen");
  EXPECT_EQ(p.exempt_tags[1].value, "yes");
  EXPECT_EQ(p.exempt_groups, std::vector<std::string>{"admins"});
  EXPECT_TRUE(p.delete_unknown_inactive);
  EXPECT_EQ(first.options.destinations, (std::vector<std::string>{"ssm:/keys/{user}", "vault:/srv/vault#{user}"}));
  ASSERT_EQ(first.to_origins.size(), 2u);
  EXPECT_EQ(first.to_origins[1].line, 40);
  EXPECT_EQ(first.to_origins[1].setting, "selection[0].to");
  EXPECT_EQ(first.options.notify, std::vector<std::string>{"sns:arn:aws:sns:us-east-1:123456789012:keys"});
  ASSERT_EQ(first.notify_origins.size(), 1u);
  EXPECT_EQ(first.notify_origins[0].line, 17);
  EXPECT_EQ(first.options.destination_options.kms_key_id, "alias/keys");

  const Selection& second = c.selections[1];
  EXPECT_TRUE(second.all_users);
  EXPECT_TRUE(second.AppliesTo("dev"));
  EXPECT_EQ(second.options.policy.mode, engine::RotationMode::kStaged);
  EXPECT_EQ(second.options.destinations,
            std::vector<std::string>{"secretsmanager:Account_{account}_User_{user}_AccessKey"});
  EXPECT_TRUE(second.options.notify.empty());  // overridden with nothing
}

TEST(FleetConfigTest, DefaultsWithoutAccountsPolicyOrState) {
  Result<FleetConfig> c = Parse(Lines({"[[selection]]", "users = [\"alice\"]"}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->state, "/home/op/.local/state/keyrotor/journal.db");
  EXPECT_EQ(c->concurrency, 16);
  EXPECT_EQ(c->schedule.text(), kDefaultSchedule);
  ASSERT_EQ(c->accounts.size(), 1u);
  EXPECT_EQ(c->accounts[0].name, "default");  // the admin credentials' own account
  EXPECT_TRUE(c->accounts[0].role_arn.empty());
  // The engine's defaults, as `keyrotor rotate` without flags.
  const engine::Policy& p = c->selections[0].options.policy;
  EXPECT_EQ(p.mode, engine::RotationMode::kStaged);
  EXPECT_EQ(p.rotate_after, engine::Days(90));
  ASSERT_EQ(p.exempt_tags.size(), 1u);
  EXPECT_EQ(p.exempt_tags[0].key, "keyrotor:exempt");
}

// The response to an exposed key and the github: destinations are [policy]
// settings like the others: overridable per selection, checked, files
// anchored at the config's directory.
TEST(FleetConfigTest, ExposureAndGithubSettings) {
  Result<FleetConfig> c = Parse(Lines({"[policy]", "on_exposure = \"deactivate-first\"",
                                       "exposed_delete_after = \"0\"", "exposure_lookup_regions = [\"eu-west-1\"]",
                                       "github_token_file = \"gh.token\"", "github_visibility = \"all\"",
                                       "[[selection]]", "users = [\"ci\"]", "on_exposure = \"rotate-first\"",
                                       "[[selection]]", "users = [\"cd\"]"}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const engine::Policy& first = c->selections[0].options.policy;
  EXPECT_EQ(first.on_exposure, engine::ExposureOrder::kRotateFirst);
  EXPECT_EQ(first.exposed_delete_after, Duration(0));
  EXPECT_EQ(first.exposure_lookup_regions, std::vector<std::string>{"eu-west-1"});
  EXPECT_EQ(c->selections[1].options.policy.on_exposure, engine::ExposureOrder::kDeactivateFirst);
  const destinations::DestinationOptions& d = c->selections[1].options.destination_options;
  EXPECT_EQ(d.github_visibility, "all");
  EXPECT_EQ(d.github_token_file.substr(d.github_token_file.size() - 9), "/gh.token");
  EXPECT_EQ(d.github_token_file[0], '/');

  Result<FleetConfig> bad = Parse(Lines({"[policy]", "on_exposure = \"panic\"", "exposure_lookup_window = \"91d\"",
                                         "github_visibility = \"everyone\"", "github_app_id = \"1\"",
                                         "[[selection]]", "users = [\"ci\"]"}));
  ASSERT_FALSE(bad.ok());
  for (const char* setting : {"on_exposure", "github_visibility", "github_app_id"}) {
    EXPECT_NE(bad.status().message().find(setting), std::string::npos) << setting << ": " << bad.status().message();
  }
}

// Every destination setting (engine::DestinationSettings()) is a [policy]
// key reaching DestinationOptions, file settings anchored at the config's
// directory; an unknown one near a known name is refused with a suggestion.
TEST(FleetConfigTest, DestinationSettingsFromTheOneTable) {
  Result<FleetConfig> c = Parse(Lines({"[policy]", "gitlab_api_url = \"https://gitlab.example.com/api/v4\"",
                                       "gitlab_token_file = \"gl.token\"", "vault_kv_addr = \"https://vault:8200\"",
                                       "vault_kv_auth = \"approle\"", "vault_kv_role_id = \"r-1\"",
                                       "vault_kv_secret_id_file = \"/run/secret-id\"",
                                       "kubernetes_kubeconfig = \"kube/config\"", "kubernetes_context = \"prod\"",
                                       "[[selection]]", "users = [\"ci\"]", "kubernetes_context = \"staging\""}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const destinations::DestinationOptions& d = c->selections[0].options.destination_options;
  EXPECT_EQ(d.gitlab_api_url, "https://gitlab.example.com/api/v4");
  EXPECT_EQ(d.gitlab_token_file, "/etc/keyrotor/gl.token");
  EXPECT_EQ(d.vault_kv_addr, "https://vault:8200");
  EXPECT_EQ(d.vault_kv_auth, "approle");
  EXPECT_EQ(d.vault_kv_role_id, "r-1");
  EXPECT_EQ(d.vault_kv_secret_id_file, "/run/secret-id");
  EXPECT_EQ(d.kubernetes_kubeconfig, "/etc/keyrotor/kube/config");
  EXPECT_EQ(d.kubernetes_context, "staging");
  EXPECT_EQ(engine::DestinationSettings().size(), 20u) << "a setting added: document it in docs/config.md";

  Result<FleetConfig> bad = Parse(Lines({"[policy]", "gitlab_tokn_file = \"x\"", "[[selection]]", "users = [\"ci\"]"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("gitlab_token_file"), std::string::npos) << bad.status().message();
}

TEST(FleetConfigTest, StateKeepsPostgresUrlsAndAnchorsRelativePaths) {
  Result<FleetConfig> c =
      Parse(Lines({R"(state = "postgresql://kr@db/keyrotor")", "[[selection]]", "all_users = true"}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->state, "postgresql://kr@db/keyrotor");
  c = Parse(Lines({R"(state = "state/journal.db")", "[[selection]]", "all_users = true"}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->state, "/etc/keyrotor/state/journal.db");
}

TEST(FleetConfigTest, StateDefaultFollowsTheEnvironmentLikeTheCli) {
  Result<FleetConfig> c = ParseFleetConfig(Lines({"[[selection]]", "all_users = true"}), kPath,
                                           {{"HOME", "/home/op"}, {"KEYROTOR_STATE", "/var/lib/kr.db"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->state, "/var/lib/kr.db");
}

TEST(FleetConfigTest, ShippedExampleLoads) {
  Result<FleetConfig> c = LoadFleetConfig(std::string(KEYROTOR_SOURCE_DIR) + "/examples/keyrotor.toml", kEnv);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->accounts.size(), 2u);
  EXPECT_EQ(c->selections.size(), 3u);
  testing::SandboxWorld world;
  Status specs = ValidateSpecs(*c, world.Clients());
  EXPECT_TRUE(specs.ok()) << specs.message();
}

// --- One test per kind of problem: FILE:LINE: SETTING: what is wrong --------

TEST(FleetConfigErrorTest, TomlSyntaxErrorGivesLineAndColumn) {
  std::string e = OnlyError(Lines({"concurrency = 4", "schedule = \"0 3 * * *", "[[selection]]"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(FleetConfigErrorTest, UnknownTopLevelKeySuggestsTheNearOne) {
  EXPECT_EQ(OnlyError(Lines({"concurency = 4", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:1: concurency: unknown setting (did you mean concurrency?)");
}

TEST(FleetConfigErrorTest, UnknownKeysInEveryTable) {
  EXPECT_EQ(OnlyError(Lines({"[policy]", R"(rotate_afer = "30d")", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:2: policy.rotate_afer: unknown setting (did you mean rotate_after?)");
  EXPECT_EQ(
      OnlyError(Lines({"[[accounts]]", R"(name = "a")", R"(rolearn = "x")", "[[selection]]", "all_users = true"})),
      "/etc/keyrotor/keyrotor.toml:3: accounts[0].rolearn: unknown setting (did you mean role_arn?)");
  // A selection takes criteria and policy keys alike.
  EXPECT_EQ(
      OnlyError(Lines({"[[selection]]", "all_users = true", "[[selection]]", R"(groups = ["g"])", R"(user = ["a"])"})),
      "/etc/keyrotor/keyrotor.toml:5: selection[1].user: unknown setting (did you mean users?)");
}

TEST(FleetConfigErrorTest, BadDuration) {
  std::string e = OnlyError(Lines({"[policy]", R"(rotate_after = "90 days")", "[[selection]]", "all_users = true"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:2: policy.rotate_after: ", 0), 0u) << e;
}

TEST(FleetConfigErrorTest, BadModeInASelection) {
  std::string e = OnlyError(Lines({"[[selection]]", "all_users = true", R"(mode = "yolo")"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:3: selection[0].mode: ", 0), 0u) << e;
}

TEST(FleetConfigErrorTest, PolicyContradictionBlamesTheSettingWhereItWasWritten) {
  // max_age from the selection, deactivate_after from [policy]: the message
  // points at the selection's max_age.
  std::string e = OnlyError(
      Lines({"[policy]", R"(deactivate_after = "10d")", "[[selection]]", "all_users = true", R"(max_age = "5d")"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:5: selection[0].max_age: ", 0), 0u) << e;
  EXPECT_NE(e.find("deactivate_after"), std::string::npos) << e;
}

TEST(FleetConfigErrorTest, WrongType) {
  EXPECT_EQ(OnlyError(Lines({"[policy]", R"(delete_unknown_inactive = "yes")", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:2: policy.delete_unknown_inactive: expected true or false, got a string");
  EXPECT_EQ(OnlyError(Lines({"[[selection]]", "all_users = true", "to = [1]"})),
            "/etc/keyrotor/keyrotor.toml:3: selection[0].to: expected an array of strings, found an integer");
}

TEST(FleetConfigErrorTest, BadRegex) {
  std::string e = OnlyError(Lines({"[[selection]]", R"(user_regex = "^svc-(")"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:2: selection[0].user_regex: '^svc-(' is not a valid regular", 0), 0u)
      << e;
  e = OnlyError(Lines({"[[selection]]", "all_users = true", R"(exclude_regex = "[a-")"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:3: selection[0].exclude_regex: ", 0), 0u) << e;
}

TEST(FleetConfigErrorTest, DuplicateAccountName) {
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "prod")", "[[accounts]]", R"(name = "prod")",
                             R"(role_arn = "arn:aws:iam::123456789012:role/k")", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:4: accounts[1].name: 'prod' is already the name of the account at line 2");
}

TEST(FleetConfigErrorTest, AccountNameRequired) {
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(id = "123456789012")", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:1: accounts[0].name: required: every [[accounts]] table needs a unique name");
}

TEST(FleetConfigErrorTest, SelectionNamesAnUnknownAccount) {
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "prod")", "[[selection]]", "all_users = true",
                             R"(accounts = ["prod", "prd"])"})),
            "/etc/keyrotor/keyrotor.toml:5: selection[0].accounts: no account is named 'prd'");
}

TEST(FleetConfigErrorTest, RoleArnShapeAndAccount) {
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "prod")", R"(role_arn = "arn:aws:iam::12345:user/keyrotor")",
                             "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:3: accounts[0].role_arn: expected arn:aws:iam::ACCOUNT_ID:role/NAME");
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "prod")", R"(id = "111111111111")",
                             R"(role_arn = "arn:aws:iam::222222222222:role/keyrotor")", "[[selection]]",
                             "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:4: accounts[0].role_arn: the role is in account 222222222222 but id says "
            "111111111111");
}

TEST(FleetConfigErrorTest, AccountIdIsTwelveDigitsAsAString) {
  const std::string want =
      "/etc/keyrotor/keyrotor.toml:3: accounts[0].id: expected the 12-digit account id as a "
      "string, e.g. \"012345678901\"";
  EXPECT_EQ(OnlyError(Lines(
                {"[[accounts]]", R"(name = "prod")", R"(id = "12345678901")", "[[selection]]", "all_users = true"})),
            want);
  EXPECT_EQ(
      OnlyError(Lines({"[[accounts]]", R"(name = "prod")", "id = 123456789012", "[[selection]]", "all_users = true"})),
      want);
}

TEST(FleetConfigErrorTest, RoleOptionsWithoutARole) {
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "prod")", R"(external_id = "abc123")", "[[selection]]",
                             "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:3: accounts[0].external_id: only means something with role_arn");
  // Two accounts that are both the admin's own account.
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "a")", "[[accounts]]", R"(name = "b")", "[[selection]]",
                             "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:3: accounts[1].role_arn: required here: the account at line 1 already uses "
            "the admin credentials' own account");
}

TEST(FleetConfigErrorTest, AccountRegionAndRateLimit) {
  EXPECT_EQ(
      OnlyError(Lines({"[[accounts]]", R"(name = "a")", R"(region = "US East")", "[[selection]]", "all_users = true"})),
      "/etc/keyrotor/keyrotor.toml:3: accounts[0].region: 'US East' is not a region name like us-east-1");
  EXPECT_EQ(OnlyError(Lines({"[[accounts]]", R"(name = "a")", "rate_limit = -1", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:3: accounts[0].rate_limit: must be 0 (unlimited) or more");
}

TEST(FleetConfigErrorTest, ConcurrencyRange) {
  EXPECT_EQ(OnlyError(Lines({"concurrency = 0", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:1: concurrency: must be between 1 and 256, got 0");
  EXPECT_EQ(OnlyError(Lines({"concurrency = \"8\"", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:1: concurrency: expected an integer (1..256), got a string");
}

TEST(FleetConfigErrorTest, BadSchedule) {
  EXPECT_EQ(OnlyError(Lines({"[[selection]]", "all_users = true", R"(schedule = "0 3 * *")"})),
            "/etc/keyrotor/keyrotor.toml:3: selection[0].schedule: unknown setting");
  EXPECT_EQ(OnlyError(Lines({R"(schedule = "0 25 * * *")", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:1: schedule: hour field '25': 25 is out of range 0-23");
}

TEST(FleetConfigErrorTest, TagsNeedKeyEqualsValue) {
  EXPECT_EQ(OnlyError(Lines({"[[selection]]", R"(tags = ["team=payments",)", R"(  "payments"])"})),
            "/etc/keyrotor/keyrotor.toml:3: selection[0].tags: expected KEY=VALUE, got 'payments'");
  EXPECT_EQ(OnlyError(Lines({"[policy]", R"(exempt_tags = ["frozen"])", "[[selection]]", "all_users = true"})),
            "/etc/keyrotor/keyrotor.toml:2: policy.exempt_tags: expected KEY=VALUE, got 'frozen'");
}

TEST(FleetConfigErrorTest, SelectionMustSelectSomebody) {
  EXPECT_EQ(OnlyError(Lines({"[[selection]]", R"(mode = "immediate")"})),
            "/etc/keyrotor/keyrotor.toml:1: selection[0]: selects no user: give users, user_regex, path_prefix, "
            "groups, tags or all_users = true");
  EXPECT_EQ(OnlyError(Lines({"concurrency = 2"})),
            "/etc/keyrotor/keyrotor.toml: selection: no [[selection]]: the file selects no user to rotate");
  std::string e = OnlyError(Lines({"[[selection]]", "all_users = true", R"(users = ["a"])"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:2: selection[0].all_users: true selects every user", 0), 0u) << e;
}

TEST(FleetConfigErrorTest, NamesAndPaths) {
  EXPECT_EQ(OnlyError(Lines({"[[selection]]", R"(users = ["bad name"])"})),
            "/etc/keyrotor/keyrotor.toml:2: selection[0].users: 'bad name' is not a valid IAM name (1-128 of "
            "letters, digits and +=,.@_-)");
  EXPECT_EQ(OnlyError(Lines({"[[selection]]", R"(path_prefix = "service")"})),
            "/etc/keyrotor/keyrotor.toml:2: selection[0].path_prefix: 'service': an IAM path starts and ends with /");
}

TEST(FleetConfigErrorTest, MissingValueTemplateFile) {
  std::string e = OnlyError(Lines({"[[selection]]", "all_users = true", R"(value_template = "no-such.json")"}));
  EXPECT_EQ(e.rfind("/etc/keyrotor/keyrotor.toml:3: selection[0].value_template: ", 0), 0u) << e;
  EXPECT_NE(e.find("/etc/keyrotor/no-such.json"), std::string::npos) << e;  // relative to the config file
}

TEST(FleetConfigErrorTest, EveryProblemAtOnceAndInheritedOnesOnce) {
  Result<FleetConfig> c = Parse(Lines({
      "concurrency = 999",         // 1
      "[policy]",                  // 2
      R"(rotate_after = "soon")",  // 3: inherited by both selections, reported once
      "[[selection]]",             // 4
      R"(user_regex = "(")",       // 5
      "[[selection]]",             // 6
      R"(accounts = ["nope"])",    // 7
      "all_users = true",          // 8
  }));
  ASSERT_FALSE(c.ok());
  std::vector<std::string> lines = Split(c.status().message(), '\n');
  ASSERT_EQ(lines.size(), 4u) << c.status().message();
  EXPECT_EQ(lines[0].rfind("/etc/keyrotor/keyrotor.toml:1: concurrency:", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("/etc/keyrotor/keyrotor.toml:3: policy.rotate_after:", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("/etc/keyrotor/keyrotor.toml:5: selection[0].user_regex:", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("/etc/keyrotor/keyrotor.toml:7: selection[1].accounts:", 0), 0u) << lines[3];
}

TEST(FleetConfigErrorTest, ValidateSpecsPointsAtTheLineOfTheSpec) {
  Result<FleetConfig> c = Parse(Lines({
      "[policy]",                              // 1
      R"(to = ["secretsmanager:ok/{user}",)",  // 2
      R"(  "credentials-file:/tmp/creds"])",   // 3: no #PROFILE
      "[[selection]]",                         // 4
      "all_users = true",                      // 5
      "[[selection]]",                         // 6
      R"(users = ["a"])",                      // 7
      R"(notify = ["carrier-pigeon:home"])",   // 8
  }));
  ASSERT_TRUE(c.ok()) << c.status().message();
  testing::SandboxWorld world;
  Status s = ValidateSpecs(*c, world.Clients());
  ASSERT_FALSE(s.ok());
  std::vector<std::string> lines = Split(s.message(), '\n');
  ASSERT_EQ(lines.size(), 2u) << s.message();  // the [policy] spec once, though two selections inherit it
  EXPECT_EQ(lines[0].rfind("/etc/keyrotor/keyrotor.toml:3: policy.to: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("PROFILE"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("/etc/keyrotor/keyrotor.toml:8: selection[1].notify: ", 0), 0u) << lines[1];
}

TEST(FleetConfigErrorTest, CheckFleetConfigReportsFileAndSpecProblemsTogether) {
  std::string dir = testing::MakeTempDir("keyrotor-config");
  std::string path = dir + "/k.toml";
  ASSERT_TRUE(
      AtomicWriteFile(path, Lines({"concurrency = 0", "[[selection]]", "all_users = true", R"(to = ["nowhere"])"}))
          .ok());
  testing::SandboxWorld world;
  Result<FleetConfig> c = CheckFleetConfig(path, kEnv, world.Clients());
  ASSERT_FALSE(c.ok());
  std::vector<std::string> lines = Split(c.status().message(), '\n');
  ASSERT_EQ(lines.size(), 2u) << c.status().message();
  EXPECT_EQ(lines[0].rfind(path + ":1: concurrency:", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind(path + ":4: selection[0].to:", 0), 0u) << lines[1];
  std::filesystem::remove_all(dir);
}

TEST(FleetConfigErrorTest, MissingFile) {
  Result<FleetConfig> c = LoadFleetConfig("/nonexistent/keyrotor.toml", kEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/keyrotor.toml"), std::string::npos);
}

}  // namespace
}  // namespace keyrotor::fleet
