// HandOverProgress: how far the server's hand-over (Decommission, or SIGTERM on a cordoned node)
// has come, for the /metrics page: outputs and bytes to move, moved, failed, and what is left.
// Counts of the current (or last) hand-over, plus totals over the process's life.
//
// Thread-safe: the hand-over updates it while the metrics endpoint reads snapshots.
#ifndef SHUFFLE_SERVER_HANDOVER_PROGRESS_H_
#define SHUFFLE_SERVER_HANDOVER_PROGRESS_H_

#include <atomic>
#include <cstdint>

namespace shuffle::handover {

class HandOverProgress {
 public:
  struct Snapshot {
    bool running = false;
    uint64_t handovers = 0;        // started over the process's life
    int64_t started_unix_ms = 0;   // the current or last one's start; 0: none yet
    int64_t finished_unix_ms = 0;  // its end; 0: running (or none)
    // The current or last hand-over.
    uint64_t outputs = 0;  // committed map outputs to move
    uint64_t bytes = 0;    // their stored bytes
    uint64_t outputs_moved = 0;
    uint64_t bytes_moved = 0;
    uint64_t outputs_failed = 0;  // not moved: every peer failed, or the deadline passed
    uint64_t bytes_failed = 0;
    // Over the process's life.
    uint64_t outputs_moved_total = 0;
    uint64_t bytes_moved_total = 0;
    uint64_t outputs_failed_total = 0;

    uint64_t outputs_left() const { return outputs - outputs_moved - outputs_failed; }
    uint64_t bytes_left() const {
      return bytes > bytes_moved + bytes_failed ? bytes - bytes_moved - bytes_failed : 0;
    }
  };

  HandOverProgress() = default;
  HandOverProgress(const HandOverProgress&) = delete;
  HandOverProgress& operator=(const HandOverProgress&) = delete;

  // A hand-over starts (its outputs not listed yet), then lists `outputs` holding `bytes`.
  void Start();
  void SetTotals(uint64_t outputs, uint64_t bytes);
  // One output of `bytes` (its stored size) moved, or failed.
  void Moved(uint64_t bytes);
  void Failed(uint64_t bytes);
  void Finish();

  Snapshot snapshot() const;

 private:
  std::atomic<bool> running_{false};
  std::atomic<int64_t> started_unix_ms_{0};
  std::atomic<int64_t> finished_unix_ms_{0};
  std::atomic<uint64_t> handovers_{0};
  std::atomic<uint64_t> outputs_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> outputs_moved_{0};
  std::atomic<uint64_t> bytes_moved_{0};
  std::atomic<uint64_t> outputs_failed_{0};
  std::atomic<uint64_t> bytes_failed_{0};
  std::atomic<uint64_t> outputs_moved_total_{0};
  std::atomic<uint64_t> bytes_moved_total_{0};
  std::atomic<uint64_t> outputs_failed_total_{0};
};

}  // namespace shuffle::handover

#endif  // SHUFFLE_SERVER_HANDOVER_PROGRESS_H_
