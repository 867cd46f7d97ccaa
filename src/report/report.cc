#include "report/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace keyrotor::report {
namespace {

size_t Index(Check check) { return static_cast<size_t>(check); }

int64_t WholeDays(std::chrono::system_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::hours>(d).count() / 24;
}

// One user's keys and their last use: ListAccessKeys, then
// GetAccessKeyLastUsed per key (IAM has no batch call for it).
Result<UserReport> FetchUser(aws::IamClient& iam, const std::string& user, bool listed) {
  UserReport out;
  out.user = user;
  Result<std::vector<aws::AccessKeyMetadata>> keys = iam.ListAccessKeys(user);
  if (!keys.ok()) {
    if (listed && keys.status().IsAws("NoSuchEntity")) return Status::NotFound("user '" + user + "' does not exist");
    return keys.status().WithContext("user " + user);
  }
  for (const aws::AccessKeyMetadata& key : *keys) {
    KeyReport k;
    k.access_key_id = key.access_key_id;
    k.status = key.status;
    k.created = key.create_date;
    Result<aws::AccessKeyLastUsed> used = iam.GetAccessKeyLastUsed(key.access_key_id);
    if (!used.ok()) return used.status().WithContext("user " + user + ", key " + key.access_key_id);
    if (used->last_used_date) {
      k.last_used = used->last_used_date;
      k.last_used_service = used->service_name;
      k.last_used_region = used->region;
    }
    out.keys.push_back(std::move(k));
  }
  std::stable_sort(out.keys.begin(), out.keys.end(),
                   [](const KeyReport& a, const KeyReport& b) { return a.created < b.created; });
  return out;
}

}  // namespace

std::string_view CheckId(Check check) {
  switch (check) {
    case Check::kUnusedCredentials:
      return "1.12";
    case Check::kMultipleActiveKeys:
      return "1.13";
    case Check::kKeyNotRotated:
      return "1.14";
  }
  return "?";
}

std::string_view CheckTitle(Check check) {
  switch (check) {
    case Check::kUnusedCredentials:
      return "Credentials unused for 45 days or greater are disabled";
    case Check::kMultipleActiveKeys:
      return "Only one active access key per IAM user";
    case Check::kKeyNotRotated:
      return "Access keys are rotated every 90 days or less";
  }
  return "?";
}

size_t Summary::total_findings() const {
  size_t n = 0;
  for (size_t f : findings) n += f;
  return n;
}

void Evaluate(Report& report, const ReportOptions& options) {
  const TimePoint now = report.generated_at;
  report.findings.clear();
  report.summary = Summary{};
  Summary& s = report.summary;
  s.users = report.users.size();
  for (UserReport& user : report.users) {
    size_t active = std::count_if(user.keys.begin(), user.keys.end(), [](const KeyReport& k) { return k.active(); });
    for (KeyReport& key : user.keys) {
      key.age_days = WholeDays(now - key.created);
      key.findings.clear();
      ++s.keys;
      // Every check is about keys that can sign: an Inactive key is already
      // what 1.12 asks for, and 1.13/1.14 count only active keys.
      if (!key.active()) continue;
      ++s.active_keys;
      if (key.age_days > s.oldest_active_age_days) {
        s.oldest_active_age_days = key.age_days;
        s.oldest_active_user = user.user;
        s.oldest_active_key_id = key.access_key_id;
      }
      // CIS 1.12 counts from creation when the key was never used.
      TimePoint last = key.last_used.value_or(key.created);
      auto add = [&](Check check, std::string detail) {
        key.findings.push_back(check);
        report.findings.push_back(Finding{check, user.user, key.access_key_id, std::move(detail)});
        ++s.findings[Index(check)];
      };
      if (now - last >= options.max_unused) {
        add(Check::kUnusedCredentials,
            key.last_used ? fmt::format("active key unused for {} days", WholeDays(now - last))
                          : fmt::format("active key never used in the {} days since its creation", key.age_days));
      }
      if (active > 1) add(Check::kMultipleActiveKeys, fmt::format("user has {} active keys", active));
      if (now - key.created > options.max_key_age) {
        add(Check::kKeyNotRotated, fmt::format("active key is {} days old", key.age_days));
      }
    }
  }
}

Result<Report> BuildReport(aws::IamClient& iam, const std::string& account, Clock* clock,
                           const ReportOptions& options) {
  Report report;
  report.account = account;
  report.generated_at = clock->Now();

  std::vector<std::string> names = options.users;
  const bool listed = !names.empty();
  if (!listed) {
    KR_ASSIGN_OR_RETURN(std::vector<aws::IamUser> users, iam.ListUsers());
    for (const aws::IamUser& u : users) names.push_back(u.user_name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  // Each user's slot is written by exactly one worker; the first error stops
  // the others from starting new users and is the one reported.
  std::vector<UserReport> users(names.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status first_error;
  auto work = [&](aws::IamClient& client) {
    for (size_t i = next++; i < names.size() && !failed; i = next++) {
      Result<UserReport> user = FetchUser(client, names[i], listed);
      if (!user.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!failed.exchange(true)) first_error = user.status();
        return;
      }
      users[i] = std::move(user).value();
    }
  };

  size_t workers = options.clients ? std::clamp<size_t>(options.concurrency, 1, std::max<size_t>(names.size(), 1)) : 1;
  if (workers <= 1) {
    work(iam);
  } else {
    // Clients are built before any thread starts, so a factory error is
    // reported plainly instead of from inside a worker.
    std::vector<aws::IamClient> clients;
    clients.reserve(workers);
    for (size_t i = 0; i < workers; ++i) {
      KR_ASSIGN_OR_RETURN(aws::IamClient client, options.clients->Iam());
      clients.push_back(std::move(client));
    }
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (aws::IamClient& client : clients) threads.emplace_back([&work, &client] { work(client); });
    for (std::thread& t : threads) t.join();
  }
  if (failed) return first_error;

  report.users = std::move(users);
  Evaluate(report, options);
  return report;
}

}  // namespace keyrotor::report
