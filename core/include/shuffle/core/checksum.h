// Block checksums. The project uses XXH3-64 (Debian's libxxhash): on the development machine it
// runs about twice as fast as single-lane hardware CRC32C (bench/micro/core_bench.cc; figures in
// docs/architecture.md). Stateless functions and a streaming hasher; the hasher is not
// thread-safe, the functions are.
#ifndef SHUFFLE_CORE_CHECKSUM_H_
#define SHUFFLE_CORE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace shuffle::core {

uint64_t Checksum64(const void* data, size_t size);
inline uint64_t Checksum64(std::string_view bytes) {
  return Checksum64(bytes.data(), bytes.size());
}

// Incremental form: Update() over pieces gives the same value as Checksum64 over their
// concatenation.
class StreamingChecksum {
 public:
  StreamingChecksum();
  ~StreamingChecksum();
  StreamingChecksum(const StreamingChecksum&) = delete;
  StreamingChecksum& operator=(const StreamingChecksum&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  uint64_t Digest() const;
  void Reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_CHECKSUM_H_
