#include "shuffle-server/handover/moves.h"

namespace shuffle::handover {

void MoveLedger::Start() {
  absl::MutexLock lock(&mu_);
  state_ = State::kRunning;
}

void MoveLedger::Record(const HandOverReport& report) {
  absl::MutexLock lock(&mu_);
  state_ = State::kDone;
  // A later hand-over's places win: a map moved twice is where it went last.
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
  for (const MovedOutput& m : moved_) {
    if (app_id.empty() || m.app_id == app_id) {
      moves.moved.push_back(m);
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
