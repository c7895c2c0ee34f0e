// RunDir: the run's temporary directory (under --dir), removed with everything in it when the
// object dies, and also when the harness is interrupted (SIGINT, SIGTERM): a handler wakes a
// cleanup thread that removes it and exits, after which every server and driver the run started
// dies through PR_SET_PDEATHSIG. One per process; not thread-safe.
#ifndef SHUFFLE_BENCH_HARNESS_RUN_DIR_H_
#define SHUFFLE_BENCH_HARNESS_RUN_DIR_H_

#include <string>

#include "absl/status/statusor.h"
#include "tests/support/temp_dir.h"

namespace shuffle::bench {

class RunDir {
 public:
  // Creates PARENT/shuffle-bench-XXXXXX and arms the interrupt cleanup.
  static absl::StatusOr<RunDir> Create(const std::string& parent);
  RunDir(RunDir&& other) noexcept = default;
  RunDir& operator=(RunDir&&) = delete;
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& path() const { return dir_.path(); }

 private:
  explicit RunDir(testsupport::TempDir dir) : dir_(std::move(dir)) {}
  testsupport::TempDir dir_;
};

}  // namespace shuffle::bench

#endif  // SHUFFLE_BENCH_HARNESS_RUN_DIR_H_
