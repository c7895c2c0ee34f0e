#include "shuffle-server/sparkess/server.h"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <list>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/dataplane/listen.h"
#include "shuffle-server/dataplane/send_file.h"
#include "shuffle-server/sparkess/connection.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::sparkess {
namespace {

using core::Kv;
namespace asio = boost::asio;

}  // namespace

struct SparkEssServer::Impl {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::ip::tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::list<std::weak_ptr<SparkConnection>> connections;  // guarded by mu
  bool stopped = false;                                   // guarded by mu
  uint16_t port = 0;

  // The reaper of idle applications.
  absl::Mutex reaper_mu;
  bool reaper_stop ABSL_GUARDED_BY(reaper_mu) = false;
  std::thread reaper;
};

absl::StatusOr<std::unique_ptr<SparkEssServer>> SparkEssServer::Start(
    const SparkEssOptions& options, storage::Index* index) {
  std::unique_ptr<RegistryStore> store = IndexRegistryStore(index);
  RegistryStore* raw = store.get();
  std::unique_ptr<SparkEssServer> server(new SparkEssServer());
  server->owned_store_ = std::move(store);
  SHUFFLE_RETURN_IF_ERROR(server->Init(options, raw));
  return server;
}

absl::StatusOr<std::unique_ptr<SparkEssServer>> SparkEssServer::Start(
    const SparkEssOptions& options, RegistryStore* store) {
  std::unique_ptr<SparkEssServer> server(new SparkEssServer());
  SHUFFLE_RETURN_IF_ERROR(server->Init(options, store));
  return server;
}

absl::Status SparkEssServer::Init(const SparkEssOptions& options, RegistryStore* store) {
  options_ = options;
  char real[PATH_MAX];
  if (options.local_dirs_root.empty() ||
      ::realpath(options.local_dirs_root.c_str(), real) == nullptr ||
      !std::filesystem::is_directory(real)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--spark-local-dirs-root='", options.local_dirs_root,
        "' must be an existing directory (the hostPath Spark executors keep spark.local.dir on)"));
  }
  SHUFFLE_ASSIGN_OR_RETURN(registry_, ExecutorRegistry::Open(real, store));
  SHUFFLE_ASSIGN_OR_RETURN(files_, BlockFiles::Open(real));
  if (!options.secret_file.empty() || !options.secrets_dir.empty()) {
    secrets_ = FileSecretSource(options.secret_file, options.secrets_dir);
  }
  service_ = Service{.registry = registry_.get(),
                     .files = files_.get(),
                     .counters = &counters_,
                     .secrets = secrets_.get(),
                     .next_stream_id = &next_stream_id_,
                     .aes_engine_version = options.aes_engine_version};
  // Stream ids start at a random point, as Spark's do, so a client cannot guess another
  // connection's (they are per connection here anyway).
  next_stream_id_ = static_cast<int64_t>(absl::ToUnixNanos(absl::Now()) & 0x7fffffff) * 1000;

  impl_ = std::make_unique<Impl>();
  SHUFFLE_ASSIGN_OR_RETURN(asio::ip::tcp::endpoint endpoint,
                           dataplane::ResolveListenAddress(impl_->io, options.listen_address));
  absl::StatusOr<uint16_t> port =
      dataplane::BindTcp(impl_->acceptor, endpoint, options.listen_address);
  if (!port.ok()) {
    return absl::Status(
        port.status().code(),
        absl::StrCat("Spark shuffle service listener (--spark-listen): ", port.status().message()));
  }
  impl_->port = *port;
  impl_->work.emplace(impl_->io.get_executor());
  Accept();
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    impl_->threads.emplace_back([this] {
      dataplane::BlockSigpipe();
      impl_->io.run();
    });
  }
  if (options.app_ttl_minutes > 0) {
    const absl::Duration ttl = absl::Minutes(static_cast<int64_t>(options.app_ttl_minutes));
    impl_->reaper = std::thread([this, ttl] {
      const absl::Duration period = std::min(ttl / 4, absl::Minutes(5));
      absl::MutexLock lock(&impl_->reaper_mu);
      while (!impl_->reaper_mu.AwaitWithTimeout(absl::Condition(&impl_->reaper_stop), period)) {
        impl_->reaper_mu.Unlock();
        ExpireIdleApplications(absl::Now());
        impl_->reaper_mu.Lock();
      }
    });
  }
  SHUFFLE_LOG(INFO) << "serving Spark's shuffle service protocol" << Kv("port", impl_->port)
                    << Kv("local_dirs_root", real)
                    << Kv("authentication", secrets_ != nullptr ? "required" : "off");
  return absl::OkStatus();
}

void SparkEssServer::Accept() {
  impl_->acceptor.async_accept(
      asio::make_strand(impl_->io),
      [this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted) {
          return;
        }
        if (!ec) {
          boost::system::error_code peer_ec;
          const auto remote = socket.remote_endpoint(peer_ec);
          std::string peer =
              peer_ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
          auto connection = std::make_shared<SparkConnection>(std::move(socket), std::move(peer),
                                                              &service_, options_.max_frame_bytes);
          {
            std::lock_guard<std::mutex> lock(impl_->mu);
            if (impl_->stopped) {
              return;
            }
            impl_->connections.remove_if([](const auto& w) { return w.expired(); });
            impl_->connections.push_back(connection);
          }
          connection->Start();
        }
        Accept();
      });
}

std::vector<std::string> SparkEssServer::ExpireIdleApplications(absl::Time now) {
  if (options_.app_ttl_minutes == 0) {
    return {};
  }
  const absl::Duration ttl = absl::Minutes(static_cast<int64_t>(options_.app_ttl_minutes));
  std::vector<std::pair<std::string, std::vector<Registration>>> removed =
      registry_->RemoveIdle(ttl, now);
  std::vector<std::string> ids;
  for (const auto& [app_id, registrations] : removed) {
    ids.push_back(app_id);
    counters_.Add(counters_.applications_expired);
    for (const Registration& r : registrations) {
      for (const std::string& dir : r.resolved.local_dirs) {
        std::error_code error;
        std::filesystem::remove_all(dir, error);  // never follows symlinks
        files_->Forget(dir + "/");
        if (error) {
          SHUFFLE_LOG(WARNING) << "cannot delete an expired Spark application's local dir"
                               << Kv("app", app_id) << Kv("dir", dir)
                               << Kv("error", error.message());
        }
      }
    }
    SHUFFLE_LOG(INFO) << "forgot idle Spark application and deleted its local dirs"
                      << Kv("app", app_id) << Kv("executors", registrations.size());
  }
  return ids;
}

void SparkEssServer::Stop() {
  if (impl_ == nullptr) {
    return;
  }
  std::list<std::weak_ptr<SparkConnection>> connections;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) {
      return;
    }
    impl_->stopped = true;
    connections.swap(impl_->connections);
  }
  {
    absl::MutexLock lock(&impl_->reaper_mu);
    impl_->reaper_stop = true;
  }
  if (impl_->reaper.joinable()) {
    impl_->reaper.join();
  }
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  for (auto& weak : connections) {
    if (auto c = weak.lock()) {
      c->Close();
    }
  }
  impl_->work.reset();
  impl_->io.stop();
  for (std::thread& t : impl_->threads) {
    t.join();
  }
  SHUFFLE_LOG(INFO) << "Spark shuffle service listener stopped";
}

SparkEssServer::~SparkEssServer() { Stop(); }

uint16_t SparkEssServer::port() const { return impl_ != nullptr ? impl_->port : 0; }

SparkEssStats SparkEssServer::stats() const {
  SparkEssStats s = counters_.Snapshot();
  s.registered_executors = registry_->executors();
  s.registered_applications = registry_->applications();
  return s;
}

}  // namespace shuffle::sparkess
