#include "shuffle-server/dataplane/listen.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shuffle/core/endpoint.h"
#include "shuffle/core/errno_status.h"
#include "shuffle/core/strings.h"

namespace shuffle::dataplane {
namespace {

using boost::asio::ip::tcp;
using core::ToAbsl;
using LocalProtocol = boost::asio::local::stream_protocol;

absl::Status ListenError(const absl::Status& status, std::string_view hint) {
  return absl::Status(status.code(), absl::StrCat("data plane cannot listen: ", status.message(),
                                                  "; ", ToAbsl(hint)));
}

// True when some process accepts connections on the socket at `path`.
bool SocketIsLive(const std::string& path) {
  boost::asio::io_context io;
  LocalProtocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(LocalProtocol::endpoint(path), ec);
  return !ec;
}

}  // namespace

absl::Status AsioErrorToStatus(const boost::system::error_code& ec, std::string_view operation,
                               std::string_view target) {
  if (ec.category() == boost::system::system_category() && ec.value() != 0) {
    return core::ErrnoToStatus(ec.value(), operation, target);
  }
  return absl::UnknownError(
      absl::StrCat(ToAbsl(operation), " ", ToAbsl(target), ": ", ec.message()));
}

absl::StatusOr<tcp::endpoint> ResolveListenAddress(boost::asio::io_context& io,
                                                   const std::string& address) {
  absl::StatusOr<core::Endpoint> parsed = core::Endpoint::Parse(address);
  if (!parsed.ok() || parsed->is_unix()) {
    return absl::InvalidArgumentError(absl::StrCat("data-plane listen address \"", address,
                                                   "\" is not host:port; write e.g. "
                                                   "0.0.0.0:7340 (port 0 picks a free port)"));
  }
  const std::string host = parsed->host().empty() ? "0.0.0.0" : parsed->host();
  const uint16_t port = parsed->port();
  boost::system::error_code ec;
  const boost::asio::ip::address ip = boost::asio::ip::make_address(host, ec);
  if (!ec) {
    return tcp::endpoint(ip, port);
  }
  tcp::resolver resolver(io);
  tcp::resolver::results_type results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data-plane listen address \"", address, "\": cannot resolve host \"", host,
                     "\": ", ec ? ec.message() : "no addresses", "; use an IP address"));
  }
  return results.begin()->endpoint();
}

absl::StatusOr<uint16_t> BindTcp(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                                 const std::string& address) {
  const std::string target = absl::StrCat("tcp ", address);
  boost::system::error_code ec;
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "socket", target), "check the process's limits");
  }
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "setsockopt SO_REUSEADDR", target),
                       "check the address family is supported");
  }
  if (acceptor.bind(endpoint, ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "bind", target),
                       "choose another listen_address, or stop the process using that port "
                       "(ports below 1024 need CAP_NET_BIND_SERVICE)");
  }
  if (acceptor.listen(LocalProtocol::acceptor::max_listen_connections, ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "listen", target), "choose another listen_address");
  }
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) {
    return ListenError(AsioErrorToStatus(ec, "getsockname", target), "report this as a bug");
  }
  return bound.port();
}

absl::Status BindUnix(LocalProtocol::acceptor& acceptor, const std::string& path) {
  const std::string target = absl::StrCat("unix socket ", path);
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data plane cannot listen on ", target, ": the path has ", path.size(),
                     " bytes, more than the ", sizeof(sockaddr_un::sun_path) - 1,
                     " a Unix socket path may have; choose a shorter socket_path"));
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data plane cannot listen on ", target,
                       ": the path exists and is not a socket; remove it or choose another "
                       "socket_path"));
    }
    if (SocketIsLive(path)) {
      return absl::AlreadyExistsError(
          absl::StrCat("data plane cannot listen on ", target,
                       ": another process is serving on it; stop that server or choose another "
                       "socket_path"));
    }
    if (unlink(path.c_str()) != 0) {
      return ListenError(core::ErrnoToStatus(errno, "removing stale socket", path),
                         "check the permissions of its directory");
    }
  } else if (errno != ENOENT) {
    return ListenError(core::ErrnoToStatus(errno, "lstat", path),
                       "check the socket directory exists and is accessible");
  }
  boost::system::error_code ec;
  if (acceptor.open(LocalProtocol(), ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "socket", target), "check the process's limits");
  }
  if (acceptor.bind(LocalProtocol::endpoint(path), ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "bind", target),
                       "check the directory exists and is writable by the server");
  }
  if (chmod(path.c_str(), 0666) != 0) {
    return ListenError(core::ErrnoToStatus(errno, "chmod 0666", path),
                       "executors could not connect; check the file system allows chmod");
  }
  if (acceptor.listen(LocalProtocol::acceptor::max_listen_connections, ec); ec) {
    return ListenError(AsioErrorToStatus(ec, "listen", target), "choose another socket_path");
  }
  return absl::OkStatus();
}

uint64_t SetSendBuffer(int fd, uint64_t bytes) {
  const int asked = static_cast<int>(std::min<uint64_t>(bytes, INT32_MAX / 2));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &asked, sizeof(asked)) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &asked, sizeof(asked));
  }
  int granted = 0;
  socklen_t length = sizeof(granted);
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &granted, &length) != 0 || granted <= 0) {
    return 0;
  }
  return static_cast<uint64_t>(granted) / 2;
}

}  // namespace shuffle::dataplane
