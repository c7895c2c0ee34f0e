/// Options and identities shared by the shuffle client's writer and reader.
///
/// Plain value types; safe to copy and to share between threads.
#ifndef SHUFFLE_CLIENT_OPTIONS_H_
#define SHUFFLE_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>

#include "shuffle/core/compression.h"
#include "shuffle/core/ids.h"

namespace shuffle::client {

/// The shuffle a writer or reader works on, and the credentials of its application.
struct ShuffleHandle {
  std::string app_id;
  std::string token;  ///< application token from the driver; empty when the server is open
  core::ShuffleId shuffle{0};
  uint32_t num_partitions = 0;
};

struct ClientOptions {
  /// Server to push to: "host:port", or "unix:/path/to/socket". Empty: discover the node-local
  /// server from the environment (see discovery.h).
  std::string server;

  // --- writer
  uint32_t block_bytes = 256u << 10;  ///< raw record bytes per block, before compression
  /// Level for compression_codec (core::Compressor::Create); 0 disables compression.
  int compression_level = 1;
  core::Codec compression_codec = core::Codec::kZstd;  ///< kZstd or kLz4
  uint64_t push_batch_bytes = 4u << 20;
  uint32_t max_pushes_in_flight = 4;
  /// Record bytes a writer buffers across partitions before it cuts blocks early.
  uint64_t max_buffered_bytes = 64u << 20;
  /// Pushes carry the partition count, so a server that does not know the shuffle registers it
  /// (the application's token authorizes that). For engines whose driver does not register each
  /// shuffle with every node's server (the Spark plugin); off for drivers that do.
  bool register_shuffle_on_push = false;
  /// A writer whose server refuses connections (restarting) waits for it, with the retries and
  /// backoff below, instead of failing at once. For engines whose task retries are few and fast
  /// (Spark); the reference driver reschedules the task instead.
  bool writer_waits_for_server = false;
  /// A second copy: the data address ("host:port") of a server on another node that every block
  /// is also pushed to, and the map committed on. Commit() then returns only once the output is
  /// durable on both servers, with both places. Empty: one copy (docs/node-loss.md).
  std::string replica_server;

  // --- reader
  uint64_t max_bytes_in_flight = 64u << 20;  ///< decoded bytes fetched but not yet consumed
  uint32_t max_parallel_servers = 8;

  // --- both
  int64_t connect_timeout_ms = 5000;
  int64_t io_timeout_ms = 60000;
  int max_retries = 10;  ///< per server, for retryable errors (server restart, overload)
  int64_t initial_backoff_ms = 100;
  int64_t max_backoff_ms = 4000;
  uint32_t max_frame_payload = 64u << 20;

  // --- TLS, to servers reached over TCP (the node's Unix socket stays plaintext)
  /// PEM CA bundle that signs the servers' certificates. Empty: plaintext.
  std::string tls_ca_file;
  /// Mutual TLS: the client certificate and private key to present (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// The name the servers' certificates must carry; empty: the host of the address dialled.
  std::string tls_server_name;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_OPTIONS_H_
