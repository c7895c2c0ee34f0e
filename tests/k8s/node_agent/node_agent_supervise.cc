// NodeAgent's supervision loop: process exits, restarts, readiness, terminations, evictions and
// status reports.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/logging.h"
#include "tests/k8s/node_agent/node_agent.h"

namespace shuffle::node_agent {
namespace {

using kube::Json;

// A tcpSocket readiness probe: does 127.0.0.1:port accept a connection?
bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Restart back-off: 1 s doubling to 10 s (the kubelet's is 10 s to 5 min; tests need speed).
absl::Duration Backoff(int restarts) {
  return std::min(absl::Seconds(1) * (1 << std::min(restarts, 4)), absl::Seconds(10));
}

struct Pending {
  std::string ns;
  std::string name;
  std::string uid;
  Json status;
};

}  // namespace

void NodeAgent::StartContainer(ContainerRun& c, const PodRun& run) {
  core::ProcessSpec spec;
  spec.argv = c.plan.argv;
  spec.env = c.plan.env;
  spec.log_path = absl::StrCat(plan_options_.node_root, "/pods/", run.plan.ns, "_", run.plan.name,
                               "_", run.plan.uid, "/", c.plan.name, ".log");
  absl::StatusOr<std::unique_ptr<core::Process>> process = core::Process::Spawn(spec);
  c.started_at = absl::Now();
  c.restart_at = absl::InfiniteFuture();
  c.ready = false;
  if (!process.ok()) {
    // As a runtime that cannot start a container: it ends at once with exit code 128.
    c.last_exit = core::ExitInfo{.exit_code = 128, .signal = 0};
    c.finished_at = c.started_at;
    c.done = true;
    SHUFFLE_LOG(WARNING) << "node agent: cannot start container" << core::Kv("pod", run.plan.name)
                         << core::Kv("container", c.plan.name)
                         << core::Kv("error", process.status().ToString());
    return;
  }
  c.process = std::move(*process);
}

void NodeAgent::BeginTermination(PodRun& run, int64_t grace_seconds) {
  run.terminating = true;
  run.dirty = true;
  run.kill_at = absl::Now() + absl::Seconds(std::max<int64_t>(grace_seconds, 0));
  for (ContainerRun& c : run.containers) {
    c.done = true;
    c.restart_at = absl::InfiniteFuture();
    if (c.process != nullptr) {
      c.process->Signal(grace_seconds > 0 ? SIGTERM : SIGKILL);
    }
  }
}

void NodeAgent::EvictLocked(PodRun& run, std::string message) {
  run.evicted = true;
  run.evict_message = message.empty() ? "evicted by the node agent" : std::move(message);
  run.dirty = true;
  for (ContainerRun& c : run.containers) {
    c.done = true;
    c.restart_at = absl::InfiniteFuture();
    if (c.process != nullptr) {
      c.process->Signal(SIGKILL);
    }
  }
}

absl::Status NodeAgent::Evict(std::string_view ns, std::string_view name,
                              std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [uid, run] : pods_) {
    if (run->plan.ns == ns && run->plan.name == name) {
      EvictLocked(*run, std::string(message));
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("node agent ", options_.node, ": no pod ",
                                          std::string(ns), "/", std::string(name), " runs here"));
}

int NodeAgent::PidOf(std::string_view ns, std::string_view name, std::string_view container) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [uid, run] : pods_) {
    if (run->plan.ns != ns || run->plan.name != name) {
      continue;
    }
    for (const ContainerRun& c : run->containers) {
      if (c.plan.name == container && c.process != nullptr && c.process->running()) {
        return c.process->pid();
      }
    }
  }
  return 0;
}

void NodeAgent::SuperviseLoop() {
  while (Sleep(absl::Milliseconds(100))) {
    ReplanFailedPods();
    std::vector<Pending> reports;
    std::vector<Pending> deletions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const absl::Time now = absl::Now();
      for (auto& [uid, run_ptr] : pods_) {
        PodRun& run = *run_ptr;
        bool any_running = false;
        for (ContainerRun& c : run.containers) {
          if (c.process != nullptr) {
            if (std::optional<core::ExitInfo> exit = c.process->Poll()) {
              c.last_exit = *exit;
              c.finished_at = now;
              c.process.reset();
              c.ready = false;
              run.dirty = true;
              const bool failed = exit->signal != 0 || exit->exit_code != 0;
              const bool restart = !c.done && (run.plan.restart_policy == "Always" ||
                                               (run.plan.restart_policy == "OnFailure" && failed));
              if (restart) {
                c.restart_at = now + Backoff(c.restarts);
              } else {
                c.done = true;
              }
            }
          }
          if (c.process == nullptr && !c.done && now >= c.restart_at) {
            ++c.restarts;
            StartContainer(c, run);
            run.dirty = true;
          }
          if (c.process != nullptr && !c.ready) {
            const bool ready = !c.plan.ready_port.has_value() || Accepts(*c.plan.ready_port);
            if (ready) {
              c.ready = true;
              run.dirty = true;
            }
          }
          any_running = any_running || c.process != nullptr;
        }
        if (run.terminating) {
          if (any_running && now >= run.kill_at) {
            for (ContainerRun& c : run.containers) {
              if (c.process != nullptr) {
                c.process->Signal(SIGKILL);
              }
            }
          }
          if (!any_running && !run.delete_sent) {
            run.delete_sent = true;
            deletions.push_back({run.plan.ns, run.plan.name, run.plan.uid, Json()});
          }
        }
        if (run.dirty) {
          run.dirty = false;
          reports.push_back(
              {run.plan.ns, run.plan.name, run.plan.uid, BuildPodStatus(run, options_.host_ip)});
        }
      }
    }
    for (const Pending& p : reports) {
      kube::ResourcePath path = kube::Pods(p.ns, p.name);
      path.subresource = "status";
      Json patch = p.status;
      patch["metadata"] = {{"uid", p.uid}};  // never report onto a new pod of the same name
      absl::StatusOr<Json> result = client_->Patch(path, kube::PatchType::kMerge, patch);
      if (!result.ok() && result.status().code() != absl::StatusCode::kNotFound) {
        SHUFFLE_LOG(WARNING) << "node agent: reporting pod status failed" << core::Kv("pod", p.name)
                             << core::Kv("error", result.status().ToString());
        std::lock_guard<std::mutex> lock(mu_);
        if (const auto it = pods_.find(p.uid); it != pods_.end()) {
          it->second->dirty = true;  // again next round
        }
      }
    }
    for (const Pending& p : deletions) {
      ConfirmDeletion(p.ns, p.name, p.uid);
    }
  }
}

}  // namespace shuffle::node_agent
