// Streaming a fetch's answer: the engine's FetchPlan cut into kFetchData frames, then kFetchEnd.
// Each frame's header lists its blocks (BlockOrigin) and its payload is their bytes, which stay
// in the segment files: the frame carries the file ranges holding them, sent with sendfile.
#ifndef SHUFFLE_SERVER_DATAPLANE_FETCH_STREAM_H_
#define SHUFFLE_SERVER_DATAPLANE_FETCH_STREAM_H_

#include <cstdint>

#include "absl/status/status.h"
#include "shuffle-server/dataplane/handlers.h"
#include "shuffle-server/storage/fetch_plan.h"

namespace shuffle::dataplane {

// Sends `plan` to `out` as kFetchData frames of about `frame_bytes` payload bytes (a block larger
// than that travels alone in its frame), cut at block boundaries, each queued with backpressure
// after the kernel was asked to start reading its ranges; then a kFetchEnd with the totals.
// Returns the first failure of `out` (CANCELLED when the connection closed).
// REQUIRES: frame_bytes > 0; plan.bytes equals both the blocks' and the ranges' total length.
absl::Status StreamFetch(uint64_t request_id, uint64_t frame_bytes, const storage::FetchPlan& plan,
                         ResponseWriter& out);

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_FETCH_STREAM_H_
