// Opening the data plane's listeners: parsing "host:port", binding a TCP acceptor and a Unix
// domain socket (replacing a stale socket file, refusing to steal a live one), with errors that
// name the address or path and say what to do; and sizing an accepted socket's send buffer.
// Functions; not thread-safe with respect to the acceptor or socket they are given.
#ifndef SHUFFLE_SERVER_DATAPLANE_LISTEN_H_
#define SHUFFLE_SERVER_DATAPLANE_LISTEN_H_

#include <cstdint>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::dataplane {

// Converts an Asio error into a status at the boundary: "<operation> <target>: <reason>".
absl::Status AsioErrorToStatus(const boost::system::error_code& ec, std::string_view operation,
                               std::string_view target);

// Resolves "host:port" ("[v6]:port"; an empty host means every IPv4 interface).
absl::StatusOr<boost::asio::ip::tcp::endpoint> ResolveListenAddress(boost::asio::io_context& io,
                                                                    const std::string& address);

// Opens, binds and listens; returns the bound port.
absl::StatusOr<uint16_t> BindTcp(boost::asio::ip::tcp::acceptor& acceptor,
                                 const boost::asio::ip::tcp::endpoint& endpoint,
                                 const std::string& address);

// Removes a stale socket file at `path`, binds, makes the socket 0666 and listens.
absl::Status BindUnix(boost::asio::local::stream_protocol::acceptor& acceptor,
                      const std::string& path);

// Asks for a send buffer of `bytes` on the socket `fd`: SO_SNDBUFFORCE when the process may go
// past net.core.wmem_max (CAP_NET_ADMIN), else SO_SNDBUF, which the kernel caps there. Returns
// the bytes the socket may now hold, as the kernel grants them (getsockopt's SO_SNDBUF halved:
// the kernel doubles what it is asked for, for its bookkeeping); 0 when it cannot tell.
uint64_t SetSendBuffer(int fd, uint64_t bytes);

}  // namespace shuffle::dataplane

#endif  // SHUFFLE_SERVER_DATAPLANE_LISTEN_H_
