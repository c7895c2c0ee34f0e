#include "driver/executor/task_runner.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/map_status.h"
#include "shuffle/client/partition_reader.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::executor {
namespace {

class WriterSink : public jobs::RecordSink {
 public:
  explicit WriterSink(client::MapOutputWriter* writer) : writer_(writer) {}
  absl::Status Emit(core::PartitionId partition, std::string_view key,
                    std::string_view value) override {
    ++records_;
    return writer_->Write(partition, key, value);
  }
  uint64_t records() const { return records_; }

 private:
  client::MapOutputWriter* writer_;
  uint64_t records_ = 0;
};

class ReaderSource : public jobs::RecordSource {
 public:
  explicit ReaderSource(client::PartitionReader* reader) : reader_(reader) {}
  absl::StatusOr<bool> Next(std::string_view* key, std::string_view* value) override {
    return reader_->Next(key, value);
  }

 private:
  client::PartitionReader* reader_;
};

absl::Status RunMap(const TaskContext& context, const proto::TaskSpec& task,
                    proto::ReportTaskRequest& report) {
  client::ClientOptions options = context.client;
  options.replica_server = task.replica_server();
  // An error of the replica's server is reported as such: the driver re-runs the map with
  // another replica, and checks that server.
  auto replica_failed = [&](absl::Status st) {
    if (!task.replica_server().empty() && client::WriterFailedServer(st) == task.replica_server()) {
      report.set_failed_server(task.replica_server());
    }
    return st;
  };
  absl::StatusOr<std::unique_ptr<client::MapOutputWriter>> writer = client::MapOutputWriter::Open(
      options, context.shuffle, core::MapId(task.index()), core::AttemptId(task.attempt()));
  if (!writer.ok()) {
    return replica_failed(writer.status());
  }
  WriterSink sink(writer->get());
  if (absl::Status ran = context.job->RunMap(core::MapId(task.index()), sink); !ran.ok()) {
    return replica_failed(ran);
  }
  absl::StatusOr<client::MapOutputWriter::CommitResult> commit = (*writer)->Commit();
  if (!commit.ok()) {
    return replica_failed(commit.status());
  }
  if (!report.mutable_map_status()->ParseFromString(commit->status.Serialize()) ||
      (commit->replica.has_value() &&
       !report.mutable_replica_status()->ParseFromString(commit->replica->Serialize()))) {
    return absl::InternalError("cannot encode the map status");
  }
  report.set_bytes_read(commit->status.total_bytes());
  report.set_records(sink.records());
  return absl::OkStatus();
}

absl::Status RunReduce(const TaskContext& context, const proto::TaskSpec& task,
                       proto::ReportTaskRequest& report) {
  std::vector<client::MapStatus> statuses;
  statuses.reserve(task.map_statuses_size());
  for (const proto::MapStatus& s : task.map_statuses()) {
    SHUFFLE_ASSIGN_OR_RETURN(client::MapStatus status,
                             client::MapStatus::Parse(s.SerializeAsString()));
    statuses.push_back(std::move(status));
  }
  const core::PartitionId partition(task.index());
  SHUFFLE_ASSIGN_OR_RETURN(
      std::unique_ptr<client::PartitionReader> reader,
      client::PartitionReader::Open(context.client, context.shuffle, partition,
                                    core::PartitionId(task.index() + 1), statuses));
  ReaderSource source(reader.get());
  absl::StatusOr<std::string> summary = context.job->RunReduce(partition, source);
  if (!summary.ok()) {
    report.set_failed_server(reader->failed_server());
    return summary.status();
  }
  report.set_reduce_summary(*std::move(summary));
  report.set_bytes_read(reader->stats().bytes);
  report.set_records(reader->stats().records);
  return absl::OkStatus();
}

}  // namespace

proto::ReportTaskRequest RunTask(const TaskContext& context, const proto::TaskSpec& task) {
  proto::ReportTaskRequest report;
  report.set_kind(task.kind());
  report.set_index(task.index());
  report.set_attempt(task.attempt());
  absl::Status st;
  if (task.kind() == proto::TASK_KIND_MAP) {
    st = RunMap(context, task, report);
  } else if (task.kind() == proto::TASK_KIND_REDUCE) {
    st = RunReduce(context, task, report);
  } else {
    st = absl::InvalidArgumentError(absl::StrCat("unknown task kind ", task.kind()));
  }
  if (st.ok()) {
    report.set_outcome(proto::TASK_OUTCOME_SUCCEEDED);
  } else {
    if (report.failed_server().empty()) {
      report.set_outcome(proto::TASK_OUTCOME_FAILED);
    } else {
      report.set_outcome(task.kind() == proto::TASK_KIND_MAP ? proto::TASK_OUTCOME_REPLICA_FAILED
                                                             : proto::TASK_OUTCOME_FETCH_FAILED);
    }
    report.set_error(st.ToString(absl::StatusToStringMode::kWithNoExtraData));
    report.set_error_code(static_cast<int32_t>(st.code()));
  }
  return report;
}

}  // namespace shuffle::executor
