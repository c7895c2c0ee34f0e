// The shuffle server's metrics page: storage-engine, data-plane and disk figures rendered in the
// Prometheus text format. Names follow Prometheus conventions (`shuffle_` prefix, `_total` for
// counters, `_bytes` and `_seconds` units). Thread-safe (it only reads snapshots).
#ifndef SHUFFLE_SERVER_OPS_SERVER_METRICS_H_
#define SHUFFLE_SERVER_OPS_SERVER_METRICS_H_

#include <string>
#include <vector>

#include "shuffle-server/dataplane/stats.h"
#include "shuffle-server/handover/progress.h"
#include "shuffle-server/sparkess/stats.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/env.h"

namespace shuffle::ops {

struct MetricsSources {
  const storage::StorageEngine* engine = nullptr;  // required
  std::vector<std::string> data_dirs;              // for free/capacity per directory
  storage::Env* env = storage::Env::Default();
  // Called at scrape time; empty when the server has no data plane (tests).
  std::function<dataplane::DataPlaneStats()> dataplane;
  // Empty when the Spark listener is off.
  std::function<sparkess::SparkEssStats()> spark;
  // The hand-over of this server's outputs to peers (docs/node-loss.md); may be null.
  const handover::HandOverProgress* handover = nullptr;
};

std::string RenderServerMetrics(const MetricsSources& sources);

}  // namespace shuffle::ops

#endif  // SHUFFLE_SERVER_OPS_SERVER_METRICS_H_
