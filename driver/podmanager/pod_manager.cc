#include "driver/podmanager/pod_manager.h"

#include "absl/strings/str_cat.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::podmanager {

using core::Kv;

PodManager::PodManager(Backend* backend, PodManagerOptions options, Listener* listener)
    : backend_(backend),
      options_(std::move(options)),
      listener_(listener),
      target_(options_.executors) {
  backend_->SetEventCallback([this](const BackendEvent& e) { OnEvent(e); });
}

PodManager::~PodManager() {
  Stop();
  backend_->SetEventCallback(nullptr);
}

absl::Status PodManager::LaunchOne() {
  const std::string id = absl::StrCat("exec-", next_id_++);
  ExecutorLaunch launch{.executor_id = id,
                        .driver_address = options_.driver_address,
                        .secret = options_.secret,
                        .slots = options_.slots};
  SHUFFLE_RETURN_IF_ERROR(backend_->LaunchExecutor(launch));
  live_[id] = std::chrono::steady_clock::now();
  ++stats_.launched;
  return absl::OkStatus();
}

absl::Status PodManager::Start() {
  absl::MutexLock lock(&mu_);
  while (live_.size() < target_) {
    SHUFFLE_RETURN_IF_ERROR(LaunchOne());
  }
  return absl::OkStatus();
}

absl::Status PodManager::ScaleTo(uint32_t target,
                                 const std::function<bool(const std::string&)>& is_idle) {
  absl::MutexLock lock(&mu_);
  target_ = target;
  while (!stopped_ && live_.size() - releasing_.size() < target_) {
    SHUFFLE_RETURN_IF_ERROR(LaunchOne());
  }
  // Executors asked to exit stay in live_ until their exit event: they are not counted again.
  size_t staying = live_.size() - releasing_.size();
  for (auto it = live_.begin(); it != live_.end() && staying > target_; ++it) {
    if (releasing_.count(it->first) == 0 && is_idle(it->first) &&
        backend_->ReleaseExecutor(it->first).ok()) {
      releasing_.insert(it->first);
      --staying;
      SHUFFLE_LOG(INFO) << "releasing idle executor" << Kv("executor", it->first)
                        << Kv("target", target_);
    }
  }
  return absl::OkStatus();
}

absl::Status PodManager::Evict(const std::string& executor_id) {
  return backend_->EvictExecutor(executor_id);
}

void PodManager::Stop() {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (const auto& [id, started] : live_) {
      ids.push_back(id);
    }
  }
  for (const std::string& id : ids) {
    backend_->ReleaseExecutor(id).IgnoreError();
  }
}

void PodManager::OnEvent(const BackendEvent& event) {
  if (event.kind == BackendEvent::Kind::kServerLost) {
    listener_->OnServerLost(event.node);
    return;
  }
  if (event.kind == BackendEvent::Kind::kOutputsMoved) {
    listener_->OnOutputsMoved(event.node, event.moved);
    return;
  }
  absl::Status fatal;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(event.executor_id);
    if (it == live_.end()) {
      return;
    }
    const auto lived = std::chrono::steady_clock::now() - it->second;
    live_.erase(it);
    const bool scaled_down = releasing_.erase(event.executor_id) > 0;
    if (event.released) {
      stats_.released += scaled_down ? 1 : 0;
    } else if (event.evicted) {
      ++stats_.evicted;
      consecutive_failures_ = 0;
    } else if (event.clean) {
      // Told to stop by the driver (its job over while the driver's loop was busy, e.g. in a
      // long node drain): not a crash, and not replaced (the driver wants it gone).
      consecutive_failures_ = 0;
    } else {
      ++stats_.failed;
      consecutive_failures_ = lived < options_.min_lifetime ? consecutive_failures_ + 1 : 0;
    }
    SHUFFLE_LOG(INFO) << "executor ended" << Kv("executor", event.executor_id)
                      << Kv("node", event.node) << Kv("detail", event.detail);
    if (consecutive_failures_ >= options_.max_consecutive_failures && !fatal_) {
      fatal_ = true;
      fatal = absl::UnavailableError(absl::StrCat(
          consecutive_failures_, " executors in a row ended within ", options_.min_lifetime.count(),
          " ms of their launch; the last: ", event.executor_id, " on ", event.node, ", ",
          event.detail, " (see its log)"));
    }
    while (!stopped_ && !fatal_ && !event.clean && live_.size() - releasing_.size() < target_) {
      absl::Status st = LaunchOne();
      if (!st.ok()) {
        fatal_ = true;
        fatal = absl::UnavailableError(
            absl::StrCat("cannot replace executor ", event.executor_id, ": ", st.message()));
        break;
      }
      ++stats_.replaced;
    }
  }
  listener_->OnExecutorEnded(event);
  if (!fatal.ok()) {
    listener_->OnFatal(fatal);
  }
}

std::vector<std::string> PodManager::Live() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, started] : live_) {
    if (releasing_.count(id) == 0) {
      out.push_back(id);
    }
  }
  return out;
}

uint32_t PodManager::target() const {
  absl::MutexLock lock(&mu_);
  return target_;
}

PodManager::Stats PodManager::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace shuffle::podmanager
