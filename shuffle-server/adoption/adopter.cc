#include "shuffle-server/adoption/adopter.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::adoption {

using core::Kv;

Adopter::Adopter(AdopterOptions options, StartAdoptedServer start)
    : options_(std::move(options)), volume_(options_.root), start_(std::move(start)) {}

Adopter::~Adopter() { Stop(); }

Adoption Adopter::Already(const std::string& node, const AdoptionRecord& record) const {
  return Adoption{.node = node,
                  .data_address = record.data_address,
                  .control_address = record.control_address,
                  .adopted_by = record.adopted_by,
                  .already_adopted = true};
}

absl::StatusOr<Adoption> Adopter::Adopt(const std::string& node) {
  SHUFFLE_RETURN_IF_ERROR(SharedVolume::CheckNodeName(node));
  if (node == options_.own_node) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", node, " is this server's own node: its data is served already"));
  }
  absl::MutexLock lock(&mu_);
  if (auto it = serving_.find(node); it != serving_.end()) {
    return Adoption{.node = node,
                    .data_address = it->second->data_address(),
                    .control_address = it->second->control_address(),
                    .adopted_by = options_.own_node,
                    .already_adopted = true};
  }
  const std::optional<AdoptionRecord> record = volume_.ReadRecord(node);
  const bool record_served = record.has_value() && !record->data_address.empty() &&
                             SharedVolume::StateOf(record->dir) == SharedVolume::DirState::kInUse;
  const SharedVolume::DirState own = SharedVolume::StateOf(volume_.NodeDir(node));
  if (own == SharedVolume::DirState::kFree) {
    // The node's own directory, its server gone: the newest data of that node.
    SHUFFLE_ASSIGN_OR_RETURN(std::string dir, volume_.ClaimNodeDir(node));
    // Recorded at once: should the start below fail, the next attempt finds the directory.
    SHUFFLE_RETURN_IF_ERROR(
        core::Annotate(volume_.WriteRecord(node, AdoptionRecord{.dir = dir,
                                                                .data_address = "",
                                                                .control_address = "",
                                                                .adopted_by = options_.own_node}),
                       absl::StrCat("recording the claim of node ", node, "'s data directory")));
    SHUFFLE_LOG(INFO) << "adopting a lost node's data directory" << Kv("node", node)
                      << Kv("dir", dir);
    return StartOn(node, dir);
  }
  if (record_served) {
    return Already(node, *record);  // (a new server may run on the node meanwhile)
  }
  if (record.has_value() && SharedVolume::StateOf(record->dir) == SharedVolume::DirState::kFree) {
    SHUFFLE_LOG(INFO) << "adopting a node's data directory whose adopter is gone"
                      << Kv("node", node) << Kv("dir", record->dir)
                      << Kv("previous_adopter", record->adopted_by);
    return StartOn(node, record->dir);
  }
  if (own == SharedVolume::DirState::kInUse) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", node, "'s server still holds its data directory ", volume_.NodeDir(node),
        " (it runs, or its lock has not expired yet on the shared filesystem)"));
  }
  return absl::NotFoundError(
      absl::StrCat("the shared volume ", options_.root, " has no data directory of node ", node));
}

absl::StatusOr<Adoption> Adopter::StartOn(const std::string& node, const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<AdoptedServer>> server = start_(node, dir);
  if (!server.ok()) {
    SHUFFLE_LOG(WARNING) << "cannot serve an adopted node's data directory" << Kv("node", node)
                         << Kv("dir", dir) << Kv("error", server.status().ToString());
    return core::Annotate(server.status(), absl::StrCat("adopting node ", node, "'s data"));
  }
  Adoption adoption{
      .node = node,
      .data_address = (*server)->data_address(),
      .control_address = (*server)->control_address(),
      .adopted_by = options_.own_node,
      .already_adopted = false,
      .commits_recovered = (*server)->commits_recovered(),
      .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  const absl::Status recorded =
      volume_.WriteRecord(node, AdoptionRecord{.dir = dir,
                                               .data_address = adoption.data_address,
                                               .control_address = adoption.control_address,
                                               .adopted_by = options_.own_node});
  if (!recorded.ok()) {  // other servers then cannot point askers here; this one still can
    SHUFFLE_LOG(WARNING) << "cannot record an adoption on the shared volume" << Kv("node", node)
                         << Kv("error", recorded.ToString());
  }
  serving_[node] = *std::move(server);
  ++adoptions_;
  SHUFFLE_LOG(INFO) << "serving an adopted node's data" << Kv("node", node)
                    << Kv("data", adoption.data_address) << Kv("control", adoption.control_address)
                    << Kv("commits", adoption.commits_recovered) << Kv("seconds", adoption.seconds);
  return adoption;
}

size_t Adopter::serving() const {
  absl::MutexLock lock(&mu_);
  return serving_.size();
}

uint64_t Adopter::adoptions() const {
  absl::MutexLock lock(&mu_);
  return adoptions_;
}

void Adopter::Stop() {
  std::map<std::string, std::unique_ptr<AdoptedServer>> stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping.swap(serving_);
  }
  for (auto& [node, server] : stopping) {
    SHUFFLE_LOG(INFO) << "stopping the server of an adopted node" << Kv("node", node);
    server.reset();
  }
}

}  // namespace shuffle::adoption
