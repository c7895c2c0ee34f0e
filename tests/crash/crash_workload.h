// The workload and the verifier shared by the storage crash suites (storage_crash_test: SIGKILL
// at random instants; storage_power_loss_test: power cuts that drop unsynced data). A child
// process runs concurrent map attempts against an engine (small blocks, large direct blocks,
// speculative and abandoned attempts) and reports "intent" before each Commit call and "ack"
// after it returns, one write(2) per record on a pipe; after the crash the verifier reopens the
// engine (recovery) and checks:
//  - every acknowledged commit is served, complete and byte-exact (hence checksum-clean);
//  - nothing is served for an attempt that never called Commit (uncommitted data never leaks);
//  - at most one attempt of a map is served, and a map once served keeps the same attempt;
//  - every served attempt is served completely, with no duplicate block.
#ifndef TESTS_CRASH_CRASH_WORKLOAD_H_
#define TESTS_CRASH_CRASH_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "shuffle-server/storage/engine.h"

namespace shuffle::storage::crash {

inline constexpr uint32_t kPartitions = 6;
inline constexpr uint32_t kIterationsPerShuffle = 8;

// The shuffle that iteration `iteration` writes to.
inline uint32_t ShuffleOf(uint32_t iteration) { return iteration / kIterationsPerShuffle; }
ShuffleKey KeyOf(uint32_t shuffle);

// Writes one record to the pipe `fd` (a single write(2): atomic on a pipe).
void Report(int fd, const std::string& line);

struct Observed;

// A few maps of the previous iteration (same shuffle) that were not acknowledged: the next child
// runs them again with the same attempt numbers, as a client retries after a server restart
// (blocks of the crashed run must never mix with the new ones: the epoch keeps them apart).
std::vector<uint32_t> MapsToRetry(uint32_t iteration, const Observed& observed);

// The child's work for `iteration`: registers the iteration's shuffle ("R" record); runs the
// `retry` maps
// first; then three threads push and commit their maps, reporting on `fd`; then a read and a seal
// ("S" record). Returns when all is done (the caller waits for its crash). Errors that must not
// happen are reported as "E" records.
void RunWorkload(StorageEngine& engine, uint32_t iteration, const std::vector<uint32_t>& retry,
                 int fd);

struct Observed {
  std::set<std::pair<uint32_t, uint32_t>> intents;  // (map, attempt) that called Commit
  std::map<uint32_t, uint32_t> acked_winner;        // map -> winner attempt it was told
  std::map<uint32_t, uint32_t> served_winner;       // map -> attempt seen served
  std::set<uint32_t> registered;                    // shuffles whose RegisterShuffle returned OK
  std::set<uint32_t> sealed;                        // shuffles whose Seal returned OK
  std::vector<std::string> crashes;                 // "C" records: how the child crashed
  std::vector<std::string> errors;
};

// Adds the child's records to `observed`.
void ParseRecords(const std::string& text, Observed* observed);

// Reads everything the child of a pipe wrote until it closed.
std::string ReadPipe(int fd);

// True when a map of `iteration` had called Commit without an acknowledgement (the crash landed
// between the two).
bool CrashedMidCommit(const Observed& observed, uint32_t iteration);

// Opens the engine on `dir` (recovery), checks the invariants above for every shuffle up to the
// iteration's, and records what is served in `observed`. Fails the current test (gtest fatal
// failure) on a violation. When `engine_out` is given, the engine stays open in it.
void Verify(const EngineOptions& options, uint32_t iteration, Observed* observed,
            std::unique_ptr<StorageEngine>* engine_out = nullptr);

// Iterations and seed from SHUFFLE_CRASH_ITERATIONS / SHUFFLE_CRASH_SEED, with defaults.
uint32_t IterationsFromEnv(uint32_t fallback);
uint32_t SeedFromEnv(uint32_t fallback);

}  // namespace shuffle::storage::crash

#endif  // TESTS_CRASH_CRASH_WORKLOAD_H_
