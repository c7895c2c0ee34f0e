#include "shuffle-client/live_connections.h"

namespace shuffle::client {

bool LiveConnections::Add(FrameConnection* conn) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) {
    return false;
  }
  live_.insert(conn);
  return true;
}

void LiveConnections::Remove(FrameConnection* conn) {
  absl::MutexLock lock(&mu_);
  live_.erase(conn);
}

void LiveConnections::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (FrameConnection* conn : live_) {
    conn->Shutdown();
  }
}

bool LiveConnections::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

}  // namespace shuffle::client
