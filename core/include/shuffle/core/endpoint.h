// Endpoint: the address a process listens on or connects to, in the one syntax every component
// writes and reads: a TCP "HOST:PORT" (HOST a name, an IPv4 address, an IPv6 address in brackets
// "[fd00::1]:7337", or empty for every interface) or a Unix socket "unix:/path". Parsing refuses
// anything else with an error that quotes the text and shows the expected form. A plain value;
// thread-compatible.
#ifndef SHUFFLE_CORE_ENDPOINT_H_
#define SHUFFLE_CORE_ENDPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shuffle::core {

class Endpoint {
 public:
  // "unix:" followed by a path of at most kMaxUnixPath bytes (the kernel's sun_path less its NUL).
  static constexpr std::string_view kUnixPrefix = "unix:";
  static constexpr size_t kMaxUnixPath = 107;

  // INVALID_ARGUMENT naming the text for: no ":PORT", a port that is not a number from 0 to
  // 65535, an IPv6 address without brackets, an empty or too long Unix socket path.
  static absl::StatusOr<Endpoint> Parse(std::string_view text);
  // "HOST" or "HOST:PORT": a bare host takes `default_port`.
  static absl::StatusOr<Endpoint> ParseWithDefaultPort(std::string_view text,
                                                       uint16_t default_port);
  // `host` without brackets ("::1", not "[::1]").
  static Endpoint Tcp(std::string host, uint16_t port);
  static Endpoint Unix(std::string path);

  bool is_unix() const { return unix_; }
  // TCP: the host without brackets ("" for every interface); Unix: "".
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  // Unix: the socket's path; TCP: "".
  const std::string& path() const { return path_; }

  // The same host with another port (after binding port 0). REQUIRES: !is_unix().
  Endpoint WithPort(uint16_t port) const;
  // "HOST:PORT" ("[v6]:PORT") or "unix:/path"; Parse(ToString()) gives this endpoint back.
  std::string ToString() const;
  // The host as it appears before ":PORT": IPv6 addresses in brackets.
  std::string BracketedHost() const;

  friend bool operator==(const Endpoint& a, const Endpoint& b) = default;

 private:
  Endpoint() = default;
  bool unix_ = false;
  std::string host_;
  uint16_t port_ = 0;
  std::string path_;
};

// "[fd00::1]" for an IPv6 address, else `host` unchanged.
std::string BracketHost(std::string_view host);

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_ENDPOINT_H_
