#include "shuffle-server/server.h"

#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle-server/adoption/adopter.h"
#include "shuffle-server/control/control_server.h"
#include "shuffle-server/control/control_service.h"
#include "shuffle-server/control/drainer.h"
#include "shuffle-server/dataplane/server.h"
#include "shuffle-server/handover/handover.h"
#include "shuffle-server/idle_reaper.h"
#include "shuffle-server/ops/metrics_http_server.h"
#include "shuffle-server/ops/status_page.h"
#include "shuffle-server/security/token_review.h"
#include "shuffle-server/server_handover.h"
#include "shuffle-server/sparkess/server.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::server {
namespace {

using core::Kv;

constexpr auto kControlShutdownTimeout = std::chrono::seconds(5);

// `listen` ("HOST:PORT" from `flag`) with the port the listener really bound.
absl::StatusOr<core::Endpoint> Bound(std::string_view flag, const std::string& listen,
                                     uint16_t port) {
  absl::StatusOr<core::Endpoint> endpoint = core::Endpoint::Parse(listen);
  if (!endpoint.ok() || endpoint->is_unix()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", core::ToAbsl(flag), "=", listen, ": expected HOST:PORT (port 0 picks a free one)"));
  }
  return endpoint->WithPort(port);
}

std::chrono::steady_clock::time_point SteadyDeadline(absl::Time deadline) {
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(deadline - absl::Now());
}

// The data plane (dataplane/server.h) as a Listener.
class DataPlaneListener final : public Listener {
 public:
  static absl::StatusOr<std::unique_ptr<Listener>> Start(const ListenerContext& context) {
    const ServerOptions& options = *context.options;
    SHUFFLE_ASSIGN_OR_RETURN(std::string advertise, AdvertiseAddress(options, ProcessEnv));
    dataplane::DataPlaneOptions data_options = ToDataPlaneOptions(options, advertise);
    data_options.token_authority = context.tokens;
    data_options.tls = context.tls;
    data_options.control_port = context.control_port;
    SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<dataplane::DataPlaneServer> server,
                             dataplane::DataPlaneServer::Start(data_options, context.engine));
    auto listener = std::make_unique<DataPlaneListener>(std::move(server));
    if (!options.listen.empty()) {
      SHUFFLE_ASSIGN_OR_RETURN(listener->tcp_,
                               Bound("listen", options.listen, listener->server_->tcp_port()));
    }
    if (!options.socket_path.empty()) {
      listener->unix_ = core::Endpoint::Unix(options.socket_path);
    }
    return listener;
  }

  explicit DataPlaneListener(std::unique_ptr<dataplane::DataPlaneServer> server)
      : server_(std::move(server)) {}

  void Announce(core::ReadyFile* ready) const override {
    if (tcp_.has_value()) {
      ready->Set(core::ReadyFile::kData, *tcp_);
    }
    if (unix_.has_value()) {
      ready->Set(core::ReadyFile::kSocket, *unix_);
    }
  }
  void AddMetricsSources(ops::MetricsSources* sources) const override {
    sources->dataplane = [server = server_.get()] { return server->stats(); };
  }
  absl::Status Drain(absl::Time deadline) override {
    SHUFFLE_LOG(INFO) << "draining data plane"
                      << Kv("timeout_s", absl::ToDoubleSeconds(deadline - absl::Now()));
    return server_->Drain(SteadyDeadline(deadline));
  }
  void Stop() override { server_->Stop(); }  // logs "data plane stopped"

 private:
  std::unique_ptr<dataplane::DataPlaneServer> server_;
  std::optional<core::Endpoint> tcp_;
  std::optional<core::Endpoint> unix_;
};

// Spark's external shuffle service protocol (sparkess/server.h) as a Listener; on only with
// --spark-local-dirs-root. Its executor registry lives in the engine's index.
class SparkEssListener final : public Listener {
 public:
  static absl::StatusOr<std::unique_ptr<Listener>> Start(const ListenerContext& context) {
    std::optional<sparkess::SparkEssOptions> options = ToSparkEssOptions(*context.options);
    if (!options.has_value()) {
      return nullptr;  // off
    }
    SHUFFLE_ASSIGN_OR_RETURN(
        std::unique_ptr<sparkess::SparkEssServer> server,
        sparkess::SparkEssServer::Start(*options, context.engine->side_index()));
    SHUFFLE_ASSIGN_OR_RETURN(core::Endpoint bound,
                             Bound("spark-listen", options->listen_address, server->port()));
    return std::make_unique<SparkEssListener>(std::move(server), std::move(bound));
  }

  SparkEssListener(std::unique_ptr<sparkess::SparkEssServer> server, core::Endpoint bound)
      : server_(std::move(server)), bound_(std::move(bound)) {}

  void Announce(core::ReadyFile* ready) const override {
    ready->Set(core::ReadyFile::kSpark, bound_);
  }
  void AddMetricsSources(ops::MetricsSources* sources) const override {
    sources->spark = [server = server_.get()] { return server->stats(); };
  }
  // Spark's requests are reads of Spark's own files: nothing to finish before the engine stops.
  absl::Status Drain(absl::Time /*deadline*/) override { return absl::OkStatus(); }
  void Stop() override { server_->Stop(); }  // fetches in flight are cut; Spark's readers retry

 private:
  std::unique_ptr<sparkess::SparkEssServer> server_;
  core::Endpoint bound_;
};

void LogRecovery(const storage::RecoveryReport& r) {
  SHUFFLE_LOG(INFO) << "storage engine open" << Kv("epoch", r.epoch) << Kv("shuffles", r.shuffles)
                    << Kv("commits", r.commits) << Kv("extents", r.extents)
                    << Kv("extent_blocks", r.extent_blocks)
                    << Kv("log_regions_replayed", r.log_regions_replayed)
                    << Kv("log_blocks_replayed", r.log_blocks_replayed)
                    << Kv("log_blocks_already_in_extents", r.log_blocks_already_in_extents)
                    << Kv("corrupt_log_blocks", r.corrupt_log_blocks)
                    << Kv("bytes_truncated", r.bytes_truncated)
                    << Kv("orphan_dirs_removed", r.orphan_dirs_removed)
                    << Kv("duplicate_registrations_dropped", r.duplicate_registrations_dropped)
                    << Kv("seconds", r.seconds);
  if (r.corrupt_log_blocks > 0) {
    SHUFFLE_LOG(WARNING) << "recovery found corrupt commit-log blocks; the attempts they belong "
                            "to were not committed and will be re-run"
                         << Kv("corrupt_log_blocks", r.corrupt_log_blocks);
  }
}

// The status page's charts: one sample every 2 s, the last 10 minutes.
constexpr absl::Duration kStatusSampleInterval = absl::Seconds(2);
constexpr size_t kStatusSamples = 301;

// Who may read /status.json on a secured server: the operator (the secret admin calls take).
absl::Status StatusPageAccess(const std::string& secret, std::string_view given) {
  if (given.empty()) {
    return absl::UnauthenticatedError(
        "the status page's data needs the operator secret (the server's "
        "--registration-secret-file) as \"Authorization: Bearer SECRET\"");
  }
  if (!control::SecretMatches(secret, std::string(given))) {
    return absl::PermissionDeniedError("the operator secret is not valid for this server");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<security::TokenReviewer>> StartTokenReview(
    const ServerOptions& options) {
  security::TokenReviewOptions review;
  absl::StatusOr<kube::Config> api = options.kubeconfig.empty()
                                         ? kube::LoadInClusterConfig(kube::InClusterOptions{})
                                         : kube::LoadKubeconfig(kube::KubeconfigOptions{
                                               .path = options.kubeconfig, .context = ""});
  if (!api.ok()) {
    return core::Annotate(api.status(), "--token-review: the Kubernetes API server's address");
  }
  review.api = std::move(*api);
  if (!options.token_review_audience.empty()) {
    review.audiences = {options.token_review_audience};
  }
  review.cache_ttl = absl::Seconds(static_cast<int64_t>(options.token_review_cache_seconds));
  review.required_resource = options.token_review_resource;
  SHUFFLE_LOG(INFO) << "drivers' service-account tokens checked with TokenReview"
                    << Kv("api_server", review.api.server)
                    << Kv("required_resource", review.required_resource.empty()
                                                   ? std::string("none")
                                                   : review.required_resource)
                    << Kv("cache_seconds", options.token_review_cache_seconds);
  return security::TokenReviewer::Create(std::move(review));
}

// A lost node's adopted directory, served by a Server of its own in this process.
class AdoptedNodeServer final : public adoption::AdoptedServer {
 public:
  AdoptedNodeServer(std::unique_ptr<Server> server, const std::string& host)
      : server_(std::move(server)),
        data_(core::Endpoint::Tcp(host, server_->addresses().Find(core::ReadyFile::kData)->port())
                  .ToString()),
        control_(
            core::Endpoint::Tcp(host, server_->addresses().Find(core::ReadyFile::kControl)->port())
                .ToString()),
        commits_(server_->engine().recovery_report().commits) {}

  std::string data_address() const override { return data_; }
  std::string control_address() const override { return control_; }
  uint64_t commits_recovered() const override { return commits_; }

 private:
  std::unique_ptr<Server> server_;
  const std::string data_;
  const std::string control_;
  const uint64_t commits_;
};

}  // namespace

std::vector<ListenerFactory> StandardListeners() {
  return {DataPlaneListener::Start, SparkEssListener::Start};
}

// The running parts, in start order; destroyed in reverse.
struct Server::Parts {
  // The hand-over's progress (/metrics, the status page) and moves (GetMovedOutputs).
  handover::HandOverProgress handover_progress;
  handover::MoveLedger moves;
  std::string operator_secret;  // with tokens: --registration-secret-file's secret
  std::unique_ptr<security::TokenAuthority> tokens;
  std::unique_ptr<tls::ReloadingServerContext> tls;   // --tls-cert-file
  std::unique_ptr<security::TokenReviewer> reviewer;  // --token-review
  std::unique_ptr<storage::StorageEngine> engine;
  std::unique_ptr<adoption::Adopter> adopter;  // --adopt-root
  std::unique_ptr<control::Drainer> drainer;
  std::unique_ptr<control::ControlService> service;
  std::unique_ptr<control::ControlServer> control;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::unique_ptr<ops::ThroughputHistory> history;  // the status page's charts
  // HTTPS for /metrics and the status page: the same files, but no client certificate asked
  // (Prometheus and a browser through port-forward show none; the status page has its secret).
  std::unique_ptr<tls::ReloadingServerContext> metrics_tls;
  std::unique_ptr<ops::MetricsHttpServer> metrics;
  std::unique_ptr<IdleReaper> reaper;

  absl::Status OpenEngine(const ServerOptions& options);
  absl::Status StartControl(const ServerOptions& options);
  absl::Status StartMetrics(const ServerOptions& options);
};

absl::Status Server::Parts::OpenEngine(const ServerOptions& options) {
  SHUFFLE_LOG(INFO) << "opening storage engine" << Kv("data_dirs", options.data_dirs.size())
                    << Kv("first_data_dir", options.data_dirs.front());
  SHUFFLE_ASSIGN_OR_RETURN(engine, storage::StorageEngine::Open(ToEngineOptions(options)));
  LogRecovery(engine->recovery_report());
  if (const tls::ServerFiles files = TlsFiles(options); files.enabled()) {
    SHUFFLE_ASSIGN_OR_RETURN(tls, tls::ReloadingServerContext::Create(files));
    SHUFFLE_LOG(INFO) << "TLS on the TCP planes (data, control, metrics)"
                      << Kv("cert", files.cert_file)
                      << Kv("mutual", files.client_ca_file.empty() ? "no" : "yes");
  }
  if (options.secret_file.empty()) {
    SHUFFLE_LOG(WARNING) << "RUNNING UNAUTHENTICATED: no --secret-file, so any client can read, "
                            "write or delete any application's shuffle data";
    return absl::OkStatus();
  }
  SHUFFLE_ASSIGN_OR_RETURN(tokens, security::TokenAuthority::FromFile(options.secret_file));
  SHUFFLE_LOG(INFO) << "application tokens required" << Kv("secret_file", options.secret_file);
  return absl::OkStatus();
}

absl::Status Server::Parts::StartControl(const ServerOptions& options) {
  drainer = std::make_unique<control::Drainer>(
      engine.get(), absl::Seconds(static_cast<int64_t>(options.drain_timeout_seconds)));
  control::ControlServiceOptions control_options;
  control_options.node_name = options.node_name;
  control_options.data_dirs = options.data_dirs;
  control_options.drainer = drainer.get();
  control_options.token_authority = tokens.get();
  control_options.handover_progress = &handover_progress;
  control_options.moves = &moves;
  control_options.peer_tls = PeerTls(options);
  if (tokens != nullptr) {
    SHUFFLE_ASSIGN_OR_RETURN(operator_secret,
                             security::ReadSecretFile(options.registration_secret_file));
    control_options.registration_secret = operator_secret;
  }
  if (options.token_review) {
    SHUFFLE_ASSIGN_OR_RETURN(reviewer, StartTokenReview(options));
    control_options.token_reviewer = reviewer.get();
  }
  if (!options.adopt_root.empty()) {
    const std::string host = AdoptAdvertiseHost(options, ProcessEnv);
    adopter = std::make_unique<adoption::Adopter>(
        adoption::AdopterOptions{.root = options.adopt_root, .own_node = options.node_name},
        [options, host](const std::string& node, const std::string& dir)
            -> absl::StatusOr<std::unique_ptr<adoption::AdoptedServer>> {
          SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<Server> server,
                                   Server::Start(AdoptedServerOptions(options, node, dir)));
          return std::make_unique<AdoptedNodeServer>(std::move(server), host);
        });
    control_options.adopter = adopter.get();
    SHUFFLE_LOG(INFO) << "lost nodes' data can be adopted from the shared volume"
                      << Kv("root", options.adopt_root) << Kv("advertise_host", host);
  }
  service = std::make_unique<control::ControlService>(engine.get(), control_options);
  SHUFFLE_ASSIGN_OR_RETURN(control, control::ControlServer::Start(
                                        options.control_listen, service.get(), TlsFiles(options)));
  drainer->OnStart([server = control.get()] {
    SHUFFLE_LOG(INFO) << "health NOT_SERVING";
    server->SetServing(false);
  });
  return absl::OkStatus();
}

absl::Status Server::Parts::StartMetrics(const ServerOptions& options) {
  if (!options.metrics_listen.empty()) {
    ops::MetricsSources sources{.engine = engine.get(),
                                .data_dirs = options.data_dirs,
                                .env = storage::Env::Default(),
                                .dataplane = nullptr,
                                .spark = nullptr,
                                .handover = &handover_progress,
                                .token_reviews = nullptr,
                                .adoption = nullptr};
    for (const std::unique_ptr<Listener>& listener : listeners) {
      listener->AddMetricsSources(&sources);
    }
    if (adopter != nullptr) {
      sources.adoption = [a = adopter.get()] {
        return ops::AdoptionStats{.serving = a->serving(), .adoptions = a->adoptions()};
      };
    }
    if (reviewer != nullptr) {
      sources.token_reviews = [r = reviewer.get()] {
        const security::TokenReviewer::Stats s = r->stats();
        return ops::TokenReviewStats{
            .reviews = s.reviews, .cache_hits = s.cache_hits, .refused = s.refused};
      };
    }
    history = std::make_unique<ops::ThroughputHistory>(
        [sources] { return ops::SampleThroughput(sources); }, kStatusSampleInterval,
        kStatusSamples);
    const ops::StatusSources status{.metrics = sources,
                                    .node_name = options.node_name,
                                    .history = history.get(),
                                    .started = absl::Now(),
                                    .handover = [h = &handover_progress] {
                                      const handover::HandOverProgress::Snapshot s = h->snapshot();
                                      return ops::HandOverStatus{
                                          .started_unix_ms = s.started_unix_ms,
                                          .finished_unix_ms = s.finished_unix_ms,
                                          .maps = s.outputs,
                                          .moved = s.outputs_moved,
                                          .unmoved = s.outputs_failed,
                                          .bytes_moved = s.bytes_moved};
                                    }};
    ops::MetricsHttpServer::Pages pages{
        .metrics = [sources] { return ops::RenderServerMetrics(sources); },
        .status_json = [status] { return ops::RenderStatusJson(status); },
        .authorize = nullptr};
    if (tokens != nullptr) {
      pages.authorize = [secret = operator_secret](std::string_view given) {
        return StatusPageAccess(secret, given);
      };
    }
    if (tls::ServerFiles files = TlsFiles(options); files.enabled()) {
      files.client_ca_file.clear();
      SHUFFLE_ASSIGN_OR_RETURN(metrics_tls, tls::ReloadingServerContext::Create(files));
    }
    SHUFFLE_ASSIGN_OR_RETURN(
        metrics, ops::MetricsHttpServer::Start(options.metrics_listen, pages, metrics_tls.get()));
    SHUFFLE_LOG(INFO) << "serving metrics and the status page" << Kv("port", metrics->port())
                      << Kv("https", metrics_tls != nullptr)
                      << Kv("status_page_secured", tokens != nullptr);
  }
  if (options.app_ttl_minutes > 0) {
    reaper = std::make_unique<IdleReaper>(
        engine.get(), absl::Minutes(static_cast<int64_t>(options.app_ttl_minutes)));
  }
  return absl::OkStatus();
}

Server::Server(const ServerOptions& options)
    : options_(options), parts_(std::make_unique<Parts>()) {}

Server::~Server() { Stop(); }

storage::StorageEngine& Server::engine() const { return *parts_->engine; }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, const std::vector<ListenerFactory>& listeners) {
  auto server = std::unique_ptr<Server>(new Server(options));
  absl::Status started = server->StartAll(listeners);
  if (!started.ok()) {
    server->parts_.reset();  // in reverse start order, nothing to drain
    return started;
  }
  return server;
}

absl::Status Server::StartAll(const std::vector<ListenerFactory>& listeners) {
  Parts& p = *parts_;
  SHUFFLE_RETURN_IF_ERROR(p.OpenEngine(options_));
  SHUFFLE_RETURN_IF_ERROR(p.StartControl(options_));
  SHUFFLE_ASSIGN_OR_RETURN(core::Endpoint control,
                           Bound("control-listen", options_.control_listen, p.control->port()));
  addresses_.Set(core::ReadyFile::kControl, control);
  const ListenerContext context{.options = &options_,
                                .engine = p.engine.get(),
                                .tokens = p.tokens.get(),
                                .tls = p.tls.get(),
                                .control_port = p.control->port()};
  for (const ListenerFactory& start : listeners) {
    SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<Listener> listener, start(context));
    if (listener == nullptr) {
      continue;  // not configured
    }
    listener->Announce(&addresses_);
    p.listeners.push_back(std::move(listener));
  }
  SHUFFLE_RETURN_IF_ERROR(p.StartMetrics(options_));
  if (p.metrics != nullptr) {
    SHUFFLE_ASSIGN_OR_RETURN(core::Endpoint metrics,
                             Bound("metrics-listen", options_.metrics_listen, p.metrics->port()));
    addresses_.Set(core::ReadyFile::kMetrics, metrics);
  }
  if (!options_.ready_file.empty()) {
    SHUFFLE_RETURN_IF_ERROR(core::Annotate(addresses_.Write(options_.ready_file), "--ready-file"));
    SHUFFLE_LOG(INFO) << "wrote ready file" << Kv("path", options_.ready_file);
  }
  return absl::OkStatus();
}

void Server::Stop() {
  if (parts_ == nullptr) {
    return;
  }
  Parts& p = *parts_;
  const absl::Duration drain_timeout =
      absl::Seconds(static_cast<int64_t>(options_.drain_timeout_seconds));
  absl::Time deadline = absl::Now() + drain_timeout;
  // 1. The Drain RPC's procedure: no new writes, commits in flight finished, data synced.
  absl::StatusOr<storage::DrainReport> engine_drained = p.drainer->Drain(deadline);
  if (!engine_drained.ok()) {
    SHUFFLE_LOG(WARNING) << "storage did not drain in time; stopping anyway (acknowledged "
                            "commits are durable)"
                         << Kv("error", engine_drained.status().ToString());
  }
  // 1b. The node going away (--handover-on-stop): its outputs to peers, reads still served.
  if (HandOverOnStop(StopHandOverContext{.options = &options_,
                                         .engine = p.engine.get(),
                                         .tokens = p.tokens.get(),
                                         .operator_secret = p.operator_secret,
                                         .progress = &p.handover_progress,
                                         .moves = &p.moves})) {
    deadline = absl::Now() + drain_timeout;
  }
  // 2. The listeners' own requests in flight (fetches) and unwritten responses.
  for (const std::unique_ptr<Listener>& listener : p.listeners) {
    if (absl::Status drained = listener->Drain(deadline); !drained.ok()) {
      SHUFFLE_LOG(WARNING) << "listener did not drain; closing its connections anyway"
                           << Kv("error", drained.ToString());
    }
  }
  // 3. and 4.
  for (auto it = p.listeners.rbegin(); it != p.listeners.rend(); ++it) {
    (*it)->Stop();
  }
  p.control->Shutdown(std::chrono::system_clock::now() + kControlShutdownTimeout);
  p.listeners.clear();
  p.control.reset();
  p.service.reset();
  p.drainer.reset();
  if (p.adopter != nullptr) {
    p.adopter->Stop();  // each adopted directory's server drains and stops as this one did
  }
  // 5.
  SHUFFLE_LOG(INFO) << "closing storage engine";
  p.reaper.reset();
  p.metrics.reset();
  p.history.reset();
  p.adopter.reset();  // after /metrics, which reads its counts
  p.engine.reset();
  parts_.reset();
  if (!options_.ready_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options_.ready_file, ignored);
  }
}

}  // namespace shuffle::server
