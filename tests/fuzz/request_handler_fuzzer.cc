// Fuzzes dataplane::RequestHandler: the input's byte stream (see ChunkedInput) is decoded into
// frames as a connection would, and every push, commit and fetch request is handled against one
// StorageEngine (opened once, in a temporary directory, with one registered shuffle). Every
// response frame the handler sends, and the kError frame a failed request is answered with, must
// be exactly one well-formed response frame for the request.
//
// Bounded: the engine's memory budget is small and pushes wait at most 10 ms for memory; every
// kResetEvery inputs the shuffle is removed and registered again, so disk use stays bounded too.
// The directory is removed at exit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "shuffle-server/dataplane/handlers.h"
#include "shuffle-server/dataplane/options.h"
#include "shuffle-server/storage/engine.h"
#include "shuffle/core/files.h"
#include "shuffle/core/frame.h"
#include "shuffle/core/logging.h"
#include "tests/fuzz/fuzz_util.h"

namespace shuffle::fuzz {
namespace {

constexpr char kApp[] = "app-1";
constexpr uint32_t kShuffle = 1;
constexpr uint32_t kPartitions = 4;
constexpr uint64_t kResetEvery = 1024;

// The engine and handler, alive from LLVMFuzzerInitialize to exit.
struct Fixture {
  std::string dir;
  std::unique_ptr<storage::StorageEngine> engine;
  std::unique_ptr<dataplane::RequestHandler> handler;
  uint64_t inputs = 0;
  // Requests of each type (indexed by FrameType) handled, and those that succeeded.
  uint64_t handled[core::kMaxFrameType + 1] = {};
  uint64_t succeeded[core::kMaxFrameType + 1] = {};
};
Fixture* fixture = nullptr;

storage::ShuffleKey Key() {
  return storage::ShuffleKey{.app = core::AppId(kApp), .shuffle = core::ShuffleId(kShuffle)};
}

void TearDown() {
  if (fixture == nullptr) {
    return;
  }
  const auto count = [](core::FrameType type) {
    const auto i = static_cast<size_t>(type);
    return absl::StrCat(fixture->succeeded[i], "/", fixture->handled[i]);
  };
  std::fprintf(
      stderr, "request_handler_fuzzer: requests ok/handled: push %s, commit %s, fetch %s\n",
      count(core::FrameType::kPushRequest).c_str(), count(core::FrameType::kCommitRequest).c_str(),
      count(core::FrameType::kFetchRequest).c_str());
  fixture->handler.reset();
  fixture->engine.reset();
  std::error_code ignored;
  std::filesystem::remove_all(fixture->dir, ignored);
  delete fixture;
  fixture = nullptr;
}

// A tmpfs when there is one: commits fdatasync, and the fuzzer should not wait for a disk.
std::string MakeTempDir() {
  std::error_code error;
  const char* parent = std::filesystem::is_directory("/dev/shm", error) ? "/dev/shm" : "/tmp";
  absl::StatusOr<std::string> dir = core::MakeTempDir("shuffle-fuzz-", parent);
  SHUFFLE_FUZZ_CHECK(dir.ok());
  return *dir;
}

void SetUp() {
  core::SetLogLevel(core::LogLevel::kFatal);  // failed requests are the common case here
  fixture = new Fixture;
  fixture->dir = MakeTempDir();
  storage::EngineOptions options;
  options.data_dirs = {fixture->dir + "/d0", fixture->dir + "/d1"};
  options.extent_bytes = 16 << 10;
  options.direct_block_bytes = 4 << 10;
  options.memory_budget_bytes = 2 << 20;
  options.min_free_bytes = 0;
  options.max_read_bytes = 256 << 10;
  options.log_file_bytes = 256 << 10;
  options.direct_io = false;
  options.push_wait_ms = 10;
  absl::StatusOr<std::unique_ptr<storage::StorageEngine>> engine =
      storage::StorageEngine::Open(options);
  SHUFFLE_FUZZ_CHECK(engine.ok());
  fixture->engine = *std::move(engine);
  SHUFFLE_FUZZ_CHECK(fixture->engine->RegisterShuffle(Key(), "default", kPartitions).ok());
  dataplane::DataPlaneOptions dataplane;
  dataplane.node_name = "fuzz-node";
  dataplane.advertise_address = "127.0.0.1:7340";
  dataplane.fetch_frame_bytes = 16 << 10;
  fixture->handler = std::make_unique<dataplane::RequestHandler>(fixture->engine.get(), dataplane);
  // Registered after Open, so that it runs before the destructors of the statics RocksDB creates
  // on first use (exit handlers run in reverse order of registration).
  std::atexit(TearDown);
}

// Checks every frame a handler sends for request `request_id`.
class CheckingWriter : public dataplane::ResponseWriter {
 public:
  explicit CheckingWriter(uint64_t request_id) : request_id_(request_id) {}

  // A fetch's frames carry their payload as file ranges: read them to check the whole frame.
  absl::Status Send(dataplane::OutFrame frame) override {
    absl::StatusOr<std::string> bytes = frame.Flatten();
    SHUFFLE_FUZZ_CHECK(bytes.ok());
    CheckResponseFrame(*bytes, request_id_);
    return absl::OkStatus();
  }
  absl::Status SendWithBackpressure(dataplane::OutFrame frame) override {
    return Send(std::move(frame));
  }
  const std::string& peer() const override { return peer_; }

 private:
  const uint64_t request_id_;
  const std::string peer_ = "fuzz:0";
};

bool IsRequest(core::FrameType type) {
  return type == core::FrameType::kPushRequest || type == core::FrameType::kCommitRequest ||
         type == core::FrameType::kFetchRequest;
}

void Handle(core::Frame frame) {  // a copy: a push's payload is moved out
  CheckingWriter out(frame.request_id);
  const absl::Status status = fixture->handler->Handle(frame, out);
  ++fixture->handled[static_cast<size_t>(frame.type)];
  fixture->succeeded[static_cast<size_t>(frame.type)] += status.ok() ? 1 : 0;
  if (!status.ok()) {
    const core::Frame error =
        CheckResponseFrame(dataplane::EncodeErrorFrame(frame.request_id, status), frame.request_id);
    SHUFFLE_FUZZ_CHECK(error.type == core::FrameType::kError);
  }
}

void Run(const uint8_t* data, size_t size) {
  if (++fixture->inputs % kResetEvery == 0) {
    SHUFFLE_FUZZ_CHECK(fixture->engine->RemoveShuffle(Key()).ok());
    SHUFFLE_FUZZ_CHECK(fixture->engine->RegisterShuffle(Key(), "default", kPartitions).ok());
  }
  ChunkedInput input(data, size);
  core::FrameDecoder decoder(
      core::FrameLimits{.max_header_size = 4096, .max_payload_size = 1u << 20});
  for (std::string_view chunk = input.NextChunk(); !chunk.empty(); chunk = input.NextChunk()) {
    decoder.Append(chunk);
    while (true) {
      absl::StatusOr<std::optional<core::Frame>> next = decoder.Next();
      if (!next.ok()) {
        return;  // the connection would be closed: nothing after this is handled
      }
      if (!next->has_value()) {
        break;  // the next chunk is needed
      }
      if (IsRequest((*next)->type)) {
        Handle(**next);
      }
    }
  }
}

}  // namespace
}  // namespace shuffle::fuzz

// NOLINTBEGIN(readability-identifier-naming): libFuzzer's entry points.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  shuffle::fuzz::SetUp();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shuffle::fuzz::Run(data, size);
  return 0;
}
// NOLINTEND(readability-identifier-naming)
