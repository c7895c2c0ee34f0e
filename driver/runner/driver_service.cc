#include "driver/runner/driver_service.h"

#include <algorithm>

#include "shuffle/core/logging.h"

namespace shuffle::runner {

using core::Kv;

namespace {

// Compares secrets in time independent of where they differ.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

constexpr std::chrono::milliseconds kMaxPollWait{5000};

}  // namespace

grpc::Status DriverService::RegisterExecutor(grpc::ServerContext* /*context*/,
                                             const proto::RegisterExecutorRequest* request,
                                             proto::RegisterExecutorResponse* response) {
  if (!SameSecret(request->secret(), app_.secret)) {
    SHUFFLE_LOG(WARNING) << "executor registration refused: wrong job secret"
                         << Kv("executor", request->executor_id());
    return {grpc::StatusCode::PERMISSION_DENIED,
            "wrong job secret: executors get it from the pod manager in $SHUFFLE_JOB_SECRET"};
  }
  if (request->executor_id().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "executor id is empty"};
  }
  scheduler_->AddExecutor(request->executor_id(), request->node(), request->slots());
  {
    absl::MutexLock lock(&mu_);
    last_seen_[request->executor_id()] = std::chrono::steady_clock::now();
  }
  response->set_app_id(app_.app_id);
  response->set_app_token(app_.app_token);
  *response->mutable_job() = app_.job;
  response->set_shuffle_id(app_.shuffle.value());
  SHUFFLE_LOG(INFO) << "executor registered" << Kv("executor", request->executor_id())
                    << Kv("node", request->node()) << Kv("slots", request->slots())
                    << Kv("pid", request->pid());
  return grpc::Status::OK;
}

grpc::Status DriverService::PollTask(grpc::ServerContext* /*context*/,
                                     const proto::PollTaskRequest* request,
                                     proto::PollTaskResponse* response) {
  const auto wait = std::min(kMaxPollWait, std::chrono::milliseconds(request->wait_ms()));
  scheduler::TaskScheduler::PollResult result = scheduler_->Poll(request->executor_id(), wait);
  response->set_shutdown(result.shutdown);
  if (result.task.has_value()) {
    *response->mutable_task() = *std::move(result.task);
  }
  return grpc::Status::OK;
}

grpc::Status DriverService::ReportTask(grpc::ServerContext* /*context*/,
                                       const proto::ReportTaskRequest* request,
                                       proto::ReportTaskResponse* /*response*/) {
  scheduler_->Report(*request);
  return grpc::Status::OK;
}

grpc::Status DriverService::Heartbeat(grpc::ServerContext* /*context*/,
                                      const proto::HeartbeatRequest* request,
                                      proto::HeartbeatResponse* response) {
  if (!scheduler_->HasExecutor(request->executor_id())) {
    response->set_unknown_executor(true);
    return grpc::Status::OK;
  }
  absl::MutexLock lock(&mu_);
  last_seen_[request->executor_id()] = std::chrono::steady_clock::now();
  return grpc::Status::OK;
}

std::vector<std::string> DriverService::Silent(std::chrono::milliseconds timeout) const {
  const auto now = std::chrono::steady_clock::now();
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, seen] : last_seen_) {
    if (now - seen > timeout) {
      out.push_back(id);
    }
  }
  return out;
}

void DriverService::Forget(const std::string& executor_id) {
  absl::MutexLock lock(&mu_);
  last_seen_.erase(executor_id);
}

}  // namespace shuffle::runner
