// KubeTestEnv: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) on loopback for one test process, started by tools/k8s/start into a fresh
// temporary directory and stopped by the pids that script recorded when the object is destroyed
// (and by the script's watchdog if this process dies first). Fails with FAILED_PRECONDITION
// naming `tools/k8s/build` when the binaries are not built.
//
// Not thread-safe to start or stop; admin() may be used from any thread.
#ifndef SHUFFLE_TESTS_K8S_TESTENV_H_
#define SHUFFLE_TESTS_K8S_TESTENV_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "driver/kube/client.h"

namespace shuffle::k8stest {

class KubeTestEnv {
 public:
  static absl::StatusOr<std::unique_ptr<KubeTestEnv>> Start();
  // Kills the control plane; removes the directory unless KeepDirectory() was called.
  ~KubeTestEnv();
  KubeTestEnv(const KubeTestEnv&) = delete;
  KubeTestEnv& operator=(const KubeTestEnv&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& server() const { return server_; }  // https://127.0.0.1:PORT
  const std::string& token() const { return token_; }    // the admin bearer token
  const std::string& ca_file() const { return ca_file_; }
  const std::string& etcd_url() const { return etcd_url_; }  // http://127.0.0.1:PORT
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  kube::Config AdminConfig() const;
  const kube::Client& admin() const { return *admin_; }
  // Leaves the directory (logs, etcd data) for a post-mortem.
  void KeepDirectory() { keep_ = true; }

 private:
  KubeTestEnv() = default;
  std::string dir_;
  std::string server_;
  std::string token_;
  std::string ca_file_;
  std::string etcd_url_;
  std::vector<int> pids_;  // what start reported, kept in case the directory goes
  std::unique_ptr<kube::Client> admin_;
  bool keep_ = false;
};

// Polls `done` every 100 ms until it returns true (true) or `timeout` passes (false).
bool Eventually(const std::function<bool()>& done, absl::Duration timeout);

// A lowercase name valid as a Kubernetes object name, unique in this process ("t-3-foo").
std::string UniqueName(std::string_view hint);

}  // namespace shuffle::k8stest

#endif  // SHUFFLE_TESTS_K8S_TESTENV_H_
