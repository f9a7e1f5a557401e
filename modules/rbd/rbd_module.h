// The rbd module: registered clusters (bdev_rbd_register_cluster), and creating,
// resizing and deleting rbd bdevs. Everything that waits on the cluster runs on the
// module's worker thread; these functions run on the app thread, never block, and
// report through `done` on the app thread.
#ifndef BDEVKIT_MODULES_RBD_RBD_MODULE_H_
#define BDEVKIT_MODULES_RBD_RBD_MODULE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/module.h"
#include "modules/rbd/rados_connection.h"
#include "modules/rbd/rbd_bdev.h"
#include "modules/rbd/rbd_worker.h"
#include "nlohmann/json.hpp"

namespace bdevkit::rbd {

inline constexpr char kModuleName[] = "rbd";

struct ClusterOptions {
  std::string name;
  RadosSettings settings;
  bool has_config_param = false;  // config_param was given (save_config writes it back)
};

// A registered cluster: its settings and its connection, shared by its bdevs.
struct RbdCluster {
  ClusterOptions options;
  std::shared_ptr<RadosConnection> conn;
};

class RbdModule : public BdevModule {
 public:
  RbdModule() : BdevModule(kModuleName) {}
  absl::Status Init() override;
  void Fini() override;
  // bdev_rbd_register_cluster entries (before the bdevs that use them).
  void WriteConfigJson(nlohmann::json& config) const override;

  // Connects (worker) and registers a cluster; done(name). kAlreadyExists for a taken
  // name; the connection's errors (rados_connection.h). Nothing is kept on failure.
  void RegisterCluster(ClusterOptions options,
                       std::function<void(absl::StatusOr<std::string>)> done);
  // Unregisters a cluster no bdev uses (kFailedPrecondition naming them otherwise;
  // kNotFound for an unknown name); its connection is shut down on the worker.
  absl::Status UnregisterCluster(const std::string& name);
  // bdev_rbd_get_clusters_info: one cluster's object, or (name empty) an array of all.
  absl::StatusOr<nlohmann::json> ClustersInfo(const std::string& name) const;

  // bdev_rbd_create: validates, opens the image (worker) and registers the bdev;
  // done(name). The name defaults to Ceph0, Ceph1, ... (the first free).
  void CreateBdev(RbdBdevConfig config, std::function<void(absl::StatusOr<std::string>)> done);
  // bdev_rbd_resize: grows the image to new_size_mib MiB (worker), then the bdev
  // (kResize to its descriptors). Shrinking is refused (kInvalidArgument).
  void ResizeBdev(const std::string& name, uint64_t new_size_mib,
                  std::function<void(absl::Status)> done);
  // bdev_rbd_delete.
  void DeleteBdev(const std::string& name, std::function<void(absl::Status)> done);

  RbdWorker& worker() { return worker_; }

 private:
  std::string NextDefaultName();
  // Names of the rbd bdevs using `cluster`, registered or being created.
  std::vector<std::string> BdevsOfCluster(const std::string& cluster) const;

  RbdWorker worker_;
  std::vector<std::shared_ptr<RbdCluster>> clusters_;  // registration order
  absl::flat_hash_set<std::string> pending_clusters_;  // being connected
  // Bdevs being opened: name -> cluster_name (their names are taken meanwhile).
  std::vector<std::pair<std::string, std::string>> pending_bdevs_;
  uint32_t next_index_ = 0;  // CephN
};

// The registered module (nullptr if it is not). Any thread.
RbdModule* GetRbdModule();
void RegisterRbdModule();

}  // namespace bdevkit::rbd

#endif  // BDEVKIT_MODULES_RBD_RBD_MODULE_H_
