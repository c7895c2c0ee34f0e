// Executor: the runtime of one executor process. It registers with the driver (gRPC), learns
// the job, the application's shuffle-server token and the shuffle, then runs `slots` task loops
// (poll a task, run it, report it) and a heartbeat loop until the driver says shutdown, declares
// the executor lost, or stays unreachable past `driver_timeout`.
//
// Thread-safe: Stop() may be called from any thread while Run() runs.
#ifndef SHUFFLE_DRIVER_EXECUTOR_EXECUTOR_H_
#define SHUFFLE_DRIVER_EXECUTOR_EXECUTOR_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "driver/executor/task_runner.h"
#include "driver/jobs/job.h"
#include "shuffle/proto/driver.grpc.pb.h"

namespace shuffle::executor {

// Client options of executors: fewer retries than the library's default (about 22 s), and
// shorter timeouts, so a reduce stuck on a lost or unreachable server gives its slot back sooner:
// a partitioned server answers neither a connect (2 s each) nor a read in flight (15 s).
inline client::ClientOptions ShortRetries() {
  client::ClientOptions o;
  o.connect_timeout_ms = 2000;
  o.io_timeout_ms = 15000;
  o.max_retries = 6;
  o.initial_backoff_ms = 100;
  o.max_backoff_ms = 2000;
  return o;
}

struct ExecutorOptions {
  std::string driver_address;
  std::string executor_id;
  std::string node;
  uint32_t slots = 1;
  std::string secret;  // the job secret ($SHUFFLE_JOB_SECRET)
  // `server` empty: discovered from the environment. Retries across a server restart span about
  // 5 s (see ShortRetries); past that a reduce reports FETCH_FAILED and the driver decides
  // whether the server is lost.
  client::ClientOptions client = ShortRetries();
  std::chrono::seconds driver_timeout{30};
  std::chrono::milliseconds heartbeat_interval{1000};
};

class Executor {
 public:
  // Registers with the driver, retrying until `driver_timeout`. The error says which driver
  // did not answer or why it refused.
  static absl::StatusOr<std::unique_ptr<Executor>> Register(ExecutorOptions options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs tasks until shutdown. OK when the driver ended it; UNAVAILABLE when the driver was lost;
  // ABORTED when the driver declared this executor lost.
  absl::Status Run();
  void Stop();

 private:
  Executor(ExecutorOptions options, std::unique_ptr<proto::Driver::Stub> stub)
      : options_(std::move(options)), stub_(std::move(stub)) {}
  void TaskLoop();
  void HeartbeatLoop();
  void Finish(const absl::Status& status);
  bool Report(const proto::ReportTaskRequest& report);
  bool Stopping();

  const ExecutorOptions options_;
  std::unique_ptr<proto::Driver::Stub> stub_;
  std::unique_ptr<jobs::Job> job_;
  TaskContext context_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> running_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_contact_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::executor

#endif  // SHUFFLE_DRIVER_EXECUTOR_EXECUTOR_H_
