#include "shuffle-server/storage/catalog.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace shuffle::storage {

uint64_t ShuffleState::DirBytes(uint32_t dir) const {
  return segments.written(dir) + (dir == log.dir() ? log.bytes() : 0);
}

uint64_t ShuffleState::DiskBytes() const {
  uint64_t total = log.bytes();
  for (uint32_t d = 0; d < segments.dirs(); ++d) {
    total += segments.written(d);
  }
  return total;
}

std::string DescribeShuffle(const ShuffleState& shuffle) {
  return absl::StrCat(shuffle.record.app_id, "/", shuffle.record.shuffle_id);
}

std::string DescribeKey(const ShuffleKey& key) {
  return absl::StrCat(key.app.value(), "/", key.shuffle.value());
}

uint64_t QuotaOf(const EngineOptions& options, std::string_view namespace_name) {
  auto it = options.namespace_quota_bytes.find(std::string(namespace_name));
  return it != options.namespace_quota_bytes.end() ? it->second
                                                   : options.default_namespace_quota_bytes;
}

ShufflePtr Catalog::Find(const ShuffleKey& key) const {
  auto it = shuffles_.find(key);
  return it == shuffles_.end() ? nullptr : it->second;
}

void Catalog::Add(const ShuffleKey& key, ShufflePtr shuffle) {
  namespace_bytes_[shuffle->record.namespace_name] += shuffle->stored_bytes;
  shuffles_[key] = std::move(shuffle);
}

ShufflePtr Catalog::Remove(const ShuffleKey& key) {
  auto it = shuffles_.find(key);
  if (it == shuffles_.end()) {
    return nullptr;
  }
  ShufflePtr shuffle = std::move(it->second);
  shuffles_.erase(it);
  shuffle->removed = true;
  uint64_t& ns_bytes = namespace_bytes_[shuffle->record.namespace_name];
  ns_bytes -= std::min(ns_bytes, shuffle->stored_bytes);
  return shuffle;
}

absl::Status Catalog::CheckQuota(const ShuffleState& shuffle, uint64_t incoming) const {
  const std::string& ns = shuffle.record.namespace_name;
  const uint64_t quota = QuotaOf(options_, ns);
  if (quota == 0) {
    return absl::OkStatus();
  }
  auto it = namespace_bytes_.find(ns);
  const uint64_t used = it == namespace_bytes_.end() ? 0 : it->second;
  if (used + incoming > quota) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "namespace ", ns, " would exceed its shuffle disk quota of ", quota, " bytes (uses ", used,
        ", push of ", incoming, "): remove finished applications or raise the quota"));
  }
  return absl::OkStatus();
}

void Catalog::Charge(ShuffleState& shuffle, uint64_t bytes) {
  shuffle.stored_bytes += bytes;
  namespace_bytes_[shuffle.record.namespace_name] += bytes;
}

absl::Status Catalog::CheckNotCommitted(const ShuffleState& shuffle, core::MapId map,
                                        core::AttemptId attempt) {
  auto winner = shuffle.winners.find(map.value());
  if (winner == shuffle.winners.end()) {
    return absl::OkStatus();
  }
  return absl::AlreadyExistsError(absl::StrCat("shuffle ", DescribeShuffle(shuffle), " map ",
                                               map.value(), " was already committed by attempt ",
                                               winner->second.attempt, "; attempt ",
                                               attempt.value(), "'s output is not needed"));
}

absl::StatusOr<AttemptState*> Catalog::AttemptForPush(ShuffleState& shuffle, core::MapId map,
                                                      core::AttemptId attempt) {
  AttemptState& state = shuffle.attempts[AttemptKey(map.value(), attempt.value())];
  if (!state.failure.ok()) {
    return state.failure;
  }
  if (state.committing) {
    return absl::FailedPreconditionError(absl::StrCat("shuffle ", DescribeShuffle(shuffle), " map ",
                                                      map.value(), " attempt ", attempt.value(),
                                                      " is committing; no more pushes"));
  }
  return &state;
}

Catalog::CommitVerdict Catalog::JudgeCommit(ShuffleState& shuffle, const CommitRequest& req,
                                            bool map_in_round) {
  using Kind = CommitVerdict::Kind;
  const uint32_t map = req.map.value();
  const uint32_t attempt = req.attempt.value();
  const std::string what =
      absl::StrCat("shuffle ", DescribeShuffle(shuffle), " map ", map, " attempt ", attempt);
  auto done = [](absl::StatusOr<CommitResult> result) {
    return CommitVerdict{.kind = Kind::kDone, .result = std::move(result), .attempt = nullptr};
  };
  if (shuffle.removed) {
    return done(absl::NotFoundError(absl::StrCat(what, ": shuffle was removed")));
  }
  if (auto it = shuffle.winners.find(map); it != shuffle.winners.end()) {
    return done(CommitResult{.won = it->second.attempt == attempt, .winner = it->second});
  }
  if (map_in_round) {
    return CommitVerdict{
        .kind = Kind::kWait, .result = absl::UnknownError("waiting"), .attempt = nullptr};
  }
  if (req.num_partitions != shuffle.record.num_partitions) {
    return done(absl::InvalidArgumentError(absl::StrCat(what, ": commit names ", req.num_partitions,
                                                        " partitions, the shuffle has ",
                                                        shuffle.record.num_partitions)));
  }
  auto attempt_it = shuffle.attempts.find(AttemptKey(map, attempt));
  AttemptState* state = attempt_it == shuffle.attempts.end() ? nullptr : &attempt_it->second;
  const uint64_t have_blocks = state == nullptr ? 0 : state->blocks;
  const uint64_t have_bytes = state == nullptr ? 0 : state->bytes;
  if (state != nullptr && !state->failure.ok()) {
    return done(state->failure);
  }
  if (state != nullptr && state->committing) {
    return done(absl::FailedPreconditionError(absl::StrCat(what, " is already committing")));
  }
  if (have_blocks != req.expected_blocks || have_bytes != req.expected_bytes) {
    return done(absl::AbortedError(absl::StrCat(
        what, ": the server holds ", have_blocks, " blocks (", have_bytes,
        " bytes) of this attempt, the client pushed ", req.expected_blocks, " (",
        req.expected_bytes,
        " bytes); pushes were lost (server restart?): rerun the map as a new attempt")));
  }
  return CommitVerdict{
      .kind = Kind::kProceed, .result = absl::UnknownError("committing"), .attempt = state};
}

}  // namespace shuffle::storage
