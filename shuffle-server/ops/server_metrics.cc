#include "shuffle-server/ops/server_metrics.h"

#include <map>

#include "absl/status/status.h"
#include "shuffle-server/ops/prometheus_text.h"
#include "shuffle/core/frame.h"

namespace shuffle::ops {
namespace {

void StorageMetrics(const storage::StorageEngine& engine, PrometheusText& page) {
  const storage::EngineStats s = engine.stats();
  page.Counter("shuffle_pushed_blocks_total", "Blocks accepted from map tasks.",
               static_cast<double>(s.blocks_pushed));
  page.Counter("shuffle_pushed_bytes_total", "Block bytes accepted from map tasks.",
               static_cast<double>(s.bytes_pushed));
  page.Counter("shuffle_pushed_records_total",
               "Records in the blocks accepted from map tasks (from the blocks' headers).",
               static_cast<double>(s.records_pushed));
  page.Counter("shuffle_commits_total", "Map attempts committed durably.",
               static_cast<double>(s.commits));
  page.Counter("shuffle_commit_rounds_total",
               "Group-commit rounds (one fdatasync set and one WAL sync each).",
               static_cast<double>(s.commit_rounds));
  page.Counter("shuffle_extents_written_total", "Extents written to segment files.",
               static_cast<double>(s.extents_written));
  page.Counter("shuffle_disk_written_bytes_total",
               "Bytes written to segment and commit-log files, padding included.",
               static_cast<double>(s.bytes_written));
  page.Counter("shuffle_commit_log_written_bytes_total",
               "Bytes written to commit logs (part of shuffle_disk_written_bytes_total).",
               static_cast<double>(s.log_bytes_written));
  page.Counter("shuffle_segment_preallocated_bytes_total",
               "Segment space reserved with fallocate ahead of extent writes.",
               static_cast<double>(s.segment_bytes_preallocated));
  page.Counter("shuffle_segment_preallocation_failures_total",
               "Segment preallocations that failed (the extent writes then extended the file).",
               static_cast<double>(s.segment_preallocation_failures));
  page.Counter("shuffle_disk_reads_total", "Read operations submitted for fetches.",
               static_cast<double>(s.disk_reads));
  page.Counter("shuffle_disk_read_bytes_total", "Bytes read from disk for fetches.",
               static_cast<double>(s.bytes_read));
  page.Counter("shuffle_low_disk_refusals_total",
               "Pushes refused because a data directory was below the low-disk watermark.",
               static_cast<double>(s.refused_low_disk));
  page.Counter("shuffle_quota_refusals_total",
               "Pushes refused because their namespace was at its disk quota.",
               static_cast<double>(s.refused_quota));
  page.Counter("shuffle_draining_refusals_total",
               "Pushes, commits and shuffle registrations refused because the server is draining.",
               static_cast<double>(s.refused_draining));
  page.Gauge("shuffle_draining",
             "1 while the server is draining (refusing new writes, serving reads), else 0.",
             s.draining ? 1 : 0);
  page.Counter("shuffle_scrubs_total", "Shuffle scrubs completed.", static_cast<double>(s.scrubs));
  page.Counter("shuffle_scrub_checked_blocks_total", "Committed blocks read back and verified.",
               static_cast<double>(s.scrub_blocks));
  page.Counter("shuffle_scrub_checked_bytes_total", "Bytes of the blocks scrubs verified.",
               static_cast<double>(s.scrub_bytes));
  page.Counter("shuffle_scrub_corrupt_blocks_total",
               "Blocks scrubs found corrupt or unreadable on disk.",
               static_cast<double>(s.scrub_corrupt_blocks));
  for (const auto& [ns, bytes] : engine.NamespaceUsage()) {
    page.Gauge("shuffle_namespace_stored_bytes",
               "Block bytes stored per namespace (what quotas are checked against).",
               static_cast<double>(bytes), {{"namespace", ns}});
  }
  page.Gauge("shuffle_memory_buffered_bytes", "Block bytes held in aggregation buffers.",
             static_cast<double>(s.memory_bytes));
  page.Gauge("shuffle_epoch", "Run number of the storage engine (incremented at each start).",
             engine.epoch());
  page.Gauge("shuffle_recovery_duration_seconds", "Time the last start spent in recovery.",
             engine.recovery_report().seconds);
  std::map<std::pair<std::string, std::string>, std::pair<double, double>> per_app;
  for (const storage::ShuffleUsage& u : engine.Usage()) {
    auto& [shuffles, bytes] = per_app[{u.record.app_id, u.record.namespace_name}];
    shuffles += 1;
    bytes += static_cast<double>(u.disk_bytes);
  }
  for (const auto& [app, figures] : per_app) {
    const Labels labels = {{"app", app.first}, {"namespace", app.second}};
    page.Gauge("shuffle_application_shuffles", "Shuffles registered, per application.",
               figures.first, labels);
    page.Gauge("shuffle_application_disk_bytes", "Disk bytes used, per application.",
               figures.second, labels);
  }
}

void DirectoryMetrics(const MetricsSources& sources, PrometheusText& page) {
  for (const storage::DirectoryUsage& usage : sources.engine->UsageByDirectory()) {
    page.Gauge("shuffle_directory_used_bytes",
               "Bytes of shuffle files (segments, commit logs) the server holds in a data "
               "directory.",
               static_cast<double>(usage.used_bytes), {{"dir", usage.path}});
    page.Gauge("shuffle_directory_files", "Shuffle files the server holds in a data directory.",
               static_cast<double>(usage.files), {{"dir", usage.path}});
  }
  for (const std::string& dir : sources.data_dirs) {
    absl::StatusOr<storage::DiskSpace> space = sources.env->GetDiskSpace(dir);
    if (!space.ok()) {
      continue;
    }
    page.Gauge("shuffle_directory_free_bytes", "Free bytes in a data directory's file system.",
               static_cast<double>(space->free_bytes), {{"dir", dir}});
    page.Gauge("shuffle_directory_capacity_bytes", "Capacity of a data directory's file system.",
               static_cast<double>(space->capacity_bytes), {{"dir", dir}});
  }
}

void DataPlaneMetrics(const dataplane::DataPlaneStats& s, PrometheusText& page) {
  page.Counter("shuffle_connections_accepted_total", "Data-plane connections accepted.",
               static_cast<double>(s.connections_accepted));
  page.Gauge("shuffle_connections_open", "Data-plane connections open.",
             static_cast<double>(s.connections_open));
  const std::pair<const char*, uint64_t> closed[] = {{"idle", s.connections_closed_idle},
                                                     {"slow_client", s.connections_closed_slow},
                                                     {"protocol", s.connections_closed_protocol}};
  for (const auto& [reason, count] : closed) {
    page.Counter("shuffle_connections_closed_total",
                 "Data-plane connections closed by the server, by reason.",
                 static_cast<double>(count), {{"reason", reason}});
  }
  for (size_t t = 1; t < dataplane::kFrameTypeSlots; ++t) {
    const std::string type(core::FrameTypeName(static_cast<core::FrameType>(t)));
    page.Counter("shuffle_frames_received_total", "Data-plane frames received, by type.",
                 static_cast<double>(s.frames_in[t]), {{"type", type}});
    page.Counter("shuffle_frames_sent_total", "Data-plane frames sent, by type.",
                 static_cast<double>(s.frames_out[t]), {{"type", type}});
  }
  page.Counter("shuffle_network_received_bytes_total", "Data-plane bytes received.",
               static_cast<double>(s.bytes_in));
  page.Counter("shuffle_network_sent_bytes_total", "Data-plane bytes sent.",
               static_cast<double>(s.bytes_out));
  page.Counter(
      "shuffle_network_sendfile_bytes_total",
      "Fetch payload bytes sent from segment files with sendfile (part of the bytes sent).",
      static_cast<double>(s.sendfile_bytes));
  page.Counter("shuffle_network_sendfile_waits_total",
               "Times sending a fetch payload found the socket full and waited.",
               static_cast<double>(s.sendfile_waits));
  page.Gauge("shuffle_network_unix_send_buffer_bytes",
             "Send buffer the kernel grants each Unix-socket connection (0: not asked for); "
             "below --socket-send-buffer-kib, raise the node's net.core.wmem_max.",
             static_cast<double>(s.unix_send_buffer_bytes));
  page.Counter("shuffle_tls_handshakes_total",
               "TLS handshakes on the data plane's TCP listener, by result (a failure is a "
               "client with the wrong CA, an old protocol version or no client certificate).",
               static_cast<double>(s.tls_handshakes), {{"result", "ok"}});
  page.Counter("shuffle_tls_handshakes_total",
               "TLS handshakes on the data plane's TCP listener, by result (a failure is a "
               "client with the wrong CA, an old protocol version or no client certificate).",
               static_cast<double>(s.tls_handshake_failures), {{"result", "failed"}});
  for (size_t code = 1; code < dataplane::kStatusCodeSlots; ++code) {
    if (s.errors[code] == 0) {
      continue;
    }
    page.Counter("shuffle_request_errors_total", "Requests answered with an error, by code.",
                 static_cast<double>(s.errors[code]),
                 {{"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}});
  }
  page.Gauge("shuffle_requests_in_flight", "Data-plane requests being handled.",
             static_cast<double>(s.requests_in_flight));
  page.Gauge("shuffle_pending_write_bytes", "Response bytes queued and not yet written.",
             static_cast<double>(s.pending_write_bytes));
  page.Gauge("shuffle_request_buffer_bytes", "Request bytes buffered across connections.",
             static_cast<double>(s.request_buffer_bytes));
  const std::pair<const char*, const core::LatencyHistogram::Snapshot*> latencies[] = {
      {"push", &s.push_latency},
      {"commit", &s.commit_latency},
      {"fetch", &s.fetch_latency},
      {"lookup", &s.lookup_latency}};
  for (const auto& [kind, snapshot] : latencies) {
    page.Histogram("shuffle_request_duration_seconds",
                   "Time to handle a data-plane request, by kind (fetch: until its last frame "
                   "was queued).",
                   *snapshot, {{"kind", kind}});
  }
}

void SparkEssMetrics(const sparkess::SparkEssStats& s, PrometheusText& page) {
  const auto counter = [&page](const char* name, const char* help, uint64_t v) {
    page.Counter(name, help, static_cast<double>(v));
  };
  const auto gauge = [&page](const char* name, const char* help, uint64_t v) {
    page.Gauge(name, help, static_cast<double>(v));
  };
  counter("shuffle_spark_connections_accepted_total",
          "Connections accepted by the Spark shuffle-service listener.", s.connections_accepted);
  gauge("shuffle_spark_connections_open", "Spark shuffle-service connections open.",
        s.connections_open);
  gauge("shuffle_spark_registered_executors", "Spark executors registered (persisted).",
        s.registered_executors);
  gauge("shuffle_spark_registered_applications", "Spark applications with registered executors.",
        s.registered_applications);
  counter("shuffle_spark_registrations_total", "Spark executor registrations accepted.",
          s.registrations);
  counter("shuffle_spark_registrations_refused_total",
          "Spark executor registrations refused (dirs outside --spark-local-dirs-root...).",
          s.registrations_refused);
  counter("shuffle_spark_rpcs_total", "Spark RPC requests received.", s.rpcs);
  counter("shuffle_spark_rpc_failures_total", "Spark RPC requests answered with a failure.",
          s.rpc_failures);
  counter("shuffle_spark_streams_opened_total",
          "Block streams opened (OpenBlocks, FetchShuffleBlocks).", s.streams_opened);
  counter("shuffle_spark_chunks_served_total", "Chunks and streams served (one per fetched range).",
          s.chunks_served);
  counter("shuffle_spark_chunk_failures_total", "Chunk and stream fetches answered with a failure.",
          s.chunk_failures);
  counter("shuffle_spark_blocks_served_total",
          "Shuffle blocks served (a batched range counts each reduce partition).", s.blocks_served);
  counter("shuffle_spark_served_bytes_total", "Block bytes served to Spark clients.",
          s.bytes_served);
  counter("shuffle_spark_sendfile_bytes_total", "Block bytes of them sent with sendfile.",
          s.sendfile_bytes);
  counter("shuffle_spark_auth_successes_total", "Spark clients authenticated.", s.auth_successes);
  counter("shuffle_spark_auth_failures_total", "Spark client authentications refused.",
          s.auth_failures);
  counter("shuffle_spark_protocol_errors_total",
          "Malformed, truncated or oversized Spark frames (the connection is closed).",
          s.protocol_errors);
  counter("shuffle_spark_blocks_removed_total", "Block files deleted by RemoveBlocks.",
          s.blocks_removed);
  counter("shuffle_spark_applications_expired_total",
          "Idle Spark applications forgotten, with their local dirs deleted.",
          s.applications_expired);
  counter("shuffle_spark_corruption_diagnoses_total", "DiagnoseCorruption requests handled.",
          s.corruption_diagnoses);
}

void HandOverMetrics(const handover::HandOverProgress::Snapshot& s, PrometheusText& page) {
  page.Gauge("shuffle_handover_running",
             "1 while this server hands its map outputs over to peers (decommission), else 0.",
             s.running ? 1 : 0);
  page.Counter("shuffle_handovers_total",
               "Hand-overs started (Decommission, SIGTERM when cordoned).",
               static_cast<double>(s.handovers));
  const std::string outputs_help =
      "Map outputs of the current or last hand-over, by state: moved to a peer, failed (they fall "
      "back to re-runs), left to move.";
  page.Gauge("shuffle_handover_outputs", outputs_help, static_cast<double>(s.outputs_moved),
             {{"state", "moved"}});
  page.Gauge("shuffle_handover_outputs", outputs_help, static_cast<double>(s.outputs_failed),
             {{"state", "failed"}});
  page.Gauge("shuffle_handover_outputs", outputs_help, static_cast<double>(s.outputs_left()),
             {{"state", "left"}});
  const std::string bytes_help =
      "Stored bytes of the map outputs of the current or last hand-over, by state.";
  page.Gauge("shuffle_handover_bytes", bytes_help, static_cast<double>(s.bytes_moved),
             {{"state", "moved"}});
  page.Gauge("shuffle_handover_bytes", bytes_help, static_cast<double>(s.bytes_failed),
             {{"state", "failed"}});
  page.Gauge("shuffle_handover_bytes", bytes_help, static_cast<double>(s.bytes_left()),
             {{"state", "left"}});
  page.Counter("shuffle_handover_moved_outputs_total", "Map outputs handed over to peers.",
               static_cast<double>(s.outputs_moved_total));
  page.Counter("shuffle_handover_moved_bytes_total",
               "Stored bytes of the map outputs handed over to peers.",
               static_cast<double>(s.bytes_moved_total));
  page.Counter("shuffle_handover_failed_outputs_total",
               "Map outputs a hand-over could not move (every peer failed, or the deadline).",
               static_cast<double>(s.outputs_failed_total));
}

}  // namespace

std::string RenderServerMetrics(const MetricsSources& sources) {
  PrometheusText page;
  StorageMetrics(*sources.engine, page);
  DirectoryMetrics(sources, page);
  if (sources.dataplane) {
    DataPlaneMetrics(sources.dataplane(), page);
  }
  if (sources.spark) {
    SparkEssMetrics(sources.spark(), page);
  }
  if (sources.handover != nullptr) {
    HandOverMetrics(sources.handover->snapshot(), page);
  }
  if (sources.token_reviews) {
    const TokenReviewStats t = sources.token_reviews();
    page.Counter("shuffle_token_reviews_total",
                 "Drivers' service-account tokens reviewed by the Kubernetes API server.",
                 static_cast<double>(t.reviews));
    page.Counter("shuffle_token_review_cache_hits_total",
                 "Registrations whose token a recent positive review vouched for.",
                 static_cast<double>(t.cache_hits));
    page.Counter("shuffle_token_reviews_refused_total",
                 "Registrations refused after a review (token not accepted, not a service "
                 "account, or no RBAC to register), or when the API server could not be asked.",
                 static_cast<double>(t.refused));
  }
  if (sources.adoption) {
    const AdoptionStats a = sources.adoption();
    page.Gauge("shuffle_adopted_nodes",
               "Lost nodes' data directories this server serves, adopted from the shared volume.",
               static_cast<double>(a.serving));
    page.Counter("shuffle_adoptions_total",
                 "Lost nodes' data directories this server adopted since it started.",
                 static_cast<double>(a.adoptions));
  }
  return page.Render();
}

}  // namespace shuffle::ops
