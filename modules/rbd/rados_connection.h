// Connecting to a Ceph cluster with librados: the settings a user gives
// (bdev_rbd_register_cluster, or bdev_rbd_create's user_id/config), how they become
// librados configuration, and the connected handle. Everything here that talks to
// the cluster blocks: call it on the module's worker thread (rbd_worker.h).
#ifndef BDEVKIT_MODULES_RBD_RADOS_CONNECTION_H_
#define BDEVKIT_MODULES_RBD_RADOS_CONNECTION_H_

#include <rados/librados.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace bdevkit::rbd {

using ConfPairs = std::vector<std::pair<std::string, std::string>>;

// Set on every connection, so a dead or unreachable cluster fails calls with
// -ETIMEDOUT instead of hanging them (librados' defaults: mount 300 s, monitor and OSD
// operations never time out). A value from the config file or config_param wins
// (docs/scale-out.md says which values to consider).
inline const ConfPairs& DefaultTimeouts() {
  static const ConfPairs kDefaults = {
      {"client_mount_timeout", "10"},  // connect: monitors must answer within 10 s
      {"rados_mon_op_timeout", "10"},  // each monitor command (pool lookup, resize...)
      {"rados_osd_op_timeout", "30"},  // each I/O to an OSD: fails after 30 s
  };
  return kDefaults;
}

struct RadosSettings {
  std::string user_id;      // "admin" when empty (client.admin), as librados
  std::string config_file;  // a ceph.conf; empty: see `config_param`
  // Options set one by one after the file (they win). With neither a file nor
  // options, librados' default search is used (CEPH_CONF, /etc/ceph/ceph.conf, ...).
  ConfPairs config_param;
  std::string key_file;  // a keyring file (librados option "keyring"); empty: from the conf
};

// config_param / config: a JSON object of option name -> string value (SPDK's shape).
// Errors are kInvalidArgument and name `param` and the key. Keys keep the object's
// (sorted) order.
absl::StatusOr<ConfPairs> ParseConfPairs(const nlohmann::json& object, const std::string& param);
nlohmann::json ConfPairsToJson(const ConfPairs& pairs);

// A librados handle, configured and (after Connect) connected; shut down when
// destroyed (which may block briefly: destroy it on the worker thread).
class RadosConnection {
 public:
  // Creates the handle and applies `settings` (the file, our timeouts where the file
  // leaves librados' own, then config_param, then key_file)
  // without touching the network. Errors name the parameter: config_file (a file
  // librados cannot read: its errno as JSON-RPC code, -2 for a missing file),
  // config_param (unknown option, bad value), key_file (not readable).
  static absl::StatusOr<std::unique_ptr<RadosConnection>> Configure(const RadosSettings& settings);
  ~RadosConnection();
  RadosConnection(const RadosConnection&) = delete;
  RadosConnection& operator=(const RadosConnection&) = delete;

  // Connects to the monitors (blocks up to client_mount_timeout). kDeadlineExceeded
  // (-110) when they do not answer, else librados' errno. `what` names the cluster in
  // the message.
  absl::Status Connect(const std::string& what);

  // An option's current value (after Configure), or an error. Any thread.
  absl::StatusOr<std::string> GetOption(const std::string& name) const;

  rados_t handle() const { return cluster_; }
  // The Ceph entity it connects as ("client.admin", "client.<user_id>").
  const std::string& entity() const { return entity_; }

 private:
  RadosConnection(rados_t cluster, std::string entity)
      : cluster_(cluster), entity_(std::move(entity)) {}
  rados_t cluster_;
  const std::string entity_;
  bool connected_ = false;
};

// A librados/librbd return code as a status: the message, and the errno as the
// JSON-RPC code (as SPDK answers: -2 for a missing pool or image).
absl::Status ErrnoStatus(int negative_errno, std::string message);

}  // namespace bdevkit::rbd

#endif  // BDEVKIT_MODULES_RBD_RADOS_CONNECTION_H_
