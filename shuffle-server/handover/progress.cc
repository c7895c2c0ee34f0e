#include "shuffle-server/handover/progress.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shuffle::handover {

void HandOverProgress::Start() {
  outputs_moved_ = 0;
  bytes_moved_ = 0;
  outputs_failed_ = 0;
  bytes_failed_ = 0;
  outputs_ = 0;
  bytes_ = 0;
  finished_unix_ms_ = 0;
  started_unix_ms_ = absl::ToUnixMillis(absl::Now());
  handovers_.fetch_add(1);
  running_ = true;
}

void HandOverProgress::SetTotals(uint64_t outputs, uint64_t bytes) {
  outputs_ = outputs;
  bytes_ = bytes;
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

void HandOverProgress::Finish() {
  finished_unix_ms_ = absl::ToUnixMillis(absl::Now());
  running_ = false;
}

HandOverProgress::Snapshot HandOverProgress::snapshot() const {
  Snapshot s;
  s.running = running_;
  s.started_unix_ms = started_unix_ms_;
  s.finished_unix_ms = finished_unix_ms_;
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
