#include "shuffle/core/endpoint.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {
namespace {

constexpr std::string_view kExpected =
    "expected HOST:PORT (IPv6 as [ADDRESS]:PORT) or unix:/PATH, e.g. 127.0.0.1:7337";

absl::Status Bad(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("address \"", ToAbsl(text), "\": ", ToAbsl(problem), "; ", ToAbsl(kExpected)));
}

absl::StatusOr<std::string> ParseHost(std::string_view text, std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return Bad(text, "unbalanced brackets around the host");
    }
    return std::string(host.substr(1, host.size() - 2));
  }
  if (host.find(':') != std::string_view::npos) {
    return Bad(text, "an IPv6 address needs brackets");
  }
  if (host.find_first_of(" \t/[]") != std::string_view::npos) {
    return Bad(text, "the host has a character no host name has");
  }
  return std::string(host);
}

}  // namespace

absl::StatusOr<Endpoint> Endpoint::Parse(std::string_view text) {
  if (text.substr(0, kUnixPrefix.size()) == kUnixPrefix) {
    const std::string_view path = text.substr(kUnixPrefix.size());
    if (path.empty()) {
      return Bad(text, "the Unix socket path is empty");
    }
    if (path.size() > kMaxUnixPath) {
      return Bad(text, absl::StrCat("the Unix socket path is longer than ", kMaxUnixPath,
                                    " bytes; choose a shorter one"));
    }
    return Unix(std::string(path));
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || text.find(']', colon) != std::string_view::npos) {
    return Bad(text, "no port");
  }
  uint32_t port = 0;
  const std::string_view digits = text.substr(colon + 1);
  if (digits.empty() || !absl::SimpleAtoi(ToAbsl(digits), &port) || port > 65535 ||
      digits.front() == '+' || digits.front() == '-') {
    return Bad(text, "the port is not a number from 0 to 65535");
  }
  absl::StatusOr<std::string> host = ParseHost(text, text.substr(0, colon));
  if (!host.ok()) {
    return host.status();
  }
  return Tcp(*std::move(host), static_cast<uint16_t>(port));
}

absl::StatusOr<Endpoint> Endpoint::ParseWithDefaultPort(std::string_view text,
                                                        uint16_t default_port) {
  absl::StatusOr<Endpoint> full = Parse(text);
  if (full.ok() || text.empty() || text.substr(0, kUnixPrefix.size()) == kUnixPrefix) {
    return full;
  }
  // A bare host: an IPv6 address may come with or without brackets.
  const bool bracketed = text.front() == '[';
  if (!bracketed && text.find(':') != text.rfind(':')) {  // two colons or more: IPv6
    return Tcp(std::string(text), default_port);
  }
  absl::StatusOr<std::string> host = ParseHost(text, text);
  if (!host.ok()) {
    return full.status();
  }
  return Tcp(*std::move(host), default_port);
}

Endpoint Endpoint::Tcp(std::string host, uint16_t port) {
  Endpoint e;
  e.host_ = std::move(host);
  e.port_ = port;
  return e;
}

Endpoint Endpoint::Unix(std::string path) {
  Endpoint e;
  e.unix_ = true;
  e.path_ = std::move(path);
  return e;
}

Endpoint Endpoint::WithPort(uint16_t port) const {
  SHUFFLE_CHECK(!unix_) << "WithPort on Unix socket endpoint " << ToString();
  return Tcp(host_, port);
}

std::string Endpoint::BracketedHost() const { return BracketHost(host_); }

std::string Endpoint::ToString() const {
  if (unix_) {
    return absl::StrCat(ToAbsl(kUnixPrefix), path_);
  }
  return absl::StrCat(BracketHost(host_), ":", port_);
}

std::string BracketHost(std::string_view host) {
  if (host.find(':') != std::string_view::npos && host.front() != '[') {
    return absl::StrCat("[", ToAbsl(host), "]");
  }
  return std::string(host);
}

}  // namespace shuffle::core
