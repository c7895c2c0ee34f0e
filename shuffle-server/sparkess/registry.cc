#include "shuffle-server/sparkess/registry.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/sparkess/wire.h"
#include "shuffle-server/storage/index.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::sparkess {
namespace {

using core::Kv;

constexpr char kTable[] = "spark-exec";
constexpr int8_t kFormatVersion = 1;
constexpr int32_t kMaxSubDirs = 65536;

std::string Key(std::string_view app_id, std::string_view exec_id) {
  std::string key(app_id);
  key.push_back('\0');
  key.append(exec_id.data(), exec_id.size());
  return key;
}

class IndexStore final : public RegistryStore {
 public:
  explicit IndexStore(storage::Index* index) : index_(index) {}
  absl::Status Put(std::string_view key, std::string_view value) override {
    return index_->PutSideRecord(kTable, key, value, /*sync=*/true);
  }
  absl::Status Delete(std::string_view key) override {
    return index_->DeleteSideRecord(kTable, key, /*sync=*/true);
  }
  absl::Status ForEach(
      const std::function<absl::Status(std::string_view, std::string_view)>& fn) override {
    return index_->ForEachSideRecord(kTable, fn);
  }

 private:
  storage::Index* const index_;
};

class MemoryStore final : public RegistryStore {
 public:
  absl::Status Put(std::string_view key, std::string_view value) override {
    std::lock_guard<std::mutex> lock(mu_);
    records_[std::string(key)] = std::string(value);
    return absl::OkStatus();
  }
  absl::Status Delete(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    records_.erase(std::string(key));
    return absl::OkStatus();
  }
  absl::Status ForEach(
      const std::function<absl::Status(std::string_view, std::string_view)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, v] : records_) {
      SHUFFLE_RETURN_IF_ERROR(fn(k, v));
    }
    return absl::OkStatus();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> records_;
};

void EncodeInfo(WireWriter& w, const ExecutorShuffleInfo& info) {
  w.StringArray(info.local_dirs).Int(info.sub_dirs_per_local_dir).String(info.shuffle_manager);
}

absl::StatusOr<ExecutorShuffleInfo> DecodeInfo(WireReader& in) {
  ExecutorShuffleInfo info;
  SHUFFLE_ASSIGN_OR_RETURN(info.local_dirs, in.StringArray("local dirs"));
  SHUFFLE_ASSIGN_OR_RETURN(info.sub_dirs_per_local_dir, in.Int("sub dirs"));
  SHUFFLE_ASSIGN_OR_RETURN(info.shuffle_manager, in.String("shuffle manager"));
  return info;
}

}  // namespace

std::unique_ptr<RegistryStore> IndexRegistryStore(storage::Index* index) {
  return std::make_unique<IndexStore>(index);
}

std::unique_ptr<RegistryStore> MemoryRegistryStore() { return std::make_unique<MemoryStore>(); }

std::string EncodeRegistration(const Registration& r) {
  WireWriter w;
  w.Byte(kFormatVersion);
  EncodeInfo(w, r.info);
  EncodeInfo(w, r.resolved);
  w.Long(r.registered_unix_ms);
  return w.Take();
}

absl::StatusOr<Registration> DecodeRegistration(std::string_view v) {
  WireReader in(v);
  SHUFFLE_ASSIGN_OR_RETURN(int8_t version, in.Byte("format version"));
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("Spark executor registration of format version ",
                                            version, " (this server reads version ", kFormatVersion,
                                            ")"));
  }
  Registration r;
  SHUFFLE_ASSIGN_OR_RETURN(r.info, DecodeInfo(in));
  SHUFFLE_ASSIGN_OR_RETURN(r.resolved, DecodeInfo(in));
  SHUFFLE_ASSIGN_OR_RETURN(r.registered_unix_ms, in.Long("registration time"));
  return r;
}

absl::StatusOr<std::unique_ptr<ExecutorRegistry>> ExecutorRegistry::Open(std::string root,
                                                                         RegistryStore* store) {
  std::unique_ptr<ExecutorRegistry> registry(new ExecutorRegistry(std::move(root), store));
  const absl::Time now = absl::Now();
  size_t loaded = 0;
  SHUFFLE_RETURN_IF_ERROR(store->ForEach([&](std::string_view key, std::string_view value) {
    const size_t zero = key.find('\0');
    absl::StatusOr<Registration> r = DecodeRegistration(value);
    if (zero == std::string_view::npos || !r.ok()) {
      SHUFFLE_LOG(WARNING) << "skipping an unreadable Spark executor registration"
                           << Kv("error", r.ok() ? "bad key" : r.status().ToString());
      return absl::OkStatus();
    }
    App& app = registry->apps_[std::string(key.substr(0, zero))];
    app.executors[std::string(key.substr(zero + 1))] = *std::move(r);
    app.last_active = now;  // a restart gives every application a fresh TTL
    ++loaded;
    return absl::OkStatus();
  }));
  SHUFFLE_LOG(INFO) << "Spark executor registry loaded" << Kv("executors", loaded)
                    << Kv("applications", registry->apps_.size());
  return registry;
}

absl::StatusOr<ExecutorShuffleInfo> ExecutorRegistry::Resolve(
    const std::string& app_id, const std::string& exec_id, const ExecutorShuffleInfo& info) const {
  if (app_id.empty() || exec_id.empty() || absl::StrContains(app_id, std::string(1, '\0')) ||
      absl::StrContains(exec_id, std::string(1, '\0'))) {
    return absl::InvalidArgumentError("RegisterExecutor needs a non-empty appId and execId");
  }
  if (info.local_dirs.empty() || info.sub_dirs_per_local_dir <= 0 ||
      info.sub_dirs_per_local_dir > kMaxSubDirs) {
    return absl::InvalidArgumentError(
        absl::StrCat("RegisterExecutor of executor ", exec_id, " of ", app_id,
                     ": needs local dirs and 1 to ", kMaxSubDirs, " sub-directories per dir (got ",
                     info.local_dirs.size(), " dirs, ", info.sub_dirs_per_local_dir, ")"));
  }
  ExecutorShuffleInfo resolved = info;
  for (std::string& dir : resolved.local_dirs) {
    char real[PATH_MAX];
    if (dir.empty() || dir.front() != '/' || ::realpath(dir.c_str(), real) == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat(
          "local dir '", dir, "' of executor ", exec_id, " of ", app_id,
          " cannot be served: it must be an absolute path that exists on this node under ", root_,
          " (the shuffle server's --spark-local-dirs-root; set spark.local.dir there)"));
    }
    dir = real;
    if (!absl::StartsWith(dir, root_ + "/") && !(root_ == "/" && dir.size() > 1)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "local dir '", dir, "' of executor ", exec_id, " of ", app_id, " is outside ", root_,
          ", the only tree this shuffle server serves (--spark-local-dirs-root): set "
          "spark.local.dir to a directory under it, mounted at the same path in executor pods"));
    }
  }
  return resolved;
}

absl::Status ExecutorRegistry::Register(const std::string& app_id, const std::string& exec_id,
                                        ExecutorShuffleInfo info) {
  SHUFFLE_ASSIGN_OR_RETURN(ExecutorShuffleInfo resolved, Resolve(app_id, exec_id, info));
  Registration r{.info = std::move(info),
                 .resolved = std::move(resolved),
                 .registered_unix_ms = absl::ToUnixMillis(absl::Now())};
  SHUFFLE_RETURN_IF_ERROR(store_->Put(Key(app_id, exec_id), EncodeRegistration(r)));
  std::lock_guard<std::mutex> lock(mu_);
  App& app = apps_[app_id];
  app.executors[exec_id] = std::move(r);
  app.last_active = absl::Now();
  return absl::OkStatus();
}

std::optional<Registration> ExecutorRegistry::Find(const std::string& app_id,
                                                   const std::string& exec_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto app = apps_.find(app_id);
  if (app == apps_.end()) {
    return std::nullopt;
  }
  app->second.last_active = absl::Now();
  auto exec = app->second.executors.find(exec_id);
  if (exec == app->second.executors.end()) {
    return std::nullopt;
  }
  return exec->second;
}

void ExecutorRegistry::Unpersist(const std::string& app_id, const std::string& exec_id) {
  absl::Status deleted = store_->Delete(Key(app_id, exec_id));
  if (!deleted.ok()) {
    SHUFFLE_LOG(WARNING) << "cannot delete a Spark executor registration" << Kv("app", app_id)
                         << Kv("executor", exec_id) << Kv("error", deleted.ToString());
  }
}

std::vector<Registration> ExecutorRegistry::TakeApplication(const std::string& app_id) {
  App app;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = apps_.find(app_id);
    if (it == apps_.end()) {
      return {};
    }
    app = std::move(it->second);
    apps_.erase(it);
  }
  std::vector<Registration> out;
  for (auto& [exec_id, registration] : app.executors) {
    Unpersist(app_id, exec_id);
    out.push_back(std::move(registration));
  }
  return out;
}

bool ExecutorRegistry::RemoveExecutor(const std::string& app_id, const std::string& exec_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = apps_.find(app_id);
    if (it == apps_.end() || it->second.executors.erase(exec_id) == 0) {
      return false;
    }
    if (it->second.executors.empty()) {
      apps_.erase(it);
    }
  }
  Unpersist(app_id, exec_id);
  return true;
}

std::vector<std::pair<std::string, std::vector<Registration>>> ExecutorRegistry::RemoveIdle(
    absl::Duration ttl, absl::Time now) {
  std::vector<std::string> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [app_id, app] : apps_) {
      if (now - app.last_active >= ttl) {
        idle.push_back(app_id);
      }
    }
  }
  std::vector<std::pair<std::string, std::vector<Registration>>> out;
  out.reserve(idle.size());
  for (const std::string& app_id : idle) {
    out.emplace_back(app_id, TakeApplication(app_id));
  }
  return out;
}

size_t ExecutorRegistry::executors() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [unused, app] : apps_) {
    n += app.executors.size();
  }
  return n;
}

size_t ExecutorRegistry::applications() const {
  std::lock_guard<std::mutex> lock(mu_);
  return apps_.size();
}

}  // namespace shuffle::sparkess
