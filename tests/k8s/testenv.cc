#include "tests/k8s/testenv.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shuffle/core/files.h"
#include "shuffle/core/process.h"
#include "shuffle/core/status_macros.h"

namespace shuffle::k8stest {
namespace {

std::string CacheBin() {
  if (const char* cache = std::getenv("SHUFFLE_K8S_CACHE"); cache != nullptr && *cache != '\0') {
    return absl::StrCat(cache, "/bin");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "/root", "/.cache/shuffle/k8s-1.20.2/bin");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// True while `pid` exists and is not a zombie.
bool Alive(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// The pids tools/k8s/start recorded that still run what it started (a reused pid is skipped).
std::vector<pid_t> OurPids(const std::string& dir) {
  std::vector<pid_t> pids;
  std::ifstream in(dir + "/pids");
  std::string name;
  pid_t pid = 0;
  while (in >> name >> pid) {
    std::string cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
    for (char& c : cmdline) {
      c = c == '\0' ? ' ' : c;
    }
    const std::string expect = name == "watchdog" ? "bash" : name;
    if (cmdline.find(expect) != std::string::npos) {
      pids.push_back(pid);
    }
  }
  return pids;
}

std::string EnvValue(const std::string& env, const std::string& key) {
  const std::string prefix = absl::StrCat("export ", key, "='");
  const size_t at = env.find(prefix);
  if (at == std::string::npos) {
    return "";
  }
  const size_t start = at + prefix.size();
  return env.substr(start, env.find('\'', start) - start);
}

}  // namespace

bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  for (;;) {
    if (done()) {
      return true;
    }
    if (absl::Now() >= end) {
      return false;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

std::string UniqueName(std::string_view hint) {
  static std::atomic<int> counter{0};
  std::string name = absl::StrCat("t", ++counter, "-");
  for (const char c : hint) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (name.size() >= 40) {
      break;
    }
  }
  return name;
}

absl::StatusOr<std::unique_ptr<KubeTestEnv>> KubeTestEnv::Start() {
  const std::string bin = CacheBin();
  if (!std::filesystem::exists(bin + "/kube-apiserver")) {
    return absl::FailedPreconditionError(absl::StrCat("Kubernetes binaries missing in ", bin,
                                                      ": run tools/k8s/build (tools/test does)"));
  }
  std::unique_ptr<KubeTestEnv> env(new KubeTestEnv());
  // Not a TempDir: a failed start keeps its directory for the logs.
  SHUFFLE_ASSIGN_OR_RETURN(env->dir_, core::MakeTempDir("shuffle-k8s-"));
  core::ProcessSpec spec;
  const std::string script = absl::StrCat(SHUFFLE_SOURCE_DIR, "/tools/k8s/start");
  spec.argv = {"/bin/bash",  script, env->dir_, "--owner-pid", std::to_string(getpid()),
               "--lifetime", "1800"};
  spec.log_path = env->dir_ + "/start.log";
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<core::Process> start, core::Process::Spawn(spec));
  const std::optional<core::ExitInfo> exit = start->Wait(std::chrono::seconds(150));
  if (!exit.has_value() || exit->signal != 0 || exit->exit_code != 0) {
    env->keep_ = true;
    return absl::UnavailableError(
        absl::StrCat("tools/k8s/start ", env->dir_, " failed (",
                     exit.has_value() ? exit->Describe() : "timed out after 150 s",
                     "): ", ReadAll(spec.log_path)));
  }
  const std::string vars = ReadAll(env->dir_ + "/env");
  env->server_ = EnvValue(vars, "SHUFFLE_K8S_SERVER");
  env->token_ = EnvValue(vars, "SHUFFLE_K8S_TOKEN");
  env->ca_file_ = EnvValue(vars, "SHUFFLE_K8S_CA");
  env->etcd_url_ = EnvValue(vars, "SHUFFLE_K8S_ETCD");
  for (const pid_t pid : OurPids(env->dir_)) {
    env->pids_.push_back(pid);
  }
  SHUFFLE_ASSIGN_OR_RETURN(env->admin_, kube::Client::Open(env->AdminConfig()));
  return env;
}

kube::Config KubeTestEnv::AdminConfig() const {
  kube::Config config;
  config.server = server_;
  config.bearer_token = token_;
  config.ca_pem = ReadAll(ca_file_);
  return config;
}

KubeTestEnv::~KubeTestEnv() {
  admin_.reset();
  if (dir_.empty()) {
    return;
  }
  std::vector<pid_t> pids = OurPids(dir_);
  for (const pid_t pid : pids_) {
    if (std::find(pids.begin(), pids.end(), pid) == pids.end() && Alive(pid)) {
      pids.push_back(pid);  // the pids file is gone (someone removed the directory)
    }
  }
  for (const pid_t pid : pids) {
    kill(pid, SIGTERM);
  }
  const auto any_alive = [&] {
    for (const pid_t pid : pids) {
      if (Alive(pid)) {
        return true;
      }
    }
    return false;
  };
  if (!Eventually([&] { return !any_alive(); }, absl::Seconds(10))) {
    for (const pid_t pid : pids) {
      if (Alive(pid)) {
        kill(pid, SIGKILL);
      }
    }
  }
  std::error_code ec;
  std::filesystem::rename(dir_ + "/pids", dir_ + "/pids.stopped", ec);
  if (!keep_) {
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace shuffle::k8stest
