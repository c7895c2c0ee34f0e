// The engine's side of the block-device check (blockdev_check.sh): `run` drives the crash
// workload (tests/crash/crash_workload.h) on a data directory that lies on the write-logging
// device, recording every intent and acknowledgement with the monotonic time it was seen;
// `verify` opens the engine on the device as replayed at one flush (its recovery runs) and checks
// the workload's invariants against what had been acknowledged before that flush.
//
//   blockdev_workload run <dir> <records> <iterations>
//   blockdev_workload verify <dir> <records> <flush-ns> <last-iteration>
// Test-only.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle-server/storage/engine_test_util.h"
#include "shuffle/core/logging.h"
#include "tests/crash/crash_workload.h"

namespace shuffle::storage::crash {
namespace {

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Runs the workload; each record is stamped when this process reads it back from the pipe, which
// is after the engine acknowledged it (a later stamp only makes the check less demanding).
int Run(const std::string& dir, const std::string& records, uint32_t iterations) {
  core::SetLogLevel(core::LogLevel::kError);
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("pipe");
    return 1;
  }
  std::thread stamper([&] {
    FILE* out = std::fopen(records.c_str(), "w");
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1) {
      if (c != '\n') {
        line.push_back(c);
        continue;
      }
      std::fprintf(out, "%llu %s\n", static_cast<unsigned long long>(NowNs()), line.c_str());
      line.clear();
    }
    std::fclose(out);
  });
  {
    auto engine = StorageEngine::Open(testing::SmallOptions(dir));
    if (!engine.ok()) {
      std::fprintf(stderr, "open: %s\n", std::string(engine.status().message()).c_str());
      return 1;
    }
    for (uint32_t i = 0; i < iterations; ++i) {
      RunWorkload(**engine, i, {}, fds[1]);
    }
  }
  close(fds[1]);
  stamper.join();
  close(fds[0]);
  return 0;
}

struct VerifyArgs {
  std::string dir;
  std::string records;
  uint64_t flush_ns = 0;
  uint32_t last_iteration = 0;
};
VerifyArgs verify_args;

TEST(BlockDeviceCheck, RecoversWithEveryCommitAcknowledgedBeforeTheFlush) {
  std::ifstream in(verify_args.records);
  ASSERT_TRUE(in.good()) << "cannot read " << verify_args.records;
  std::string text;
  std::string line;
  size_t acked = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    unsigned long long ns = 0;
    std::string kind;
    fields >> ns >> kind;
    const std::string record = line.substr(line.find(' ') + 1);
    // Intents count whenever they were made (what may be served); acknowledgements and seals only
    // when seen before the flush (what must be served).
    if (kind == "I" || ns < verify_args.flush_ns) {
      text += record + "\n";
      acked += kind == "A" ? 1 : 0;
    }
  }
  Observed observed;
  ParseRecords(text, &observed);
  ASSERT_TRUE(observed.errors.empty()) << observed.errors.front();
  Verify(testing::SmallOptions(verify_args.dir), verify_args.last_iteration, &observed);
  std::printf("flush at %llu ns: %zu acknowledged commits checked, %zu maps served\n",
              static_cast<unsigned long long>(verify_args.flush_ns), acked,
              observed.served_winner.size());
}

}  // namespace
}  // namespace shuffle::storage::crash

int main(int argc, char** argv) {
  using shuffle::storage::crash::Run;
  using shuffle::storage::crash::verify_args;
  using shuffle::storage::crash::VerifyArgs;
  if (argc == 5 && std::string(argv[1]) == "run") {
    return Run(argv[2], argv[3], static_cast<uint32_t>(std::atoi(argv[4])));
  }
  if (argc == 6 && std::string(argv[1]) == "verify") {
    verify_args = VerifyArgs{.dir = argv[2],
                             .records = argv[3],
                             .flush_ns = std::strtoull(argv[4], nullptr, 10),
                             .last_iteration = static_cast<uint32_t>(std::atoi(argv[5]))};
    int gtest_argc = 1;
    ::testing::InitGoogleTest(&gtest_argc, argv);
    shuffle::core::SetLogLevel(shuffle::core::LogLevel::kWarning);
    return RUN_ALL_TESTS();
  }
  std::fprintf(stderr,
               "usage: blockdev_workload run <dir> <records> <iterations>\n"
               "       blockdev_workload verify <dir> <records> <flush-ns> <last-iteration>\n");
  return 2;
}
