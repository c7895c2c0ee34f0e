#include "shuffle-server/handover/handover.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "shuffle-server/handover/peers.h"
#include "shuffle-server/security/token_authority.h"
#include "shuffle/client/map_output_writer.h"
#include "shuffle/client/options.h"
#include "shuffle/core/block.h"
#include "shuffle/core/compression.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::handover {
namespace {

using core::Kv;

// Map ids asked of the engine per Lookup while listing a shuffle's committed maps.
constexpr uint32_t kMapsPerLookup = 4096;

// One committed map output to move.
struct Output {
  storage::ShuffleKey key;
  std::string namespace_name;
  uint32_t num_partitions = 0;
  core::MapId map{0};
  core::AttemptId attempt{0};
  uint64_t bytes = 0;
};

// The committed maps of one shuffle, by map id. Map ids are dense from 0 in every engine that
// uses this service, so the listing stops once it has found as many as the shuffle committed.
absl::StatusOr<std::vector<Output>> CommittedOutputs(storage::StorageEngine* engine,
                                                     const storage::ShuffleUsage& usage) {
  const storage::ShuffleKey key{.app = core::AppId(usage.record.app_id),
                                .shuffle = core::ShuffleId(usage.record.shuffle_id)};
  std::vector<Output> outputs;
  for (uint64_t first = 0; outputs.size() < usage.committed_maps && first <= UINT32_MAX;
       first += kMapsPerLookup) {
    std::vector<core::MapId> maps;
    for (uint64_t m = first; m < std::min<uint64_t>(first + kMapsPerLookup, 1ull << 32); ++m) {
      maps.push_back(core::MapId(static_cast<uint32_t>(m)));
    }
    SHUFFLE_ASSIGN_OR_RETURN(std::vector<storage::MapHolding> holdings,
                             engine->Lookup(key, core::PartitionId(0),
                                            core::PartitionId(usage.record.num_partitions), maps));
    for (const storage::MapHolding& h : holdings) {
      if (h.committed) {
        outputs.push_back(Output{.key = key,
                                 .namespace_name = usage.record.namespace_name,
                                 .num_partitions = usage.record.num_partitions,
                                 .map = h.map,
                                 .attempt = h.attempt,
                                 .bytes = h.bytes});
      }
    }
  }
  return outputs;
}

client::ClientOptions WriterOptions(const PeerServer& peer, const tls::ClientFiles& tls,
                                    absl::Time deadline) {
  client::ClientOptions o;
  o.server = peer.data_address;
  o.tls_ca_file = tls.ca_file;
  o.tls_cert_file = tls.cert_file;
  o.tls_key_file = tls.key_file;
  o.tls_server_name = tls.server_name;
  o.register_shuffle_on_push = true;  // the peer may not know the shuffle (a Spark application)
  o.max_retries = 3;
  const int64_t left_ms =
      std::max<int64_t>(1000, absl::ToInt64Milliseconds(deadline - absl::Now()));
  o.io_timeout_ms = std::min<int64_t>(o.io_timeout_ms, left_ms);
  o.connect_timeout_ms = std::min<int64_t>(o.connect_timeout_ms, left_ms);
  return o;
}

// Reads the output back from the engine and writes it to `peer` as the same attempt.
absl::StatusOr<client::MapStatus> CopyOutput(storage::StorageEngine* engine, const Output& out,
                                             const PeerServer& peer, const tls::ClientFiles& tls,
                                             const std::string& token, absl::Time deadline,
                                             uint64_t* bytes_read) {
  const client::ShuffleHandle handle{.app_id = out.key.app.value(),
                                     .token = token,
                                     .shuffle = out.key.shuffle,
                                     .num_partitions = out.num_partitions};
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<client::MapOutputWriter> writer,
                           client::MapOutputWriter::Open(WriterOptions(peer, tls, deadline), handle,
                                                         out.map, out.attempt));
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Decompressor> decompressor,
                           core::Decompressor::Create());
  std::string raw;
  for (uint32_t begin = 0; begin < out.num_partitions; begin += kPartitionsPerRead) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the hand-over's deadline passed while copying it");
    }
    const uint32_t end = std::min(out.num_partitions, begin + kPartitionsPerRead);
    SHUFFLE_ASSIGN_OR_RETURN(
        std::vector<storage::ServedBlock> blocks,
        engine->Read(out.key, storage::ReadRequest{.partition_begin = core::PartitionId(begin),
                                                   .partition_end = core::PartitionId(end),
                                                   .maps = {out.map}}));
    for (const storage::ServedBlock& block : blocks) {
      if (block.origin.attempt != out.attempt.value()) {
        return absl::InternalError("the engine served another attempt than the committed one");
      }
      SHUFFLE_ASSIGN_OR_RETURN(core::BlockHeader header, core::ParseBlockHeader(block.bytes));
      raw.clear();
      SHUFFLE_RETURN_IF_ERROR(core::DecodeBlock(block.bytes, decompressor.get(), &raw));
      SHUFFLE_RETURN_IF_ERROR(
          writer->WriteBlock(core::PartitionId(block.origin.partition), raw, header.record_count));
      *bytes_read += block.bytes.size();
    }
  }
  SHUFFLE_ASSIGN_OR_RETURN(client::MapOutputWriter::CommitResult committed, writer->Commit());
  // Not won: the peer already serves another attempt of this map (a replica, an earlier
  // hand-over); that attempt's output is as good, and it is the one readers get there.
  return committed.status;
}

}  // namespace

absl::StatusOr<HandOverReport> HandOver(storage::StorageEngine* engine,
                                        const HandOverOptions& options) {
  const absl::Time start = absl::Now();
  HandOverProgress unreported;
  HandOverProgress& progress = options.progress != nullptr ? *options.progress : unreported;
  progress.Start();
  // Finished however it ends (an error before the copies: no peer answered...).
  struct MarkFinished {
    HandOverProgress& progress;
    ~MarkFinished() { progress.Finish(); }
  } mark_finished{progress};
  SHUFFLE_ASSIGN_OR_RETURN(
      PeerChoice choice,
      PeerChoice::Ask(options.peers, options.operator_secret, options.peer_tls, options.deadline));
  HandOverReport report;
  std::vector<Output> outputs;
  for (const storage::ShuffleUsage& usage : engine->Usage()) {
    SHUFFLE_ASSIGN_OR_RETURN(std::vector<Output> shuffle_outputs, CommittedOutputs(engine, usage));
    outputs.insert(outputs.end(), shuffle_outputs.begin(), shuffle_outputs.end());
  }
  report.maps = outputs.size();
  uint64_t total_bytes = 0;
  for (const Output& out : outputs) {
    total_bytes += out.bytes;
  }
  progress.SetTotals(outputs.size(), total_bytes);
  SHUFFLE_LOG(INFO) << "hand-over started" << Kv("maps", report.maps) << Kv("bytes", total_bytes)
                    << Kv("peers", options.peers.size());
  for (const Output& out : outputs) {
    const bool secured = options.tokens != nullptr && !options.tokens->open();
    const std::string token =
        secured ? options.tokens->Issue(out.key.app.value(), out.namespace_name) : "";
    absl::Status last =
        absl::DeadlineExceededError("the hand-over's deadline passed before this output's turn");
    bool moved = false;
    for (size_t peer : choice.Ranked()) {
      if (absl::Now() >= options.deadline) {
        break;
      }
      uint64_t bytes = 0;
      absl::StatusOr<client::MapStatus> status = CopyOutput(
          engine, out, choice.peer(peer), options.peer_tls, token, options.deadline, &bytes);
      if (status.ok()) {
        choice.Charge(peer, bytes);
        report.bytes_moved += bytes;
        report.moved.push_back(MovedOutput{.app_id = out.key.app.value(), .status = *status});
        progress.Moved(out.bytes);
        moved = true;
        break;
      }
      last = core::Annotate(status.status(),
                            absl::StrCat("copying to ", choice.peer(peer).data_address));
      SHUFFLE_LOG(WARNING) << "hand-over: a copy failed" << Kv("app", out.key.app.value())
                           << Kv("shuffle", out.key.shuffle.value()) << Kv("map", out.map.value())
                           << Kv("error", last.ToString());
    }
    if (!moved) {
      progress.Failed(out.bytes);
      report.unmoved.push_back(UnmovedOutput{.app_id = out.key.app.value(),
                                             .shuffle = out.key.shuffle,
                                             .map = out.map,
                                             .error = last});
    }
    const size_t done = report.moved.size() + report.unmoved.size();
    if (done % 64 == 0 || done == outputs.size()) {
      SHUFFLE_LOG(INFO) << "hand-over progress" << Kv("done", done) << Kv("maps", report.maps)
                        << Kv("moved", report.moved.size()) << Kv("unmoved", report.unmoved.size())
                        << Kv("bytes_moved", report.bytes_moved);
    }
  }
  report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  SHUFFLE_LOG(INFO) << "hand-over done" << Kv("maps", report.maps)
                    << Kv("moved", report.moved.size()) << Kv("unmoved", report.unmoved.size())
                    << Kv("bytes_moved", report.bytes_moved) << Kv("seconds", report.seconds);
  return report;
}

}  // namespace shuffle::handover
