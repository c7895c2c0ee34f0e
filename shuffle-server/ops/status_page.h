// The status page an operator opens in a browser on the metrics port: GET /status is one
// self-contained HTML page (inline CSS and JS, no external assets) that polls GET /status.json
// every two seconds and draws the node's applications and shuffles, bytes and blocks in and out,
// disk use per data directory, commits and fetches per second over the last minutes (inline SVG
// charts), drain progress and the recent warning and error log lines. Read-only.
//
// ThroughputHistory samples the counters the charts need at a fixed interval on its own thread
// and keeps a bounded window; RenderStatusJson and the page are pure functions of their sources.
// Thread-safety: ThroughputHistory's methods may be called from any thread; the rest is stateless.
#ifndef SHUFFLE_SERVER_OPS_STATUS_PAGE_H_
#define SHUFFLE_SERVER_OPS_STATUS_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shuffle-server/ops/server_metrics.h"

namespace shuffle::ops {

// The cumulative counters behind the status page's charts, at one moment.
struct ThroughputSample {
  int64_t unix_ms = 0;
  uint64_t commits = 0;    // map attempts committed
  uint64_t fetches = 0;    // fetch requests served (data plane and Spark streams)
  uint64_t bytes_in = 0;   // block bytes pushed
  uint64_t bytes_out = 0;  // bytes sent to readers (data plane and Spark)
};

// Reads the counters of `sources` now.
ThroughputSample SampleThroughput(const MetricsSources& sources);

class ThroughputHistory {
 public:
  // Calls `read` every `interval` (and once at construction), keeping the last `capacity`
  // samples. REQUIRES: interval > 0, capacity >= 2.
  ThroughputHistory(std::function<ThroughputSample()> read, absl::Duration interval,
                    size_t capacity);
  ~ThroughputHistory();  // stops and joins the sampling thread
  ThroughputHistory(const ThroughputHistory&) = delete;
  ThroughputHistory& operator=(const ThroughputHistory&) = delete;

  absl::Duration interval() const { return interval_; }
  // Oldest first.
  std::vector<ThroughputSample> Samples() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const std::function<ThroughputSample()> read_;
  const absl::Duration interval_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<ThroughputSample> samples_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// A decommission's hand-over of the node's map outputs to peers (handover::HandOverProgress).
struct HandOverStatus {
  int64_t started_unix_ms = 0;   // 0: none since the server started
  int64_t finished_unix_ms = 0;  // 0: running (or none)
  uint64_t maps = 0;
  uint64_t moved = 0;
  uint64_t unmoved = 0;
  uint64_t bytes_moved = 0;
};

// Everything /status.json reports.
struct StatusSources {
  MetricsSources metrics;  // engine required
  std::string node_name;
  const ThroughputHistory* history = nullptr;  // null: no charts
  absl::Time started = absl::Now();
  std::function<HandOverStatus()> handover;  // empty: not reported
};

// The JSON document /status.json serves (its fields are listed in docs/operations.md).
std::string RenderStatusJson(const StatusSources& sources);

// The HTML page /status serves: constant, holds no data (everything comes from /status.json).
std::string_view StatusPageHtml();

// The Content-Security-Policy header /status is served with: nothing loads from anywhere, and
// only the page's own inline script and style run (allowed by their SHA-256 hashes, so a script
// injected into the page would not).
const std::string& StatusPagePolicy();

}  // namespace shuffle::ops

#endif  // SHUFFLE_SERVER_OPS_STATUS_PAGE_H_
