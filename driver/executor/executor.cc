#include "driver/executor/executor.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::executor {
namespace {

using core::Kv;

constexpr uint32_t kPollWaitMs = 1000;
constexpr std::chrono::milliseconds kMinTaskBackoff{250};
constexpr std::chrono::milliseconds kMaxTaskBackoff{4000};

absl::Status FromGrpc(const grpc::Status& st, const std::string& what) {
  if (st.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      absl::StrCat(what, ": ", st.error_message()));
}

template <typename Rep, typename Period>
std::unique_ptr<grpc::ClientContext> Deadline(std::chrono::duration<Rep, Period> timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Executor>> Executor::Register(ExecutorOptions options) {
  auto stub = proto::Driver::NewStub(
      grpc::CreateChannel(options.driver_address, grpc::InsecureChannelCredentials()));
  proto::RegisterExecutorRequest request;
  request.set_executor_id(options.executor_id);
  request.set_node(options.node);
  request.set_slots(options.slots);
  request.set_pid(getpid());
  request.set_secret(options.secret);
  proto::RegisterExecutorResponse response;
  const auto deadline = std::chrono::steady_clock::now() + options.driver_timeout;
  absl::Status st;
  for (;;) {
    auto context = Deadline(std::chrono::seconds(5));
    st = FromGrpc(stub->RegisterExecutor(context.get(), request, &response),
                  absl::StrCat("registering with the driver at ", options.driver_address));
    if (st.ok() || !absl::IsUnavailable(st) || std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  SHUFFLE_RETURN_IF_ERROR(st);
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<jobs::Job> job, jobs::Job::FromSpec(response.job()));
  auto executor = std::unique_ptr<Executor>(new Executor(std::move(options), std::move(stub)));
  executor->job_ = std::move(job);
  executor->context_.job = executor->job_.get();
  executor->context_.client = executor->options_.client;
  executor->context_.shuffle =
      client::ShuffleHandle{.app_id = response.app_id(),
                            .token = response.app_token(),
                            .shuffle = core::ShuffleId(response.shuffle_id()),
                            .num_partitions = executor->job_->num_partitions()};
  SHUFFLE_LOG(INFO) << "registered with the driver"
                    << Kv("executor", executor->options_.executor_id)
                    << Kv("node", executor->options_.node) << Kv("app", response.app_id())
                    << Kv("job", response.job().kind());
  return executor;
}

Executor::~Executor() { Stop(); }

void Executor::Stop() { Finish(absl::OkStatus()); }

void Executor::Finish(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) {
    stopping_ = true;
    result_ = status;
  }
}

bool Executor::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

absl::Status Executor::Run() {
  {
    absl::MutexLock lock(&mu_);
    last_contact_ = std::chrono::steady_clock::now();
  }
  std::vector<std::thread> threads;
  threads.emplace_back([this] { HeartbeatLoop(); });
  for (uint32_t i = 0; i < std::max<uint32_t>(1, options_.slots); ++i) {
    threads.emplace_back([this] { TaskLoop(); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  absl::MutexLock lock(&mu_);
  return result_;
}

bool Executor::Report(const proto::ReportTaskRequest& report) {
  // A report is the only record of the task's work: retry it while the driver is reachable.
  for (int attempt = 0; !Stopping(); ++attempt) {
    proto::ReportTaskResponse response;
    auto context = Deadline(std::chrono::seconds(10));
    grpc::Status st = stub_->ReportTask(context.get(), report, &response);
    if (st.ok()) {
      return true;
    }
    SHUFFLE_LOG(WARNING) << "cannot report a task to the driver; retrying"
                         << Kv("attempt", report.attempt()) << Kv("error", st.error_message());
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(2000, 100 << std::min(attempt, 5))));
  }
  return false;
}

void Executor::TaskLoop() {
  // After a task fails with UNAVAILABLE (the node's server restarting, or gone), this slot waits
  // before taking another task, instead of failing every task of the job in a millisecond each.
  std::chrono::milliseconds backoff{0};
  while (!Stopping()) {
    if (backoff.count() > 0) {
      std::this_thread::sleep_for(backoff);
    }
    proto::PollTaskRequest request;
    request.set_executor_id(options_.executor_id);
    request.set_wait_ms(kPollWaitMs);
    proto::PollTaskResponse response;
    auto context = Deadline(std::chrono::milliseconds(kPollWaitMs + 5000));
    grpc::Status st = stub_->PollTask(context.get(), request, &response);
    if (!st.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;  // the heartbeat loop decides when the driver is lost
    }
    if (response.shutdown()) {
      Finish(absl::OkStatus());
      return;
    }
    if (response.task().kind() == proto::TASK_KIND_UNSPECIFIED) {
      continue;
    }
    const uint32_t attempt = response.task().attempt();
    {
      absl::MutexLock lock(&mu_);
      running_.push_back(attempt);
    }
    proto::ReportTaskRequest report = RunTask(context_, response.task());
    report.set_executor_id(options_.executor_id);
    if (report.outcome() != proto::TASK_OUTCOME_SUCCEEDED) {
      SHUFFLE_LOG(WARNING) << "task failed" << Kv("kind", proto::TaskKind_Name(report.kind()))
                           << Kv("index", report.index()) << Kv("attempt", attempt)
                           << Kv("error", report.error());
    }
    Report(report);
    // Refused by this node's server (restarting, draining, disk full): wait before taking the
    // next task, so the server can come back and executors on other nodes can take the task.
    const auto code = static_cast<absl::StatusCode>(report.error_code());
    const bool refused =
        report.outcome() == proto::TASK_OUTCOME_FAILED &&
        (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted);
    backoff = refused ? std::clamp(backoff * 2, kMinTaskBackoff, kMaxTaskBackoff)
                      : std::chrono::milliseconds(0);
    absl::MutexLock lock(&mu_);
    running_.erase(std::find(running_.begin(), running_.end(), attempt));
  }
}

void Executor::HeartbeatLoop() {
  while (!Stopping()) {
    proto::HeartbeatRequest request;
    request.set_executor_id(options_.executor_id);
    {
      absl::MutexLock lock(&mu_);
      for (uint32_t a : running_) {
        request.add_running_attempts(a);
      }
    }
    proto::HeartbeatResponse response;
    auto context = Deadline(std::chrono::seconds(5));
    grpc::Status st = stub_->Heartbeat(context.get(), request, &response);
    const auto now = std::chrono::steady_clock::now();
    if (st.ok() && response.unknown_executor()) {
      Finish(absl::AbortedError("the driver declared this executor lost"));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (st.ok()) {
        last_contact_ = now;
      } else if (now - last_contact_ > options_.driver_timeout) {
        stopping_ = true;
        result_ = absl::UnavailableError(absl::StrCat("driver at ", options_.driver_address,
                                                      " unreachable: ", st.error_message()));
        return;
      }
    }
    std::this_thread::sleep_for(options_.heartbeat_interval);
  }
}

}  // namespace shuffle::executor
