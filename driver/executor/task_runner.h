// RunTask: runs one map or reduce task of a job on an executor, with the shuffle client library,
// and describes the outcome as the report the driver expects. A map task pushes its records to
// the node-local shuffle server and commits; a reduce task fetches its partition from every
// server in the map statuses. A reduce that cannot fetch from one server reports FETCH_FAILED
// naming that server, so the driver can decide whether the server is lost.
//
// Thread-safe: tasks run concurrently on an executor's slots.
#ifndef SHUFFLE_DRIVER_EXECUTOR_TASK_RUNNER_H_
#define SHUFFLE_DRIVER_EXECUTOR_TASK_RUNNER_H_

#include <string>

#include "driver/jobs/job.h"
#include "shuffle/client/options.h"
#include "shuffle/proto/driver.pb.h"

namespace shuffle::executor {

struct TaskContext {
  const jobs::Job* job = nullptr;
  client::ClientOptions client;   // `server` empty: the node-local server is discovered
  client::ShuffleHandle shuffle;  // application, token, shuffle id, partitions
};

// Never fails as a call: every error becomes an outcome in the report.
proto::ReportTaskRequest RunTask(const TaskContext& context, const proto::TaskSpec& task);

}  // namespace shuffle::executor

#endif  // SHUFFLE_DRIVER_EXECUTOR_TASK_RUNNER_H_
