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

// Drivers' identity checks (--token-review; security::TokenReviewer::Stats).
struct TokenReviewStats {
  uint64_t reviews = 0;     // TokenReviews sent to the API server
  uint64_t cache_hits = 0;  // registrations answered from the cache of positive reviews
  uint64_t refused = 0;     // tokens refused (not accepted, not a service account, no RBAC)
};

// Lost nodes' directories adopted from the shared volume (--adopt-root; adoption::Adopter).
struct AdoptionStats {
  uint64_t serving = 0;    // adopted directories this server serves now
  uint64_t adoptions = 0;  // adoptions it made since it started
};

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
  // Empty without --token-review.
  std::function<TokenReviewStats()> token_reviews;
  // Empty without --adopt-root.
  std::function<AdoptionStats()> adoption;
};

std::string RenderServerMetrics(const MetricsSources& sources);

}  // namespace shuffle::ops

#endif  // SHUFFLE_SERVER_OPS_SERVER_METRICS_H_
