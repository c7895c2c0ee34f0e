// StorageEngine's front: Open, RegisterShuffle, Push and Commit. The parts they drive are listed
// in engine_impl.h.
#include "shuffle-server/storage/engine.h"

#include <chrono>
#include <filesystem>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shuffle-server/storage/crash_points.h"
#include "shuffle-server/storage/engine_impl.h"
#include "shuffle-server/storage/sync_sites.h"
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

// mkdir -p, then fsync the parent of every directory it created and of `path` itself: a new
// directory's entry is durable only once its parent is synced, and RocksDB syncs the entries of
// its own directory, never that directory's entry in its parent.
absl::Status CreateDirsDurably(Env& env, const std::string& path) {
  std::filesystem::path existing = std::filesystem::path(path).lexically_normal();
  while (existing.has_parent_path() && existing != existing.root_path() &&
         !env.FileExists(existing.string())) {
    existing = existing.parent_path();
  }
  SHUFFLE_RETURN_IF_ERROR(env.CreateDirs(path));
  if (SyncRemoved(SyncSite::kOpenDirs)) {
    return absl::OkStatus();
  }
  std::filesystem::path dir = std::filesystem::path(path).lexically_normal();
  do {
    dir = dir.parent_path();
    SHUFFLE_RETURN_IF_ERROR(env.SyncDir(dir.string()));
  } while (dir != existing && dir.has_parent_path() && dir != dir.root_path());
  return absl::OkStatus();
}

// Every block verified (core::VerifyBlock); their total size and record count.
absl::StatusOr<PushTotals> VerifyPushedBlocks(const ShuffleKey& key, core::MapId map,
                                              core::AttemptId attempt,
                                              const std::vector<PushedBlock>& blocks) {
  PushTotals totals;
  for (const PushedBlock& block : blocks) {
    if (absl::Status st = core::VerifyBlock(block.bytes); !st.ok()) {
      return core::Annotate(
          st, absl::StrCat("shuffle ", DescribeKey(key), " map ", map.value(), " attempt ",
                           attempt.value(), " partition ", block.partition.value()));
    }
    totals.bytes += block.bytes.size();
    totals.records += core::ParseBlockHeader(block.bytes)->record_count;  // verified just above
  }
  return totals;
}

}  // namespace

StorageEngine::Impl::Impl(const EngineOptions& o)
    : options(o),
      env(o.env),
      layout(o.data_dirs),
      segment_store(o.env, &layout, o.direct_io),
      // A quarter of the memory budget: the extents of a round or two at full ingest.
      extent_buffers(o.memory_budget_bytes / 4),
      read_engines(o.env, o.queue_depth),
      catalog(options),
      buffers(WriteBuffers::Limits{.extent_bytes = o.extent_bytes,
                                   .direct_block_bytes = o.direct_block_bytes,
                                   .memory_budget_bytes = o.memory_budget_bytes}) {}

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
  for (uint32_t d = 0; d < impl->layout.dirs(); ++d) {
    SHUFFLE_RETURN_IF_ERROR(CreateDirsDurably(*impl->env, impl->layout.ShufflesRoot(d)));
  }
  SHUFFLE_RETURN_IF_ERROR(CreateDirsDurably(*impl->env, index_dir));
  impl->env->CrashPoint(crash_point::kOpenDirs);
  IndexOptions index_options;
  index_options.file_system = impl->env->IndexFileSystem();
  SHUFFLE_ASSIGN_OR_RETURN(impl->index, Index::Open(index_dir, index_options));
  // RocksDB deletes obsolete files at open without syncing its directory: sync it, so files a
  // crash brought back do not come back again and again.
  SHUFFLE_RETURN_IF_ERROR(impl->env->SyncDir(index_dir));
  SHUFFLE_ASSIGN_OR_RETURN(impl->io_engine, impl->env->NewIoEngine(options.queue_depth));
  SHUFFLE_ASSIGN_OR_RETURN(impl->sync_engine, impl->env->NewIoEngine(options.queue_depth));
  {
    absl::MutexLock lock(&impl->mu);
    impl->disk_space.resize(options.data_dirs.size());
  }
  RecoveryReport report;
  SHUFFLE_RETURN_IF_ERROR(impl->Recover(&report));
  impl->RefreshDiskSpace();
  impl->sync_thread = std::thread([raw = impl.get()] { raw->SyncLoop(); });
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
    impl_->io_thread.join();  // it waits for the sync thread to apply its last round
  }
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->sync_stop = true;
    impl_->sync_cv.SignalAll();
  }
  if (impl_->sync_thread.joinable()) {
    impl_->sync_thread.join();
  }
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
    // Another registration of this key is writing its record: judge this one by its outcome.
    while (impl.registering.contains(key)) {
      impl.registered_cv.Wait(&impl.mu);
    }
    if (impl.draining) {
      return impl.RefuseWhileDraining(absl::StrCat("registration of shuffle ", DescribeKey(key)));
    }
    if (ShufflePtr existing = impl.catalog.Find(key)) {
      if (existing->record.num_partitions != num_partitions) {
        return absl::AlreadyExistsError(
            absl::StrCat("shuffle ", DescribeKey(key), " is already registered with ",
                         existing->record.num_partitions, " partitions, not ", num_partitions));
      }
      return absl::OkStatus();
    }
    shuffle->record.handle = impl.catalog.AllocateHandle();
    impl.registering.insert(key);
  }
  absl::Cleanup registered = [&impl, &key] {
    absl::MutexLock lock(&impl.mu);
    impl.registering.erase(key);
    impl.registered_cv.SignalAll();
  };
  shuffle->record.app_id = key.app.value();
  shuffle->record.namespace_name = std::string(namespace_name);
  shuffle->record.shuffle_id = key.shuffle.value();
  shuffle->record.num_partitions = num_partitions;
  shuffle->record.created_unix_ms = NowUnixMs();
  shuffle->partitions.resize(num_partitions);
  const uint64_t handle = shuffle->record.handle;
  SHUFFLE_RETURN_IF_ERROR(impl.segment_store.Create(handle, &shuffle->segments));
  SHUFFLE_RETURN_IF_ERROR(shuffle->log.Create(*impl.env, impl.layout, handle));
  impl.env->CrashPoint(crash_point::kRegisterFiles);
  Index::Batch batch;
  batch.PutShuffle(shuffle->record);
  batch.PutNextHandle(handle + 1);
  SHUFFLE_RETURN_IF_ERROR(
      impl.index->Write(batch, /*sync=*/!SyncRemoved(SyncSite::kRegisterIndex)));
  impl.env->CrashPoint(crash_point::kRegisterIndexed);
  absl::MutexLock lock(&impl.mu);
  impl.catalog.Add(key, std::move(shuffle));  // `registering`: the only record of the key
  return absl::OkStatus();
}

absl::Status StorageEngine::Push(const ShuffleKey& key, core::MapId map, core::AttemptId attempt,
                                 const std::vector<PushedBlock>& blocks,
                                 const std::shared_ptr<const std::string>& payload) {
  SHUFFLE_ASSIGN_OR_RETURN(PushTotals totals, VerifyPushedBlocks(key, map, attempt, blocks));
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  SHUFFLE_ASSIGN_OR_RETURN(ShufflePtr shuffle,
                           impl.AdmitPush(key, map, attempt, blocks, totals.bytes));
  SHUFFLE_RETURN_IF_ERROR(impl.WaitForMemory(key, *shuffle, totals.bytes));
  SHUFFLE_ASSIGN_OR_RETURN(AttemptState * state, Catalog::AttemptForPush(*shuffle, map, attempt));
  impl.TakeBlocks(shuffle, *state, map, attempt, blocks, totals, payload);
  return absl::OkStatus();
}

absl::StatusOr<ShufflePtr> StorageEngine::Impl::AdmitPush(const ShuffleKey& key, core::MapId map,
                                                          core::AttemptId attempt,
                                                          const std::vector<PushedBlock>& blocks,
                                                          uint64_t total) {
  if (draining) {
    return RefuseWhileDraining(absl::StrCat("push to shuffle ", DescribeKey(key)));
  }
  ShufflePtr shuffle = catalog.Find(key);
  if (shuffle == nullptr) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " is not registered"));
  }
  for (const PushedBlock& block : blocks) {
    if (block.partition.value() >= shuffle->record.num_partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("shuffle ", DescribeKey(key), " has ", shuffle->record.num_partitions,
                       " partitions; block for partition ", block.partition.value(), " refused"));
    }
  }
  SHUFFLE_RETURN_IF_ERROR(Catalog::CheckNotCommitted(*shuffle, map, attempt));
  for (const PushedBlock& block : blocks) {
    SHUFFLE_RETURN_IF_ERROR(CheckDiskSpace(layout.DirOfPartition(block.partition.value()), total));
  }
  if (absl::Status quota = catalog.CheckQuota(*shuffle, total); !quota.ok()) {
    ++stats.refused_quota;
    return quota;
  }
  return shuffle;
}

absl::Status StorageEngine::Impl::WaitForMemory(const ShuffleKey& key, const ShuffleState& shuffle,
                                                uint64_t total) {
  // Backpressure: wait for the I/O thread to free memory.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(options.push_wait_ms);
  while (buffers.OverBudget(total) && !stopping) {
    buffers.NotePressure();
    work_cv.Signal();
    if (round_cv.WaitWithDeadline(&mu, deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "shuffle server memory budget of ", options.memory_budget_bytes,
          " bytes stayed exhausted for ", options.push_wait_ms, " ms; retry the push"));
    }
  }
  if (shuffle.removed) {
    return absl::NotFoundError(absl::StrCat("shuffle ", DescribeKey(key), " was removed"));
  }
  if (draining) {  // began while this push waited for memory
    return RefuseWhileDraining(absl::StrCat("push to shuffle ", DescribeKey(key)));
  }
  return absl::OkStatus();
}

void StorageEngine::Impl::TakeBlocks(const ShufflePtr& shuffle, AttemptState& state,
                                     core::MapId map, core::AttemptId attempt,
                                     const std::vector<PushedBlock>& blocks,
                                     const PushTotals& totals,
                                     const std::shared_ptr<const std::string>& payload) {
  bool wake = false;
  for (const PushedBlock& pushed : blocks) {
    auto block = std::make_shared<PendingBlock>();
    const uint32_t partition = pushed.partition.value();
    block->entry = BlockEntry{.map = map.value(),
                              .attempt = attempt.value(),
                              .epoch = epoch,
                              .seq = state.next_seq++,
                              .partition = partition,
                              .length = static_cast<uint32_t>(pushed.bytes.size())};
    if (payload != nullptr && buffers.IsDirect(pushed.bytes.size())) {
      block->ShareBytes(payload, pushed.bytes);  // an extent of its own: no copy
    } else {
      block->CopyBytes(pushed.bytes);  // small blocks must not pin a whole frame
    }
    PartitionTotal& t = state.totals[partition];
    t.partition = partition;
    t.bytes += pushed.bytes.size();
    t.blocks += 1;
    state.blocks += 1;
    state.bytes += pushed.bytes.size();
    (buffers.IsDirect(pushed.bytes.size()) ? state.direct_blocks : state.small_blocks)
        .push_back(block);
    wake = buffers.Add(shuffle, std::move(block)) || wake;
  }
  stats.blocks_pushed += blocks.size();
  stats.bytes_pushed += totals.bytes;
  stats.records_pushed += totals.records;
  catalog.Charge(*shuffle, totals.bytes);
  shuffle->last_activity = absl::Now();
  if (wake) {
    work_cv.Signal();
  }
}

absl::Status StorageEngine::Impl::CheckDiskSpace(uint32_t dir, uint64_t incoming) {
  const DiskSpace& space = disk_space[dir];
  if (space.capacity_bytes == 0) {
    return absl::OkStatus();  // not measured yet
  }
  const uint64_t pending = buffers.memory_bytes() + incoming;
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

absl::StatusOr<CommitResult> StorageEngine::Commit(const ShuffleKey& key,
                                                   const CommitRequest& request) {
  Impl& impl = *impl_;
  auto waiter = std::make_shared<CommitWaiter>();
  waiter->request = request;
  absl::MutexLock lock(&impl.mu);
  waiter->shuffle = impl.catalog.Find(key);
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
  while (!impl.CommitDone(waiter.get())) {
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
