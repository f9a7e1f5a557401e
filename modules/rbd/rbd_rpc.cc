// The bdev_rbd_* methods (SPDK's names and parameters) and the module's registration.
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "modules/rbd/rbd_module.h"

namespace bdevkit::rbd {
namespace {

RbdModule* Module(const RpcDone& done) {
  RbdModule* m = GetRbdModule();
  if (m == nullptr) done(absl::FailedPreconditionError("the rbd module is not registered"));
  return m;
}

void RegisterClusterHandler(const nlohmann::json& params, RpcDone done) {
  RbdModule* m = Module(done);
  if (m == nullptr) return;
  ClusterOptions o;
  o.name = ParamString(params, "name");
  o.settings.user_id = ParamString(params, "user_id");
  o.settings.config_file = ParamString(params, "config_file");
  o.settings.key_file = ParamString(params, "key_file");
  o.has_config_param = HasParam(params, "config_param");
  if (o.has_config_param) {
    absl::StatusOr<ConfPairs> pairs = ParseConfPairs(params["config_param"], "config_param");
    if (!pairs.ok()) return done(pairs.status());
    o.settings.config_param = std::move(*pairs);
  }
  m->RegisterCluster(std::move(o), [done](absl::StatusOr<std::string> name) {
    if (!name.ok()) return done(name.status());
    done(RpcJson(*name));
  });
}

void CreateHandler(const nlohmann::json& params, RpcDone done) {
  RbdModule* m = Module(done);
  if (m == nullptr) return;
  const uint64_t block_size = ParamUint(params, "block_size");
  if (block_size > std::numeric_limits<uint32_t>::max()) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("\"block_size\": ", block_size, " is not a power of two >= 512")));
  }
  RbdBdevConfig c;
  c.name = ParamString(params, "name");
  c.pool_name = ParamString(params, "pool_name");
  c.rbd_name = ParamString(params, "rbd_name");
  c.block_size = static_cast<uint32_t>(block_size);
  c.user_id = ParamString(params, "user_id");
  c.cluster_name = ParamString(params, "cluster_name");
  c.uuid = ParamString(params, "uuid");
  c.has_config = HasParam(params, "config");
  if (c.has_config) {
    absl::StatusOr<ConfPairs> pairs = ParseConfPairs(params["config"], "config");
    if (!pairs.ok()) return done(pairs.status());
    c.config = std::move(*pairs);
  }
  m->CreateBdev(std::move(c), [done](absl::StatusOr<std::string> name) {
    if (!name.ok()) return done(name.status());
    done(RpcJson(*name));
  });
}

void BoolResult(const RpcDone& done, absl::Status s) { s.ok() ? done(RpcJson(true)) : done(s); }

}  // namespace
}  // namespace bdevkit::rbd

void bdevkit_register_module_rbd() {
  using bdevkit::RpcDone;
  using bdevkit::RpcJson;
  using bdevkit::RpcParamType;
  namespace rbd = bdevkit::rbd;
  rbd::RegisterRbdModule();
  const std::string conf_doc =
      "Ceph options as an object of strings, e.g. {\"mon_host\": \"10.0.0.1\", "
      "\"rados_osd_op_timeout\": \"30\"}";
  bdevkit::RpcMethod register_cluster{
      .name = "bdev_rbd_register_cluster",
      .summary =
          "Connects to a Ceph cluster that rbd bdevs can then share (cluster_name); "
          "answers when connected; returns its name",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "cluster name"},
              {"user_id", RpcParamType::kString, false, nullptr,
               "Ceph user without \"client.\" (default: admin)"},
              {"config_param", RpcParamType::kObject, false, nullptr,
               conf_doc + "; set after config_file (they win)"},
              {"config_file", RpcParamType::kString, false, nullptr,
               "a ceph.conf (default, when config_param is not given either: librados' "
               "search, CEPH_CONF then /etc/ceph/ceph.conf)"},
              {"key_file", RpcParamType::kString, false, nullptr,
               "a keyring file with the user's cephx key (default: the config's keyring)"},
          },
      .handler = rbd::RegisterClusterHandler,
  };
  bdevkit::RpcMethod unregister_cluster{
      .name = "bdev_rbd_unregister_cluster",
      .summary = "Disconnects a registered cluster no rbd bdev uses; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "cluster name"}},
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            rbd::RbdModule* m = rbd::Module(done);
            if (m == nullptr) return;
            rbd::BoolResult(done, m->UnregisterCluster(bdevkit::ParamString(params, "name")));
          },
  };
  bdevkit::RpcMethod clusters_info{
      .name = "bdev_rbd_get_clusters_info",
      .summary =
          "A registered cluster's settings ({cluster_name, user_id, config_param, "
          "config_file, key_file}), or without a name an array of all",
      .params = {{"name", RpcParamType::kString, false, nullptr, "cluster name"}},
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            rbd::RbdModule* m = rbd::Module(done);
            if (m == nullptr) return;
            absl::StatusOr<nlohmann::json> info =
                m->ClustersInfo(bdevkit::ParamString(params, "name"));
            if (!info.ok()) return done(info.status());
            done(RpcJson(*info));
          },
      .allowed_states = bdevkit::kRpcStartup | bdevkit::kRpcRuntime,
  };
  bdevkit::RpcMethod create{
      .name = "bdev_rbd_create",
      .summary =
          "Creates a bdev over an RBD image (librbd); answers once the image is open; "
          "returns the bdev's name",
      .params =
          {
              {"name", RpcParamType::kString, false, nullptr,
               "bdev name (default: Ceph0, Ceph1, ... the first free)"},
              {"pool_name", RpcParamType::kString, true, nullptr, "the image's pool"},
              {"rbd_name", RpcParamType::kString, true, nullptr, "the image"},
              {"block_size", RpcParamType::kUint, true, nullptr,
               "bytes, a power of two >= 512; the bdev has floor(image size / block_size) "
               "blocks"},
              {"user_id", RpcParamType::kString, false, nullptr,
               "Ceph user of the bdev's own connection (without cluster_name)"},
              {"config", RpcParamType::kObject, false, nullptr,
               conf_doc + ", for the bdev's own connection (without cluster_name; without "
                          "it librados' default config file is read)"},
              {"cluster_name", RpcParamType::kString, false, nullptr,
               "a cluster registered with bdev_rbd_register_cluster, whose connection the "
               "bdev shares"},
              {"uuid", RpcParamType::kString, false, nullptr, "UUID (default: generated)"},
          },
      .handler = rbd::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_rbd_delete",
      .summary = "Deletes an rbd bdev (the image stays in the cluster); returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name"}},
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            rbd::RbdModule* m = rbd::Module(done);
            if (m == nullptr) return;
            m->DeleteBdev(bdevkit::ParamString(params, "name"),
                          [done](absl::Status s) { rbd::BoolResult(done, s); });
          },
  };
  bdevkit::RpcMethod resize{
      .name = "bdev_rbd_resize",
      .summary =
          "Grows an rbd bdev and its image (open descriptors get a resize event); "
          "returns true",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "bdev name"},
              {"new_size", RpcParamType::kUint, true, nullptr,
               "new size in MiB, not smaller than the current size"},
          },
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            rbd::RbdModule* m = rbd::Module(done);
            if (m == nullptr) return;
            m->ResizeBdev(bdevkit::ParamString(params, "name"),
                          bdevkit::ParamUint(params, "new_size"),
                          [done](absl::Status s) { rbd::BoolResult(done, s); });
          },
  };
  for (bdevkit::RpcMethod* m :
       {&register_cluster, &unregister_cluster, &clusters_info, &create, &del, &resize}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("rbd: %s", std::string(s.message()));
    }
  }
}
