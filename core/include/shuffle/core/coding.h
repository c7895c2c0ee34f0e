// Fixed-width little-endian encoding of integers into byte buffers, used by the frame, block and
// on-disk formats. Pure functions; safe from any thread.
#ifndef SHUFFLE_CORE_CODING_H_
#define SHUFFLE_CORE_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

namespace shuffle::core {

// The project's on-disk and wire formats are little-endian; this build supports only
// little-endian hosts.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");

inline void EncodeFixed16(char* dst, uint16_t v) { std::memcpy(dst, &v, sizeof(v)); }
inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, sizeof(v)); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, sizeof(v)); }

inline uint16_t DecodeFixed16(const char* src) {
  uint16_t v;
  std::memcpy(&v, src, sizeof(v));
  return v;
}
inline uint32_t DecodeFixed32(const char* src) {
  uint32_t v;
  std::memcpy(&v, src, sizeof(v));
  return v;
}
inline uint64_t DecodeFixed64(const char* src) {
  uint64_t v;
  std::memcpy(&v, src, sizeof(v));
  return v;
}

// Big-endian encoding, for keys whose byte order must follow numeric order (RocksDB keys).
inline void PutBigEndian32(std::string* dst, uint32_t v) {
  char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                 static_cast<char>(v)};
  dst->append(buf, sizeof(buf));
}
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  PutBigEndian32(dst, static_cast<uint32_t>(v >> 32));
  PutBigEndian32(dst, static_cast<uint32_t>(v));
}
inline uint32_t GetBigEndian32(const char* src) {
  const auto* p = reinterpret_cast<const unsigned char*>(src);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint64_t GetBigEndian64(const char* src) {
  return (uint64_t{GetBigEndian32(src)} << 32) | GetBigEndian32(src + 4);
}

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_CODING_H_
