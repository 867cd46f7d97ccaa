#include "sandbox/state.h"

#include <algorithm>

#include "base/crypto.h"
#include "base/strings.h"

namespace keyrotor::sandbox {

bool AccessKeyRecord::SignsAt(TimePoint now, Duration consistency) const {
  TimePoint visible = now - consistency;
  bool usable = false;
  for (const auto& [when, signs] : signing_history) {
    if (when > visible) break;
    usable = signs;
  }
  return usable;
}

SecretVersion* SecretRecord::FindVersion(std::string_view id) {
  for (auto& v : versions) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

SecretVersion* SecretRecord::VersionWithStage(std::string_view stage) {
  for (auto& v : versions) {
    if (std::find(v.stages.begin(), v.stages.end(), stage) != v.stages.end()) return &v;
  }
  return nullptr;
}

State::State(const SandboxOptions& opts, std::string account, World* w)
    : options(opts),
      account_id(std::move(account)),
      world(w),
      consistency(std::chrono::milliseconds(std::max(0, opts.consistency_ms))),
      kms_key(RandomBytes(32)) {}

UserRecord* State::FindUser(std::string_view name) {
  auto it = users.find(ToLower(name));
  return it == users.end() ? nullptr : &it->second;
}

const UserRecord* State::FindUser(std::string_view name) const {
  auto it = users.find(ToLower(name));
  return it == users.end() ? nullptr : &it->second;
}

GroupRecord* State::FindGroup(std::string_view name) {
  auto it = groups.find(ToLower(name));
  return it == groups.end() ? nullptr : &it->second;
}

AccessKeyRecord* State::FindLiveKey(std::string_view id) {
  auto it = keys.find(std::string(id));
  return it == keys.end() || it->second.deleted ? nullptr : &it->second;
}

std::string State::UserArn(const std::string& path, const std::string& name) const {
  return "arn:aws:iam::" + account_id + ":user" + path + name;
}

UserRecord& State::AddUser(const std::string& name, const std::string& path, TimePoint now) {
  UserRecord user;
  user.name = name;
  user.id = NewUniqueId("AIDA", 17);
  user.path = path;
  user.arn = UserArn(path, name);
  user.created = now;
  return users.insert_or_assign(ToLower(name), std::move(user)).first->second;
}

AccessKeyRecord& State::AddKey(UserRecord& user, TimePoint created) {
  std::string id;
  do {
    id = NewUniqueId("AKIA", 16);
  } while (keys.count(id));
  AccessKeyRecord key;
  key.id = id;
  key.user_key = ToLower(user.name);
  key.user_id = user.id;
  key.secret = NewSecretAccessKey();
  key.created = created;
  key.signing_history.emplace_back(created, true);
  user.key_ids.push_back(id);
  return keys.emplace(id, std::move(key)).first->second;
}

void State::SetKeyActive(AccessKeyRecord& key, bool active, TimePoint now) {
  if (key.active == active) return;
  key.active = active;
  key.signing_history.emplace_back(now, active);
}

void State::DeleteKey(AccessKeyRecord& key, TimePoint now) {
  if (UserRecord* user = FindUser(key.user_key)) {
    std::erase(user->key_ids, key.id);
  }
  if (key.active) key.signing_history.emplace_back(now, false);
  key.active = false;
  key.deleted = true;
  // Without a consistency window nothing can still sign with it.
  if (consistency.count() == 0) {
    std::string id = key.id;  // not a reference into the node being erased
    keys.erase(id);
  } else {
    deleted_keys.emplace_back(now, key.id);
  }
}

void State::PurgeDeletedKeys(TimePoint now) {
  while (!deleted_keys.empty() && deleted_keys.front().first + consistency < now) {
    keys.erase(deleted_keys.front().second);
    deleted_keys.pop_front();
  }
}

std::string State::RoleId(const std::string& role_name) {
  auto [it, inserted] = role_ids.emplace(role_name, "");
  if (inserted) it->second = NewUniqueId("AROA", 17);
  return it->second;
}

State* World::Find(std::string_view account_id) {
  auto it = accounts.find(std::string(account_id));
  return it == accounts.end() ? nullptr : it->second.get();
}

std::string NewUniqueId(std::string_view prefix, size_t random_chars) {
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string bytes = RandomBytes(random_chars);
  std::string out(prefix);
  for (unsigned char b : bytes) out.push_back(kBase32[b & 31]);
  WipeString(bytes);
  return out;
}

Secret NewSecretAccessKey() {
  // 30 random bytes are exactly 40 base64 characters, without padding.
  std::string bytes = RandomBytes(30);
  Secret secret(Base64Encode(bytes));
  WipeString(bytes);
  return secret;
}

}  // namespace keyrotor::sandbox
