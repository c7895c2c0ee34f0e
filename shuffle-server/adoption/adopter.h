// Adopter: a surviving server's side of adoption (ShuffleControl.Adopt; docs/node-loss.md). A
// node's server is gone for good but its data directory lives on a shared volume this server
// also mounts (SharedVolume): the adopter claims that directory and starts a second storage
// engine with its own data and control planes on it (an AdoptedServer, in this process),
// which recovers it exactly as the lost server would have after a crash and serves it under
// the lost node's name. Drivers then read the lost node's outputs at the new addresses.
//
// One adoption per node, whoever asks first: a node already adopted, by this server or another
// (its record on the volume, its directory still held), is answered with where it is served. A
// directory whose adopter died too is adopted again. An adopted directory is served until this
// server stops.
//
// Thread-safe: Adopt() calls are serialized (one recovery at a time).
#ifndef SHUFFLE_SERVER_ADOPTION_ADOPTER_H_
#define SHUFFLE_SERVER_ADOPTION_ADOPTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shuffle-server/adoption/shared_volume.h"

namespace shuffle::adoption {

// A lost node's directory being served; stopped (drained, engine closed) when destroyed.
class AdoptedServer {
 public:
  virtual ~AdoptedServer() = default;
  // host:port readers reach its data plane and control plane at.
  virtual std::string data_address() const = 0;
  virtual std::string control_address() const = 0;
  // What its recovery found.
  virtual uint64_t commits_recovered() const = 0;
};

// Starts a server on `dir` under the name `node`.
using StartAdoptedServer = std::function<absl::StatusOr<std::unique_ptr<AdoptedServer>>(
    const std::string& node, const std::string& dir)>;

struct AdopterOptions {
  std::string root;      // the shared volume's mount (--adopt-root)
  std::string own_node;  // this server's node, which it never adopts
};

// The answer to one Adopt call.
struct Adoption {
  std::string node;
  std::string data_address;
  std::string control_address;
  std::string adopted_by;
  bool already_adopted = false;
  uint64_t commits_recovered = 0;
  double seconds = 0;
};

class Adopter {
 public:
  Adopter(AdopterOptions options, StartAdoptedServer start);
  ~Adopter();  // Stop()
  Adopter(const Adopter&) = delete;
  Adopter& operator=(const Adopter&) = delete;

  // Adopts `node` (see above). INVALID_ARGUMENT for a bad name or this server's own node;
  // FAILED_PRECONDITION while node's own server holds its directory; NOT_FOUND when the volume
  // has no directory of node; else the error of starting the adopted server (the directory
  // then stays claimed for the next attempt).
  absl::StatusOr<Adoption> Adopt(const std::string& node) ABSL_LOCKS_EXCLUDED(mu_);

  // The nodes this server serves, and the adoptions it made since it started.
  size_t serving() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t adoptions() const ABSL_LOCKS_EXCLUDED(mu_);

  // Stops every adopted server (their directories stay for another adopter).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Starts a server on `dir` (already claimed) and records it.
  absl::StatusOr<Adoption> StartOn(const std::string& node, const std::string& dir)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Adoption Already(const std::string& node, const AdoptionRecord& record) const;

  const AdopterOptions options_;
  const SharedVolume volume_;
  const StartAdoptedServer start_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<AdoptedServer>> serving_ ABSL_GUARDED_BY(mu_);
  uint64_t adoptions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shuffle::adoption

#endif  // SHUFFLE_SERVER_ADOPTION_ADOPTER_H_
