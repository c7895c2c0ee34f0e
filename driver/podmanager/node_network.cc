#include "driver/podmanager/node_network.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/process.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::podmanager {
namespace {

namespace fs = std::filesystem;

constexpr char kNetnsDir[] = "/run/netns";
constexpr char kNamespacePrefix[] = "shuffle-";  // shuffle-<pid>-node-<i>
constexpr int kSubnetSecondOctet = 213;          // 10.213.S.0/24

std::string FindIp() {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    std::string path = absl::StrCat(dir, "/ip");
    if (access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return "";
}

// Runs `ip ARGS...`, its output appended to `log_path`.
absl::Status RunIp(const std::vector<std::string>& args, const std::string& log_path) {
  const std::string ip = FindIp();
  if (ip.empty()) {
    return absl::FailedPreconditionError(
        "a node network needs iproute2's `ip` (apt-get install iproute2)");
  }
  core::ProcessSpec spec;
  spec.argv = {ip};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.log_path = log_path;
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Process> process, core::Process::Spawn(spec));
  std::optional<core::ExitInfo> exit = process->Wait(std::chrono::seconds(10));
  if (!exit.has_value()) {
    process->Signal(SIGKILL);
    return absl::DeadlineExceededError(
        absl::StrCat("`ip ", absl::StrJoin(args, " "), "` did not finish in 10 s"));
  }
  if (exit->signal != 0 || exit->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("`ip ", absl::StrJoin(args, " "), "` failed (", exit->Describe(),
                     "); a node network needs root (CAP_NET_ADMIN). End of ", log_path, ":\n",
                     core::LogTail(log_path, 600)));
  }
  return absl::OkStatus();
}

// Third octets of the 10.213.S.0/24 networks some interface already routes.
std::set<int> SubnetsInUse() {
  std::set<int> used;
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t', absl::SkipEmpty());
    uint32_t destination = 0;
    if (fields.size() > 1 && absl::SimpleHexAtoi(fields[1], &destination)) {
      // Little-endian: the first octet is the lowest byte.
      if ((destination & 0xff) == 10 && ((destination >> 8) & 0xff) == kSubnetSecondOctet) {
        used.insert(static_cast<int>((destination >> 16) & 0xff));
      }
    }
  }
  return used;
}

// Whether `pid` (decimal) names a process that is gone.
bool Dead(const std::string& pid) {
  pid_t n = 0;
  return absl::SimpleAtoi(pid, &n) && kill(n, 0) != 0 && errno == ESRCH;
}

// Removes the namespaces, veth pairs and bridges of runs whose process is gone (killed before
// cleaning up).
void RemoveStale(const std::string& log_path) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(kNetnsDir, ec)) {
    const std::string name = entry.path().filename().string();
    std::vector<std::string> parts = absl::StrSplit(name, '-');
    if (name.rfind(kNamespacePrefix, 0) == 0 && parts.size() == 4 && parts[2] == "node" &&
        Dead(parts[1])) {
      RunIp({"netns", "del", name}, log_path).IgnoreError();
      SHUFFLE_LOG(INFO) << "removed a node namespace left by a dead run" << core::Kv("name", name);
    }
  }
  // shb<pid> bridges and shv<pid>n<i> links.
  for (const fs::directory_entry& entry : fs::directory_iterator("/sys/class/net", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("shb", 0) != 0 && name.rfind("shv", 0) != 0) {
      continue;
    }
    const std::string pid = name.substr(3, name.find('n', 3) - 3);
    if (Dead(pid)) {
      RunIp({"link", "del", name}, log_path).IgnoreError();
      SHUFFLE_LOG(INFO) << "removed a link left by a dead run" << core::Kv("name", name);
    }
  }
}

}  // namespace

NodeNetwork::NodeNetwork(uint32_t nodes, std::string log_path)
    : nodes_(nodes),
      log_path_(std::move(log_path)),
      id_(std::to_string(getpid())),
      made_(nodes, false) {}

absl::StatusOr<std::unique_ptr<NodeNetwork>> NodeNetwork::Create(uint32_t nodes,
                                                                 std::string log_path) {
  if (nodes > 200) {
    return absl::InvalidArgumentError("a node network holds at most 200 nodes");
  }
  RemoveStale(log_path);
  std::unique_ptr<NodeNetwork> network(new NodeNetwork(nodes, std::move(log_path)));
  SHUFFLE_RETURN_IF_ERROR(network->Build());
  return network;
}

std::string NodeNetwork::NamespaceName(uint32_t node) const {
  return absl::StrCat(kNamespacePrefix, id_, "-node-", node);
}

std::string NodeNetwork::VethName(uint32_t node) const {
  return absl::StrCat("shv", id_, "n", node);  // at most 15 characters: pids have at most 7
}

std::string NodeNetwork::NodeAddress(uint32_t node) const {
  return absl::StrCat(subnet_, 10 + node);
}

std::string NodeNetwork::NamespacePath(uint32_t node) const {
  return absl::StrCat(kNetnsDir, "/", NamespaceName(node));
}

absl::Status NodeNetwork::Build() {
  const std::set<int> used = SubnetsInUse();
  int octet = -1;
  for (int i = 0; i < 254 && octet < 0; ++i) {
    const int candidate = 1 + static_cast<int>((std::stoul(id_) + i) % 254);
    octet = used.count(candidate) == 0 ? candidate : -1;
  }
  if (octet < 0) {
    return absl::ResourceExhaustedError("every 10.213.S.0/24 network is in use");
  }
  subnet_ = absl::StrCat("10.", kSubnetSecondOctet, ".", octet, ".");
  host_address_ = subnet_ + "1";
  bridge_ = "shb" + id_;
  SHUFFLE_RETURN_IF_ERROR(RunIp({"link", "add", bridge_, "type", "bridge"}, log_path_));
  bridge_made_ = true;
  SHUFFLE_RETURN_IF_ERROR(RunIp({"addr", "add", host_address_ + "/24", "dev", bridge_}, log_path_));
  SHUFFLE_RETURN_IF_ERROR(RunIp({"link", "set", bridge_, "up"}, log_path_));
  for (uint32_t i = 0; i < nodes_; ++i) {
    const std::string ns = NamespaceName(i);
    SHUFFLE_RETURN_IF_ERROR(RunIp({"netns", "add", ns}, log_path_));
    made_[i] = true;
    SHUFFLE_RETURN_IF_ERROR(
        RunIp({"link", "add", VethName(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
              log_path_));
    SHUFFLE_RETURN_IF_ERROR(
        RunIp({"link", "set", VethName(i), "master", bridge_, "up"}, log_path_));
    SHUFFLE_RETURN_IF_ERROR(
        RunIp({"-n", ns, "addr", "add", NodeAddress(i) + "/24", "dev", "eth0"}, log_path_));
    SHUFFLE_RETURN_IF_ERROR(RunIp({"-n", ns, "link", "set", "eth0", "up"}, log_path_));
    SHUFFLE_RETURN_IF_ERROR(RunIp({"-n", ns, "link", "set", "lo", "up"}, log_path_));
  }
  SHUFFLE_LOG(INFO) << "node network up" << core::Kv("bridge", bridge_)
                    << core::Kv("driver", host_address_) << core::Kv("nodes", nodes_);
  return absl::OkStatus();
}

NodeNetwork::~NodeNetwork() {
  for (uint32_t i = 0; i < nodes_; ++i) {
    if (made_[i]) {
      // The pair first: the kernel tears a namespace down later, in the background, and its
      // links would linger until then, holding their names.
      RunIp({"link", "del", VethName(i)}, log_path_).IgnoreError();
      RunIp({"netns", "del", NamespaceName(i)}, log_path_).IgnoreError();
    }
  }
  if (bridge_made_) {
    RunIp({"link", "del", bridge_}, log_path_).IgnoreError();
  }
}

absl::Status NodeNetwork::SetLink(uint32_t node, bool up) {
  if (node >= nodes_) {
    return absl::NotFoundError(absl::StrCat("no node ", node, " in the node network"));
  }
  return RunIp({"link", "set", VethName(node), up ? "up" : "down"}, log_path_);
}

absl::Status NodeNetwork::Partition(uint32_t node) { return SetLink(node, /*up=*/false); }

absl::Status NodeNetwork::Heal(uint32_t node) { return SetLink(node, /*up=*/true); }

}  // namespace shuffle::podmanager
