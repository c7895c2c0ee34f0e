#include "shuffle-server/ops/status_page.h"

#include <algorithm>
#include <map>
#include <utility>

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "shuffle/core/logging.h"

namespace shuffle::ops {
namespace {

using nlohmann::json;

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

json Applications(const storage::StorageEngine& engine) {
  // app id -> its namespace and shuffles, in id order.
  std::map<std::string, json> apps;
  for (const storage::ShuffleUsage& u : engine.Usage()) {
    json& app = apps[u.record.app_id];
    if (app.is_null()) {
      app = {{"app", u.record.app_id},
             {"namespace", u.record.namespace_name},
             {"disk_bytes", 0},
             {"shuffles", json::array()}};
    }
    app["disk_bytes"] = app["disk_bytes"].get<uint64_t>() + u.disk_bytes;
    app["shuffles"].push_back({{"shuffle", u.record.shuffle_id},
                               {"partitions", u.record.num_partitions},
                               {"sealed", u.record.sealed},
                               {"committed_maps", u.committed_maps},
                               {"stored_bytes", u.stored_bytes},
                               {"disk_bytes", u.disk_bytes},
                               {"files", u.files}});
  }
  json out = json::array();
  for (auto& [id, app] : apps) {
    out.push_back(std::move(app));
  }
  return out;
}

json Directories(const MetricsSources& sources) {
  std::map<std::string, json> dirs;
  for (const std::string& dir : sources.data_dirs) {
    json& d = dirs[dir];
    d = {{"path", dir}, {"used_bytes", 0}, {"files", 0}};
    absl::StatusOr<storage::DiskSpace> space = sources.env->GetDiskSpace(dir);
    if (space.ok()) {
      d["free_bytes"] = space->free_bytes;
      d["capacity_bytes"] = space->capacity_bytes;
    } else {
      d["error"] = space.status().ToString();
    }
  }
  for (const storage::DirectoryUsage& usage : sources.engine->UsageByDirectory()) {
    json& d = dirs[usage.path];
    d["path"] = usage.path;
    d["used_bytes"] = usage.used_bytes;
    d["files"] = usage.files;
  }
  json out = json::array();
  for (auto& [path, d] : dirs) {
    out.push_back(std::move(d));
  }
  return out;
}

// Per-second rates between consecutive samples.
json Rates(const ThroughputHistory& history) {
  const std::vector<ThroughputSample> samples = history.Samples();
  json out = json::array();
  for (size_t i = 1; i < samples.size(); ++i) {
    const ThroughputSample& a = samples[i - 1];
    const ThroughputSample& b = samples[i];
    const double seconds = static_cast<double>(std::max<int64_t>(b.unix_ms - a.unix_ms, 1)) / 1e3;
    const auto rate = [seconds](uint64_t from, uint64_t to) {
      return to >= from ? static_cast<double>(to - from) / seconds : 0.0;
    };
    out.push_back({{"unix_ms", b.unix_ms},
                   {"commits", rate(a.commits, b.commits)},
                   {"fetches", rate(a.fetches, b.fetches)},
                   {"bytes_in", rate(a.bytes_in, b.bytes_in)},
                   {"bytes_out", rate(a.bytes_out, b.bytes_out)}});
  }
  return out;
}

// "'sha256-BASE64'" of the text between `open` and `close` in the page (CSP's hash source).
std::string InlineHash(std::string_view page, std::string_view open, std::string_view close) {
  const size_t begin = page.find(open);
  const size_t end = page.find(close, begin);
  SHUFFLE_CHECK(begin != std::string_view::npos && end != std::string_view::npos) << open;
  const std::string_view text = page.substr(begin + open.size(), end - begin - open.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  const std::string raw(reinterpret_cast<const char*>(digest), sizeof(digest));
  return absl::StrCat("'sha256-", absl::Base64Escape(raw), "'");
}

}  // namespace

const std::string& StatusPagePolicy() {
  static const std::string* const policy = [] {
    const std::string_view page = StatusPageHtml();
    return new std::string(
        absl::StrCat("default-src 'none'; script-src ", InlineHash(page, "<script>", "</script>"),
                     "; style-src ", InlineHash(page, "<style>", "</style>"),
                     "; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'"));
  }();
  return *policy;
}

ThroughputSample SampleThroughput(const MetricsSources& sources) {
  const storage::EngineStats s = sources.engine->stats();
  ThroughputSample sample{.unix_ms = NowUnixMs(),
                          .commits = s.commits,
                          .fetches = 0,
                          .bytes_in = s.bytes_pushed,
                          .bytes_out = 0};
  if (sources.dataplane) {
    const dataplane::DataPlaneStats d = sources.dataplane();
    sample.fetches += d.fetch_latency.count;
    sample.bytes_out += d.bytes_out;
  }
  if (sources.spark) {
    const sparkess::SparkEssStats spark = sources.spark();
    sample.fetches += spark.streams_opened;
    sample.bytes_out += spark.bytes_served;
  }
  return sample;
}

ThroughputHistory::ThroughputHistory(std::function<ThroughputSample()> read,
                                     absl::Duration interval, size_t capacity)
    : read_(std::move(read)), interval_(interval), capacity_(capacity) {
  samples_.push_back(read_());
  thread_ = std::thread([this] { Run(); });
}

ThroughputHistory::~ThroughputHistory() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

std::vector<ThroughputSample> ThroughputHistory::Samples() const {
  absl::MutexLock lock(&mu_);
  return {samples_.begin(), samples_.end()};
}

void ThroughputHistory::Run() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_)) {
    mu_.Unlock();
    const ThroughputSample sample = read_();
    mu_.Lock();
    if (samples_.size() == capacity_) {
      samples_.pop_front();
    }
    samples_.push_back(sample);
  }
}

std::string RenderStatusJson(const StatusSources& sources) {
  const MetricsSources& m = sources.metrics;
  const storage::StorageEngine& engine = *m.engine;
  const storage::EngineStats s = engine.stats();
  const ThroughputSample now = SampleThroughput(m);
  json doc = {{"node", sources.node_name},
              {"unix_ms", now.unix_ms},
              {"uptime_seconds", absl::ToInt64Seconds(absl::Now() - sources.started)},
              {"epoch", engine.epoch()}};
  json totals = {{"pushed_bytes", s.bytes_pushed},
                 {"pushed_blocks", s.blocks_pushed},
                 {"pushed_records", s.records_pushed},
                 {"commits", s.commits},
                 {"fetches", now.fetches},
                 {"sent_bytes", now.bytes_out},
                 {"disk_read_bytes", s.bytes_read},
                 {"disk_written_bytes", s.bytes_written}};
  json drain = {{"draining", s.draining},
                {"refused_writes", s.refused_draining},
                {"memory_buffered_bytes", s.memory_bytes},
                {"requests_in_flight", 0},
                {"pending_write_bytes", 0}};
  uint64_t errors = 0;
  if (m.dataplane) {
    const dataplane::DataPlaneStats d = m.dataplane();
    totals["received_bytes"] = d.bytes_in;
    totals["fetched_blocks"] = d.frames_out[static_cast<size_t>(core::FrameType::kFetchData)];
    totals["connections_open"] = d.connections_open;
    drain["requests_in_flight"] = d.requests_in_flight;
    drain["pending_write_bytes"] = d.pending_write_bytes;
    for (uint64_t e : d.errors) {
      errors += e;
    }
  }
  if (m.spark) {
    const sparkess::SparkEssStats spark = m.spark();
    totals["spark_blocks_served"] = spark.blocks_served;
    totals["spark_registered_executors"] = spark.registered_executors;
  }
  totals["request_errors"] = errors;
  if (sources.handover) {
    const HandOverStatus h = sources.handover();
    const char* state = h.started_unix_ms == 0    ? "none"
                        : h.finished_unix_ms == 0 ? "running"
                                                  : "finished";
    drain["handover"] = {{"state", state},
                         {"maps", h.maps},
                         {"moved", h.moved},
                         {"unmoved", h.unmoved},
                         {"bytes_moved", h.bytes_moved},
                         {"started_unix_ms", h.started_unix_ms},
                         {"finished_unix_ms", h.finished_unix_ms}};
  }
  doc["totals"] = std::move(totals);
  doc["drain"] = std::move(drain);
  doc["applications"] = Applications(engine);
  doc["directories"] = Directories(m);
  if (sources.history != nullptr) {
    doc["rates"] = {{"interval_seconds", absl::ToDoubleSeconds(sources.history->interval())},
                    {"points", Rates(*sources.history)}};
  }
  doc["recent_problems"] = core::RecentProblemLines();
  // Log lines may hold bytes that are not UTF-8 (paths, peers' data): replaced, never thrown.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shuffle::ops
