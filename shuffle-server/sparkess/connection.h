// One Spark client connection of the SparkEssServer: read what arrived, handle each whole frame
// (Session), write every reply, read again. Lives in a shared_ptr; its handlers run on its
// strand. Thread-safety: Close() may be called from any thread; the rest runs on the strand.
#ifndef SHUFFLE_SERVER_SPARKESS_CONNECTION_H_
#define SHUFFLE_SERVER_SPARKESS_CONNECTION_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "shuffle-server/sparkess/session.h"

namespace shuffle::sparkess {

class SparkConnection : public std::enable_shared_from_this<SparkConnection> {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  SparkConnection(Socket socket, std::string peer, const Service* service, uint64_t max_frame);
  ~SparkConnection();
  SparkConnection(const SparkConnection&) = delete;
  SparkConnection& operator=(const SparkConnection&) = delete;

  void Start();
  void Close();

 private:
  void ReadMore();
  void OnRead(size_t n);
  // Handles every whole frame in `in_`; false when the connection must close after the
  // replies.
  bool HandleFrames();
  void WriteReplies();
  // Appends up to `max` bytes of the front reply's body to batch_; false when the file failed.
  bool AppendBody(uint64_t max);
  void AfterWrites();
  void SendBody();
  void Finish(const std::string& reason);

  const std::string peer_;
  const Service* const service_;
  const uint64_t max_frame_;
  Socket socket_;
  Session session_;
  std::string in_;         // bytes read, not yet handled
  size_t in_used_ = 0;     // of in_
  std::deque<Reply> out_;  // replies not yet written
  std::string batch_;      // heads and small bodies gathered for one write
  bool close_after_write_ = false;
  bool closed_ = false;
  uint64_t body_sent_ = 0;  // of out_.front().body
  // After an AES handshake: every byte after its reply is encrypted (no sendfile then).
  std::unique_ptr<TransportCipher> cipher_;
  std::unique_ptr<TransportCipher> pending_cipher_;  // installed once the reply is written
};

}  // namespace shuffle::sparkess

#endif  // SHUFFLE_SERVER_SPARKESS_CONNECTION_H_
