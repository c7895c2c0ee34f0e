// ReadyFile: the contract between `shuffle-server --ready-file=PATH` and whoever launched it (the
// driver's local backend, the tests, the benchmarks, the Spark module's tests): once every
// listener is bound and serving, the server writes the addresses it really listens on (port 0
// becomes the bound port) to PATH, and removes the file when it stops cleanly. The format
// (docs/ready-file.md) is versioned and line-oriented:
//
//   version=1
//   data=127.0.0.1:40111
//   control=127.0.0.1:40112
//   metrics=127.0.0.1:40113
//   socket=unix:/run/shuffle/data.sock
//   spark=127.0.0.1:7337
//
// one KEY=VALUE a line, VALUE an Endpoint (endpoint.h) for the keys below; a listener that is off
// has no line; readers ignore keys they do not know, so a new listener is a new key, not a new
// version. The file is written under PATH.tmp and renamed, so it is complete once it exists.
// A plain value; thread-compatible. The functions are thread-safe.
#ifndef SHUFFLE_CORE_READY_FILE_H_
#define SHUFFLE_CORE_READY_FILE_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "shuffle/core/endpoint.h"

namespace shuffle::core {

class ReadyFile {
 public:
  // The version this code writes and the only one it reads. It changes only when a reader of
  // the old version would misread the file; new keys do not change it.
  static constexpr int kVersion = 1;

  // shuffle-server's listeners.
  static constexpr std::string_view kData = "data";        // data plane over TCP
  static constexpr std::string_view kSocket = "socket";    // data plane over a Unix socket
  static constexpr std::string_view kControl = "control";  // gRPC control plane
  static constexpr std::string_view kMetrics = "metrics";  // Prometheus /metrics, /healthz
  static constexpr std::string_view kSpark = "spark";      // Spark's shuffle-service protocol

  // Sets `key` (lower-case letters, digits and '-') to `endpoint`, replacing an earlier value.
  void Set(std::string_view key, const Endpoint& endpoint);
  // The endpoint of `key`; nullopt when the file has no such key (the listener is off).
  std::optional<Endpoint> Find(std::string_view key) const;
  // Every (key, endpoint), in the order set or read.
  const std::vector<std::pair<std::string, Endpoint>>& entries() const { return entries_; }

  // The file's text.
  std::string Format() const;
  // INVALID_ARGUMENT naming `origin` and the line for: a missing or unknown version, a line
  // without '=', a bad key, a malformed endpoint, a key given twice. Blank lines and lines
  // starting with '#' are skipped; unknown keys are ignored whatever their value.
  static absl::StatusOr<ReadyFile> Parse(std::string_view text, std::string_view origin);

  // Writes the file atomically (PATH.tmp, then rename).
  absl::Status Write(const std::string& path) const;
  // NOT_FOUND when there is no file (yet); else as Parse.
  static absl::StatusOr<ReadyFile> Read(const std::string& path);

 private:
  std::vector<std::pair<std::string, Endpoint>> entries_;
};

// Polls `path` every `poll` until the ready file appears, `deadline` passes (DEADLINE_EXCEEDED),
// or `alive` (called between polls; may be empty) returns an error, which is returned: the usual
// one is "the server exited". A file that exists but does not parse is an error at once.
absl::StatusOr<ReadyFile> AwaitReadyFile(
    const std::string& path, std::chrono::steady_clock::time_point deadline,
    const std::function<absl::Status()>& alive,
    std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_READY_FILE_H_
