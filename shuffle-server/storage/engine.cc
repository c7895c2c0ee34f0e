#include "shuffle-server/storage/engine.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle/core/block.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::storage {

namespace {

uint64_t NowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

absl::StatusOr<std::unique_ptr<StorageEngine>> StorageEngine::Open(const EngineOptions& options) {
  if (options.data_dirs.empty()) {
    return absl::InvalidArgumentError("storage engine needs at least one data directory");
  }
  if (options.extent_bytes == 0 || options.memory_budget_bytes < options.extent_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("memory budget (", options.memory_budget_bytes,
                                                   " bytes) must be at least one extent (",
                                                   options.extent_bytes, " bytes)"));
  }
  auto impl = std::make_unique<Impl>(options);
  std::string index_dir = options.index_dir;
  if (index_dir.empty()) {
    index_dir = options.data_dirs[0] + "/index";
  }
  for (const std::string& dir : options.data_dirs) {
    SHUFFLE_RETURN_IF_ERROR(impl->env->CreateDirs(dir + "/shuffles"));
  }
  SHUFFLE_RETURN_IF_ERROR(impl->env->CreateDirs(index_dir));
  SHUFFLE_ASSIGN_OR_RETURN(impl->index, Index::Open(index_dir));
  SHUFFLE_ASSIGN_OR_RETURN(impl->io_engine, impl->env->NewIoEngine(options.queue_depth));
  {
    absl::MutexLock lock(&impl->mu);
    impl->disk_space.resize(options.data_dirs.size());
  }
  RecoveryReport report;
  SHUFFLE_RETURN_IF_ERROR(impl->Recover(&report));
  impl->RefreshDiskSpace();
  impl->io_thread = std::thread([raw = impl.get()] { raw->IoLoop(); });
  auto engine = std::unique_ptr<StorageEngine>(new StorageEngine(std::move(impl)));
  engine->recovery_ = report;
  engine->epoch_ = report.epoch;
  return engine;
}

StorageEngine::StorageEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Index* StorageEngine::side_index() { return impl_->index.get(); }

StorageEngine::~StorageEngine() {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
    impl_->work_cv.SignalAll();
  }
  if (impl_->io_thread.joinable()) {
    impl_->io_thread.join();
  }
}

std::string StorageEngine::Impl::ShuffleDir(uint32_t dir, uint64_t handle) const {
  return absl::StrCat(options.data_dirs[dir], "/shuffles/", handle);
}
std::string StorageEngine::Impl::SegmentPath(uint32_t dir, uint64_t handle) const {
  return ShuffleDir(dir, handle) + "/data.seg";
}
std::string StorageEngine::Impl::LogPath(uint32_t dir, uint64_t handle, uint32_t log_no) const {
  return absl::StrCat(ShuffleDir(dir, handle), "/commit-", log_no, ".log");
}

absl::Status StorageEngine::Impl::CreateShuffleFiles(ShuffleState& shuffle) {
  const uint64_t handle = shuffle.record.handle;
  shuffle.segments.resize(options.data_dirs.size());
  shuffle.dir_bytes.assign(options.data_dirs.size(), 0);
  for (uint32_t d = 0; d < options.data_dirs.size(); ++d) {
    SHUFFLE_RETURN_IF_ERROR(env->CreateDirs(ShuffleDir(d, handle)));
    SHUFFLE_RETURN_IF_ERROR(env->SyncDir(options.data_dirs[d] + "/shuffles"));
    SHUFFLE_RETURN_IF_ERROR(OpenSegment(shuffle, d));
    SHUFFLE_RETURN_IF_ERROR(env->SyncDir(ShuffleDir(d, handle)));
  }
  shuffle.log_dir = static_cast<uint32_t>(handle % options.data_dirs.size());
  SHUFFLE_ASSIGN_OR_RETURN(
      shuffle.log_files[shuffle.log_no],
      env->OpenFile(LogPath(shuffle.log_dir, handle, shuffle.log_no), {.create = true}));
  return env->SyncDir(ShuffleDir(shuffle.log_dir, handle));
}

absl::Status StorageEngine::Impl::OpenSegment(ShuffleState& shuffle, uint32_t dir) {
  const std::string path = SegmentPath(dir, shuffle.record.handle);
  SegmentFile& segment = shuffle.segments[dir];
  SHUFFLE_ASSIGN_OR_RETURN(segment.file,
                           env->OpenFile(path, {.create = true, .direct = options.direct_io}));
  if (segment.file->direct()) {
    SHUFFLE_ASSIGN_OR_RETURN(segment.serve_file,
                             env->OpenFile(path, {.create = false, .read_only = true}));
  }
  return absl::OkStatus();
}

ShufflePtr StorageEngine::Impl::FindShuffle(const ShuffleKey& key) {
  auto it = shuffles.find(key);
  return it == shuffles.end() ? nullptr : it->second;
}

absl::Status StorageEngine::RegisterShuffle(const ShuffleKey& key, std::string_view namespace_name,
                                            uint32_t num_partitions) {
  if (num_partitions == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shuffle ", DescribeKey(key), ": num_partitions must be at least 1"));
  }
  Impl& impl = *impl_;
  auto shuffle = std::make_shared<ShuffleState>();
  {
    absl::MutexLock lock(&impl.mu);
    if (impl.draining) {
      return impl.RefuseWhileDraining(absl::StrCat("registration of shuffle ", DescribeKey(key)));
    }
    if (ShufflePtr existing = impl.FindShuffle(key)) {
      if (existing->record.num_partitions != num_partitions) {
        return absl::AlreadyExistsError(
            absl::StrCat("shuffle ", DescribeKey(key), " is already registered with ",
                         existing->record.num_partitions, " partitions, not ", num_partitions));
      }
      return absl::OkStatus();
    }
    shuffle->record.handle = impl.next_handle++;
  }
  shuffle->record.app_id = key.app.value();
  shuffle->record.namespace_name = std::string(namespace_name);
  shuffle->record.shuffle_id = key.shuffle.value();
  shuffle->record.num_partitions = num_partitions;
  shuffle->record.created_unix_ms = NowUnixMs();
  shuffle->partitions.resize(num_partitions);
  SHUFFLE_RETURN_IF_ERROR(impl.CreateShuffleFiles(*shuffle));
  Index::Batch batch;
  batch.PutShuffle(shuffle->record);
  batch.PutNextHandle(shuffle->record.handle + 1);
  SHUFFLE_RETURN_IF_ERROR(impl.index->Write(batch, /*sync=*/true));
  absl::MutexLock lock(&impl.mu);
  if (ShufflePtr raced = impl.FindShuffle(key)) {
    // A concurrent registration of the same key won; ours is an unused handle.
    return raced->record.num_partitions == num_partitions
               ? absl::OkStatus()
               : absl::AlreadyExistsError(absl::StrCat("shuffle ", DescribeKey(key),
                                                       " registered concurrently with "
                                                       "another partition count"));
  }
  impl.shuffles[key] = shuffle;
  return absl::OkStatus();
}

absl::Status StorageEngine::Impl::CheckDiskSpace(uint32_t dir, uint64_t incoming) {
  const DiskSpace& space = disk_space[dir];
  if (space.capacity_bytes == 0) {
    return absl::OkStatus();  // not measured yet
  }
  const uint64_t pending = memory_bytes + incoming;
  if (space.free_bytes < options.min_free_bytes + pending) {
    ++stats.refused_low_disk;
    return absl::ResourceExhaustedError(
        absl::StrCat("data directory ", options.data_dirs[dir], " has ", space.free_bytes,
                     " bytes free, below the low-disk watermark of ", options.min_free_bytes,
                     " bytes plus ", pending,
                     " bytes pending: refusing new writes (free space or remove "
                     "finished applications)"));
  }
  return absl::OkStatus();
}

absl::Status StorageEngine::Impl::CheckQuota(const ShuffleState& shuffle, uint64_t incoming) {
  const std::string& ns = shuffle.record.namespace_name;
  const uint64_t quota = QuotaOf(ns);
  if (quota == 0) {
    return absl::OkStatus();
  }
  const uint64_t used = namespace_bytes[ns];
  if (used + incoming > quota) {
    ++stats.refused_quota;
    return absl::ResourceExhaustedError(absl::StrCat(
        "namespace ", ns, " would exceed its shuffle disk quota of ", quota, " bytes (uses ", used,
        ", push of ", incoming, "): remove finished applications or raise the quota"));
  }
  return absl::OkStatus();
}

void StorageEngine::Impl::DropBlock(PendingBlock& block) {
  if (block.state != BlockState::kDurable && !block.bytes.empty()) {
    memory_bytes -= block.bytes.size();
  }
  std::string().swap(block.bytes);
  block.state = BlockState::kDurable;
}

absl::Status StorageEngine::Push(const ShuffleKey& key, core::MapId map, core::AttemptId attempt,
                                 const std::vector<PushedBlock>& blocks) {
  uint64_t total = 0;
  uint64_t records = 0;
  for (const PushedBlock& block : blocks) {
    if (absl::Status st = core::VerifyBlock(block.bytes); !st.ok()) {
      return core::Annotate(
          st, absl::StrCat("shuffle ", DescribeKey(key), " map ", map.value(), " attempt ",
                           attempt.value(), " partition ", block.partition.value()));
    }
    total += block.bytes.size();
    records += core::ParseBlockHeader(block.bytes)->record_count;  // verified just above
  }
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  if (impl.draining) {
    return impl.RefuseWhileDraining(absl::StrCat("push to shuffle ", DescribeKey(key)));
  }
  ShufflePtr shuffle = impl.FindShuffle(key);
  if (shuffle == nullptr) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " is not registered"));
  }
  const uint32_t ndirs = static_cast<uint32_t>(impl.options.data_dirs.size());
  for (const PushedBlock& block : blocks) {
    if (block.partition.value() >= shuffle->record.num_partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("shuffle ", DescribeKey(key), " has ", shuffle->record.num_partitions,
                       " partitions; block for partition ", block.partition.value(), " refused"));
    }
  }
  if (auto winner = shuffle->winners.find(map.value()); winner != shuffle->winners.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "shuffle ", DescribeKey(key), " map ", map.value(), " was already committed by attempt ",
        winner->second.attempt, "; attempt ", attempt.value(), "'s output is not needed"));
  }
  for (const PushedBlock& block : blocks) {
    SHUFFLE_RETURN_IF_ERROR(impl.CheckDiskSpace(block.partition.value() % ndirs, total));
  }
  SHUFFLE_RETURN_IF_ERROR(impl.CheckQuota(*shuffle, total));
  // Backpressure: wait for the I/O thread to free memory.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(impl.options.push_wait_ms);
  while (impl.memory_bytes > 0 && impl.memory_bytes + total > impl.options.memory_budget_bytes &&
         !impl.stopping) {
    impl.pressure = true;
    impl.work_cv.Signal();
    if (impl.round_cv.WaitWithDeadline(&impl.mu, deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "shuffle server memory budget of ", impl.options.memory_budget_bytes,
          " bytes stayed exhausted for ", impl.options.push_wait_ms, " ms; retry the push"));
    }
  }
  if (shuffle->removed) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " was removed"));
  }
  if (impl.draining) {  // began while this push waited for memory
    return impl.RefuseWhileDraining(absl::StrCat("push to shuffle ", DescribeKey(key)));
  }
  AttemptState& state = shuffle->attempts[AttemptKey(map.value(), attempt.value())];
  if (!state.failure.ok()) {
    return state.failure;
  }
  if (state.committing) {
    return absl::FailedPreconditionError(absl::StrCat("shuffle ", DescribeKey(key), " map ",
                                                      map.value(), " attempt ", attempt.value(),
                                                      " is committing; no more pushes"));
  }
  bool wake = false;
  for (const PushedBlock& pushed : blocks) {
    auto block = std::make_shared<PendingBlock>();
    const uint32_t partition = pushed.partition.value();
    block->entry = BlockEntry{.map = map.value(),
                              .attempt = attempt.value(),
                              .epoch = impl.epoch,
                              .seq = state.next_seq++,
                              .partition = partition,
                              .length = static_cast<uint32_t>(pushed.bytes.size())};
    block->bytes.assign(pushed.bytes.data(), pushed.bytes.size());
    PartitionTotal& t = state.totals[partition];
    t.partition = partition;
    t.bytes += pushed.bytes.size();
    t.blocks += 1;
    state.blocks += 1;
    state.bytes += pushed.bytes.size();
    impl.memory_bytes += pushed.bytes.size();
    if (pushed.bytes.size() >= impl.options.direct_block_bytes) {
      state.direct_blocks.push_back(block);
      impl.direct_queue.emplace_back(shuffle, std::move(block));
      wake = true;
      continue;
    }
    state.small_blocks.push_back(block);
    PartitionBuffer& buffer = shuffle->partitions[partition];
    buffer.bytes += pushed.bytes.size();
    buffer.blocks.push_back(std::move(block));
    if (buffer.bytes >= impl.options.extent_bytes && !buffer.queued) {
      buffer.queued = true;
      impl.flush_queue.emplace_back(shuffle, partition);
      wake = true;
    }
  }
  impl.stats.blocks_pushed += blocks.size();
  impl.stats.bytes_pushed += total;
  impl.stats.records_pushed += records;
  shuffle->stored_bytes += total;
  impl.namespace_bytes[shuffle->record.namespace_name] += total;
  shuffle->last_activity = absl::Now();
  if (wake) {
    impl.work_cv.Signal();
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitResult> StorageEngine::Commit(const ShuffleKey& key,
                                                   const CommitRequest& request) {
  Impl& impl = *impl_;
  auto waiter = std::make_shared<CommitWaiter>();
  waiter->request = request;
  absl::MutexLock lock(&impl.mu);
  waiter->shuffle = impl.FindShuffle(key);
  if (waiter->shuffle == nullptr) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " is not registered"));
  }
  waiter->shuffle->last_activity = absl::Now();
  if (impl.stopping) {
    return absl::UnavailableError("storage engine is shutting down; retry on the restarted server");
  }
  if (impl.draining) {
    return impl.RefuseWhileDraining(absl::StrCat("commit to shuffle ", DescribeKey(key), " map ",
                                                 request.map.value(), " attempt ",
                                                 request.attempt.value()));
  }
  const core::Gate::Pass in_flight = impl.commits.Hold();  // Drain() waits for it
  impl.pending_commits.push_back(waiter);
  impl.work_cv.Signal();
  while (!waiter->done) {
    impl.round_cv.Wait(&impl.mu);
  }
  return waiter->result;
}

absl::Status StorageEngine::Impl::RefuseWhileDraining(std::string_view what) {
  ++stats.refused_draining;
  return absl::UnavailableError(absl::StrCat(
      core::ToAbsl(what),
      " refused: server draining (shutting down or drained for maintenance); it accepts no new "
      "pushes, commits or shuffles, reads still work: run the map attempt again on another "
      "server"));
}

absl::StatusOr<std::vector<ServedBlock>> StorageEngine::Read(const ShuffleKey& key,
                                                             const ReadRequest& request) {
  std::vector<ServedBlock> out;
  SHUFFLE_RETURN_IF_ERROR(impl_->Read(key, request, [&](std::vector<ServedBlock>&& batch) {
    for (ServedBlock& block : batch) {
      out.push_back(std::move(block));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<FetchPlan> StorageEngine::PlanFetch(const ShuffleKey& key,
                                                   const ReadRequest& request) {
  return impl_->PlanFetch(key, request);
}

}  // namespace shuffle::storage
