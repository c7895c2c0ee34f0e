// DriverService: the driver's gRPC service for executors (proto/shuffle/proto/driver.proto),
// a thin layer over the scheduler::TaskScheduler. It checks the job secret at registration, hands
// out the job, the application token and the shuffle id, and records heartbeats so the driver can
// declare silent executors lost.
//
// Thread-safe (gRPC calls it from its thread pool).
#ifndef SHUFFLE_DRIVER_RUNNER_DRIVER_SERVICE_H_
#define SHUFFLE_DRIVER_RUNNER_DRIVER_SERVICE_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "driver/scheduler/task_scheduler.h"
#include "shuffle/proto/driver.grpc.pb.h"

namespace shuffle::runner {

struct ApplicationInfo {
  std::string app_id;
  std::string app_token;  // the shuffle servers' token for the application
  core::ShuffleId shuffle{0};
  proto::JobSpec job;
  std::string secret;  // what executors must present
};

class DriverService final : public proto::Driver::Service {
 public:
  // REQUIRES: `scheduler` outlives the service.
  DriverService(ApplicationInfo app, scheduler::TaskScheduler* scheduler)
      : app_(std::move(app)), scheduler_(scheduler) {}

  grpc::Status RegisterExecutor(grpc::ServerContext* context,
                                const proto::RegisterExecutorRequest* request,
                                proto::RegisterExecutorResponse* response) override;
  grpc::Status PollTask(grpc::ServerContext* context, const proto::PollTaskRequest* request,
                        proto::PollTaskResponse* response) override;
  grpc::Status ReportTask(grpc::ServerContext* context, const proto::ReportTaskRequest* request,
                          proto::ReportTaskResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const proto::HeartbeatRequest* request,
                         proto::HeartbeatResponse* response) override;

  // Executors whose last heartbeat (or registration) is older than `timeout`.
  std::vector<std::string> Silent(std::chrono::milliseconds timeout) const;
  void Forget(const std::string& executor_id);

 private:
  const ApplicationInfo app_;
  scheduler::TaskScheduler* const scheduler_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shuffle::runner

#endif  // SHUFFLE_DRIVER_RUNNER_DRIVER_SERVICE_H_
