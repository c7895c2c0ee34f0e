// RunToCompletion: drives a batch of IoOps until every byte has moved or the op has failed.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "shuffle-server/storage/env.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::storage {
namespace {

const char* OperationName(IoKind kind) {
  switch (kind) {
    case IoKind::kRead:
      return "read";
    case IoKind::kWrite:
      return "write";
    case IoKind::kSync:
      return "fdatasync";
  }
  return "io";
}

// The progress of one caller's op.
struct Progress {
  size_t done = 0;  // bytes moved so far
  bool finished = false;
  absl::Status status;
};

std::string PathOf(const IoOp& op) { return op.file == nullptr ? "<null file>" : op.file->path(); }

// Applies the result of one (re)submission of `op` to `progress`.
void Account(const IoOp& op, const IoOp& attempt, Progress& progress) {
  const size_t remaining = op.length - progress.done;
  if (attempt.result < 0) {
    const int err = static_cast<int>(-attempt.result);
    if (op.kind == IoKind::kSync) {
      progress.status = core::ErrnoToStatus(err, OperationName(op.kind), PathOf(op));
    } else {
      progress.status = core::ErrnoToStatus(
          err, OperationName(op.kind),
          absl::StrCat(PathOf(op), " at offset ", attempt.offset, " (", attempt.length, " bytes)"));
    }
    progress.finished = true;
    return;
  }
  if (op.kind == IoKind::kSync) {
    progress.finished = true;
    return;
  }
  if (attempt.result == 0) {
    if (op.kind == IoKind::kRead) {
      progress.status = absl::DataLossError(absl::StrCat("unexpected end of file reading ",
                                                         PathOf(op), " at offset ", attempt.offset,
                                                         " (wanted ", remaining, " more bytes)"));
    } else {
      progress.status =
          absl::InternalError(absl::StrCat("write ", PathOf(op), " at offset ", attempt.offset,
                                           " made no progress (", remaining, " bytes left)"));
    }
    progress.finished = true;
    return;
  }
  progress.done += std::min(static_cast<size_t>(attempt.result), remaining);
  progress.finished = progress.done == op.length;
}

}  // namespace

absl::Status RunToCompletion(IoEngine& engine, std::span<IoOp> ops,
                             std::vector<absl::Status>* per_op) {
  std::vector<Progress> progress(ops.size());
  // Zero-length reads and writes have nothing to move.
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind != IoKind::kSync && ops[i].length == 0) {
      progress[i].finished = true;
    }
  }

  absl::Status engine_status;
  std::vector<IoOp> batch;
  std::vector<size_t> batch_index;  // batch[j] continues ops[batch_index[j]]
  while (engine_status.ok()) {
    batch.clear();
    batch_index.clear();
    for (size_t i = 0; i < ops.size(); ++i) {
      if (progress[i].finished) {
        continue;
      }
      IoOp attempt = ops[i];
      if (attempt.kind != IoKind::kSync) {
        attempt.offset += progress[i].done;
        attempt.buffer += progress[i].done;
        attempt.length -= progress[i].done;
      }
      attempt.result = 0;
      batch.push_back(attempt);
      batch_index.push_back(i);
    }
    if (batch.empty()) {
      break;
    }
    engine_status = engine.Submit(batch);
    if (!engine_status.ok()) {
      break;
    }
    for (size_t j = 0; j < batch.size(); ++j) {
      Account(ops[batch_index[j]], batch[j], progress[batch_index[j]]);
    }
  }

  absl::Status first_error;
  for (size_t i = 0; i < ops.size(); ++i) {
    Progress& p = progress[i];
    if (!p.finished) {
      // Only when the engine broke: the op may or may not have run.
      p.status = core::Annotate(engine_status, absl::StrCat(OperationName(ops[i].kind), " ",
                                                            PathOf(ops[i]), " not completed"));
    }
    // The caller's result is the number of bytes moved, also when the op failed part-way.
    ops[i].result = static_cast<int64_t>(p.done);
    if (first_error.ok() && !p.status.ok()) {
      first_error = p.status;
    }
  }
  if (per_op != nullptr) {
    per_op->clear();
    per_op->reserve(ops.size());
    for (Progress& p : progress) {
      per_op->push_back(std::move(p.status));
    }
  }
  return first_error;
}

}  // namespace shuffle::storage
