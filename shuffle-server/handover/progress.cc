#include "shuffle-server/handover/progress.h"

#include <algorithm>

namespace shuffle::handover {

void HandOverProgress::Start(uint64_t outputs, uint64_t bytes) {
  outputs_moved_ = 0;
  bytes_moved_ = 0;
  outputs_failed_ = 0;
  bytes_failed_ = 0;
  outputs_ = outputs;
  bytes_ = bytes;
  handovers_.fetch_add(1);
  running_ = true;
}

void HandOverProgress::Moved(uint64_t bytes) {
  bytes_moved_.fetch_add(bytes);
  bytes_moved_total_.fetch_add(bytes);
  outputs_moved_total_.fetch_add(1);
  outputs_moved_.fetch_add(1);
}

void HandOverProgress::Failed(uint64_t bytes) {
  bytes_failed_.fetch_add(bytes);
  outputs_failed_total_.fetch_add(1);
  outputs_failed_.fetch_add(1);
}

void HandOverProgress::Finish() { running_ = false; }

HandOverProgress::Snapshot HandOverProgress::snapshot() const {
  Snapshot s;
  s.running = running_;
  s.handovers = handovers_;
  s.outputs = outputs_;
  s.bytes = bytes_;
  s.outputs_moved = outputs_moved_;
  s.bytes_moved = bytes_moved_;
  s.outputs_failed = outputs_failed_;
  s.bytes_failed = bytes_failed_;
  s.outputs_moved_total = outputs_moved_total_;
  s.bytes_moved_total = bytes_moved_total_;
  s.outputs_failed_total = outputs_failed_total_;
  // Read without a lock: keep "left" from going negative while counts move.
  s.outputs_moved = std::min(s.outputs_moved, s.outputs);
  s.outputs_failed = std::min(s.outputs_failed, s.outputs - s.outputs_moved);
  return s;
}

}  // namespace shuffle::handover
