// LiveConnections: the connections a reader's fetchers have open, so that closing the reader, or
// its first failure, unblocks every fetcher at once instead of waiting out its I/O timeout.
//
// Thread-safe.
#ifndef SHUFFLE_CLIENT_LIVE_CONNECTIONS_H_
#define SHUFFLE_CLIENT_LIVE_CONNECTIONS_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-client/frame_connection.h"

namespace shuffle::client {

class LiveConnections {
 public:
  LiveConnections() = default;
  LiveConnections(const LiveConnections&) = delete;
  LiveConnections& operator=(const LiveConnections&) = delete;

  // Registers `conn` until Remove(). False once cancelled: the caller must not use `conn`.
  bool Add(FrameConnection* conn);
  void Remove(FrameConnection* conn);
  // Shuts down every registered connection and refuses new ones.
  void Cancel();
  bool cancelled() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<FrameConnection*> live_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shuffle::client

#endif  // SHUFFLE_CLIENT_LIVE_CONNECTIONS_H_
