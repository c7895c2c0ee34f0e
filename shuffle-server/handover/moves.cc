#include "shuffle-server/handover/moves.h"

#include <tuple>

#include "absl/container/flat_hash_map.h"

namespace shuffle::handover {

void MoveLedger::Start() {
  absl::MutexLock lock(&mu_);
  state_ = State::kRunning;
}

void MoveLedger::Record(const HandOverReport& report) {
  absl::MutexLock lock(&mu_);
  state_ = State::kDone;
  moved_.insert(moved_.end(), report.moved.begin(), report.moved.end());
  unmoved_.insert(unmoved_.end(), report.unmoved.begin(), report.unmoved.end());
}

void MoveLedger::Abort() {
  absl::MutexLock lock(&mu_);
  state_ = State::kDone;
}

MoveLedger::AppMoves MoveLedger::ForApp(const std::string& app_id) const {
  absl::MutexLock lock(&mu_);
  AppMoves moves;
  moves.state = state_;
  // A map moved twice (a second hand-over) is where it went last.
  absl::flat_hash_map<std::tuple<std::string, uint32_t, uint32_t>, size_t> index;
  for (const MovedOutput& m : moved_) {
    if (!app_id.empty() && m.app_id != app_id) {
      continue;
    }
    auto [it, inserted] =
        index.try_emplace(std::make_tuple(m.app_id, m.status.shuffle.value(), m.status.map.value()),
                          moves.moved.size());
    if (inserted) {
      moves.moved.push_back(m);
    } else {
      moves.moved[it->second] = m;
    }
  }
  for (const UnmovedOutput& u : unmoved_) {
    if (app_id.empty() || u.app_id == app_id) {
      moves.unmoved.push_back(u);
    }
  }
  return moves;
}

}  // namespace shuffle::handover
