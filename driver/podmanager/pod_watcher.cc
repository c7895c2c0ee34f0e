#include "driver/podmanager/pod_watcher.h"

#include <algorithm>
#include <set>

#include "absl/time/time.h"
#include "shuffle/core/logging.h"

namespace shuffle::podmanager {

using core::Kv;
using nlohmann::json;

namespace {

constexpr int kWatchFailuresBeforeRelist = 3;

std::string NameOf(const json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return "";
  }
  auto name = metadata->find("name");
  return name != metadata->end() && name->is_string() ? name->get<std::string>() : "";
}

std::string VersionOf(const json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return "";
  }
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : "";
}

}  // namespace

PodWatcher::PodWatcher(PodSource* source, PodWatcherOptions options, OnChange on_change)
    : source_(source), options_(std::move(options)), on_change_(std::move(on_change)) {}

bool PodWatcher::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void PodWatcher::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

PodWatcher::Stats PodWatcher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::string PodWatcher::resource_version() const {
  absl::MutexLock lock(&mu_);
  return resource_version_;
}

void PodWatcher::Sleep(std::chrono::milliseconds d) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::FromChrono(d));
}

void PodWatcher::Apply(const std::string& type, const json& object) {
  const std::string name = NameOf(object);
  const PodState state = InterpretPod(type, object);
  {
    absl::MutexLock lock(&mu_);
    if (const std::string rv = VersionOf(object); !rv.empty()) {
      resource_version_ = rv;
    }
    if (name.empty()) {
      return;
    }
    auto it = known_.find(name);
    if (it != known_.end() && it->second) {
      return;  // already reported as ended: a pod ends once
    }
    known_[name] = state.ended;
  }
  on_change_(state);
}

absl::Status PodWatcher::ListOnce() {
  absl::StatusOr<PodSource::List> list = source_->ListPods(options_.selector);
  if (!list.ok()) {
    return list.status();
  }
  std::set<std::string> present;
  for (const json& pod : list->items) {
    present.insert(NameOf(pod));
    Apply("", pod);
  }
  // Pods we knew that the list no longer has were deleted while we were not watching.
  std::vector<std::string> vanished;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.lists;
    resource_version_ = list->resource_version;
    for (const auto& [name, ended] : known_) {
      if (!ended && present.count(name) == 0) {
        vanished.push_back(name);
      }
    }
  }
  for (const std::string& name : vanished) {
    // The labels are gone with the pod; executor pods are named after their executor id.
    Apply("DELETED", json{{"metadata", {{"name", name}, {"labels", {{"executor-id", name}}}}}});
  }
  return absl::OkStatus();
}

void PodWatcher::Run() {
  auto backoff = options_.initial_backoff;
  bool need_list = true;
  int failed_watches = 0;
  auto listed_at = std::chrono::steady_clock::now();
  while (!Stopping()) {
    if (need_list || std::chrono::steady_clock::now() - listed_at >= options_.resync) {
      absl::Status st = ListOnce();
      if (!st.ok()) {
        {
          absl::MutexLock lock(&mu_);
          ++stats_.errors;
        }
        SHUFFLE_LOG(WARNING) << "listing executor pods failed; retrying"
                             << Kv("error", st.ToString()) << Kv("backoff_ms", backoff.count());
        Sleep(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      need_list = false;
      listed_at = std::chrono::steady_clock::now();
    }
    {
      absl::MutexLock lock(&mu_);
      ++stats_.watches;
    }
    const auto resync_at = listed_at + options_.resync;
    absl::Status st = source_->WatchPods(
        options_.selector, resource_version(), [&](const std::string& type, const json& object) {
          if (type == "BOOKMARK") {
            absl::MutexLock lock(&mu_);
            ++stats_.bookmarks;
            if (const std::string rv = VersionOf(object); !rv.empty()) {
              resource_version_ = rv;
            }
          } else {
            Apply(type, object);
          }
          return !Stopping() && std::chrono::steady_clock::now() < resync_at;
        });
    if (absl::IsOutOfRange(st)) {
      absl::MutexLock lock(&mu_);
      ++stats_.relists_after_gone;
      need_list = true;  // 410 Gone: our resourceVersion is too old
      SHUFFLE_LOG(INFO) << "watch resourceVersion expired; relisting"
                        << Kv("resource_version", resource_version_);
      continue;
    }
    if (!st.ok()) {
      {
        absl::MutexLock lock(&mu_);
        ++stats_.errors;
      }
      // A watch that keeps failing from the same version (v1.20 answers 500, not 410, for a
      // version at etcd's compaction revision) is given up for a fresh list.
      if (++failed_watches >= kWatchFailuresBeforeRelist) {
        need_list = true;
        failed_watches = 0;
      }
      SHUFFLE_LOG(WARNING) << "watching executor pods failed; resuming"
                           << Kv("error", st.ToString()) << Kv("backoff_ms", backoff.count());
      Sleep(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = options_.initial_backoff;  // a watch the server ended normally: resume at once
    failed_watches = 0;
  }
}

}  // namespace shuffle::podmanager
