#include "driver/runner/move_follower.h"

#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "shuffle/core/logging.h"

namespace shuffle::runner {

using core::Kv;

MoveFollower::MoveFollower(podmanager::Backend* backend, const ShuffleTier* tier, std::string token,
                           scheduler::TaskScheduler* scheduler,
                           std::function<bool(const std::string&)> is_lost, Options options)
    : backend_(backend),
      tier_(tier),
      token_(std::move(token)),
      scheduler_(scheduler),
      is_lost_(std::move(is_lost)),
      options_(options) {}

MoveFollower::~MoveFollower() { Stop(); }

void MoveFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void MoveFollower::Stop() {
  if (!stop_.HasBeenNotified()) {
    stop_.Notify();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void MoveFollower::Run() {
  while (!stop_.WaitForNotificationWithTimeout(absl::FromChrono(options_.interval))) {
    PollOnce();
  }
}

void MoveFollower::PollOnce() {
  for (const podmanager::NodeInfo& node : backend_->Nodes()) {
    if (!node.server_up || is_lost_(node.name) || stop_.HasBeenNotified()) {
      continue;
    }
    absl::StatusOr<client::ControlClient::MovedOutputs> moves =
        tier_->MovedOutputs(node.control_address, token_, options_.call_timeout);
    if (!moves.ok()) {
      SHUFFLE_LOG(DEBUG) << "cannot ask a server for moved outputs" << Kv("node", node.name)
                         << Kv("error", moves.status().ToString());
      continue;
    }
    size_t& applied = applied_[node.name];
    if (moves->moved.size() <= applied) {
      continue;
    }
    applied = moves->moved.size();
    const uint32_t moved = scheduler_->MoveOutputs(node.name, moves->moved);
    SHUFFLE_LOG(INFO) << "a server handed its map outputs over; readers go to their new places"
                      << Kv("node", node.name) << Kv("outputs", moves->moved.size())
                      << Kv("re_pointed", moved) << Kv("hand_over_done", moves->done);
  }
}

}  // namespace shuffle::runner
