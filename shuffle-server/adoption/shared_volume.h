// SharedVolume: the layout of a ReadWriteMany volume every server of the cluster mounts
// (deploy/overlays/rwx-pvc; docs/node-loss.md "Adoption"): node N's server keeps its data in
// ROOT/N. When N's server is gone for good, another server adopts that directory:
//
//   ROOT/N                     node N's own data directory, while its server runs
//   ROOT/.adopted/N@<ms>       the directory once adopted (renamed, so a server that comes back
//                              on node N starts afresh in a new ROOT/N and never writes into it)
//   ROOT/.adopted/N.adoption   where the last adoption of N is served (AdoptionRecord)
//
// Who holds a directory is decided by the lock every server already holds on it: RocksDB's lock
// on DIR/index/LOCK (an fcntl lock, which NFS and CephFS keep across hosts and release when the
// holder dies or its lease expires). Claiming takes that lock as an open-file-description lock
// (which conflicts with any other holder, this process's own included), renames the directory,
// and releases it for the adopting engine to take.
//
// Thread-compatible; the filesystem does the rest (a claim that loses a race fails cleanly).
#ifndef SHUFFLE_SERVER_ADOPTION_SHARED_VOLUME_H_
#define SHUFFLE_SERVER_ADOPTION_SHARED_VOLUME_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::adoption {

// Where an adopted node's outputs are served.
struct AdoptionRecord {
  std::string dir;  // the adopted directory (ROOT/.adopted/N@<ms>)
  // host:port of the adopting server's data and control planes for it; empty while it is only
  // claimed (its server not started yet, or failed to start).
  std::string data_address;
  std::string control_address;
  std::string adopted_by;  // the adopting server's node
};

class SharedVolume {
 public:
  enum class DirState {
    kAbsent,  // no server ever opened it (no index lock file)
    kInUse,   // a running server holds it
    kFree,    // its server is gone
  };

  explicit SharedVolume(std::string root);

  // INVALID_ARGUMENT unless `node` can name a directory here: not empty, at most 253 bytes, no
  // '/', not starting with '.'.
  static absl::Status CheckNodeName(const std::string& node);

  const std::string& root() const { return root_; }
  // ROOT/node: node's own data directory.
  std::string NodeDir(const std::string& node) const;
  // Whether a server holds data directory `dir`.
  static DirState StateOf(const std::string& dir);

  // Takes node's own directory from a server that is gone: renamed to ROOT/.adopted/N@<ms>,
  // whose path is returned. FAILED_PRECONDITION when a server holds it, NOT_FOUND when it is
  // absent.
  absl::StatusOr<std::string> ClaimNodeDir(const std::string& node) const;

  // The last adoption of `node`, nullopt when there is none (or its record does not parse).
  std::optional<AdoptionRecord> ReadRecord(const std::string& node) const;
  absl::Status WriteRecord(const std::string& node, const AdoptionRecord& record) const;

 private:
  std::string AdoptedDir() const;  // ROOT/.adopted
  std::string RecordPath(const std::string& node) const;

  const std::string root_;
};

}  // namespace shuffle::adoption

#endif  // SHUFFLE_SERVER_ADOPTION_SHARED_VOLUME_H_
