// ProgressDisplay: the driver's live view of a job on stdout: stage, tasks done and running,
// executors, bytes shuffled, map executions and the failures seen. On a terminal one line is
// redrawn in place; otherwise a line is printed every few seconds. Also the human rendering of
// byte counts. Not thread-safe: one caller.
#ifndef SHUFFLE_DRIVER_RUNNER_PROGRESS_H_
#define SHUFFLE_DRIVER_RUNNER_PROGRESS_H_

#include <cstdint>
#include <string>

#include "driver/scheduler/task_scheduler.h"

namespace shuffle::runner {

// "1.00 GiB", "512 KiB", "37 B".
std::string FormatBytes(uint64_t bytes);

// One line describing the job's state.
std::string ProgressLine(const scheduler::Progress& p, double seconds);

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool enabled);
  void Update(const scheduler::Progress& p, double seconds);
  void Finish(const scheduler::Progress& p, double seconds);

 private:
  bool enabled_;
  bool tty_;
  double last_print_ = -1e9;
};

}  // namespace shuffle::runner

#endif  // SHUFFLE_DRIVER_RUNNER_PROGRESS_H_
