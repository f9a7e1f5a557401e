// The rbd module's control plane: clusters, create, resize, delete.
#include "modules/rbd/rbd_module.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"

namespace bdevkit::rbd {

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

RbdBdev* FindRbdBdev(const std::string& name, absl::Status* error) {
  Bdev* bdev = FindBdev(name);
  if (bdev == nullptr || bdev->module().name() != kModuleName) {
    *error = absl::NotFoundError(
        absl::StrCat(bdev == nullptr ? "no bdev named \"" : "not an rbd bdev: \"", name, "\""));
    return nullptr;
  }
  return static_cast<RbdBdev*>(bdev);
}

}  // namespace

absl::Status RbdModule::Init() {
  worker_.Start();
  return absl::OkStatus();
}

void RbdModule::Fini() {
  // Every bdev is gone (their images closed on the worker); the clusters' connections
  // are shut down there too, then the worker ends.
  for (std::shared_ptr<RbdCluster>& c : clusters_)
    worker_.Post([c = std::move(c)]() mutable { c.reset(); });
  clusters_.clear();
  worker_.Stop();
}

void RbdModule::WriteConfigJson(nlohmann::json& config) const {
  for (const std::shared_ptr<RbdCluster>& c : clusters_) {
    const ClusterOptions& o = c->options;
    nlohmann::json params = {{"name", o.name}};
    if (!o.settings.user_id.empty()) params["user_id"] = o.settings.user_id;
    if (o.has_config_param) params["config_param"] = ConfPairsToJson(o.settings.config_param);
    if (!o.settings.config_file.empty()) params["config_file"] = o.settings.config_file;
    if (!o.settings.key_file.empty()) params["key_file"] = o.settings.key_file;
    config.push_back({{"method", "bdev_rbd_register_cluster"}, {"params", std::move(params)}});
  }
}

void RbdModule::RegisterCluster(ClusterOptions options,
                                std::function<void(absl::StatusOr<std::string>)> done) {
  const std::string name = options.name;
  if (name.empty()) return done(absl::InvalidArgumentError("\"name\": must not be empty"));
  const bool taken = pending_clusters_.contains(name) ||
                     std::any_of(clusters_.begin(), clusters_.end(),
                                 [&](const auto& c) { return c->options.name == name; });
  if (taken) {
    return done(absl::AlreadyExistsError(
        absl::StrCat("\"name\": a cluster named \"", name, "\" is already registered")));
  }
  pending_clusters_.insert(name);
  worker_.Start();
  // Filled on the worker; read on the app thread after the worker's message (which
  // orders the two).
  auto cluster = std::make_shared<RbdCluster>();
  cluster->options = std::move(options);
  worker_.Run(
      [cluster] {
        absl::StatusOr<std::unique_ptr<RadosConnection>> conn =
            RadosConnection::Configure(cluster->options.settings);
        if (!conn.ok()) return conn.status();
        if (absl::Status s = (*conn)->Connect(absl::StrCat("\"", cluster->options.name, "\""));
            !s.ok()) {
          return s;  // the handle is shut down here, on the worker
        }
        cluster->conn = std::move(*conn);
        return absl::OkStatus();
      },
      [this, cluster, name, done = std::move(done)](absl::Status s) {
        pending_clusters_.erase(name);
        if (!s.ok()) return done(s);
        clusters_.push_back(cluster);
        LOG_INFO("rbd: registered cluster %s", name);
        done(name);
      });
}

std::vector<std::string> RbdModule::BdevsOfCluster(const std::string& cluster) const {
  std::vector<std::string> out;
  for (const std::string& name : ListBdevs()) {
    Bdev* b = FindBdev(name);
    if (b != nullptr && b->module().name() == kModuleName &&
        static_cast<RbdBdev*>(b)->config().cluster_name == cluster) {
      out.push_back(name);
    }
  }
  for (const auto& [bdev, c] : pending_bdevs_) {
    if (c == cluster) out.push_back(bdev);
  }
  return out;
}

absl::Status RbdModule::UnregisterCluster(const std::string& name) {
  auto it = std::find_if(clusters_.begin(), clusters_.end(),
                         [&](const auto& c) { return c->options.name == name; });
  if (it == clusters_.end()) {
    return absl::NotFoundError(absl::StrCat("no cluster named \"", name, "\" is registered"));
  }
  std::vector<std::string> users = BdevsOfCluster(name);
  if (!users.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("cluster \"", name, "\" is used by bdev(s) ",
                                                      absl::StrJoin(users, ", "),
                                                      "; delete them first"));
  }
  std::shared_ptr<RbdCluster> cluster = std::move(*it);
  clusters_.erase(it);
  // rados_shutdown may wait on the cluster: on the worker.
  worker_.Post([cluster = std::move(cluster)]() mutable { cluster.reset(); });
  LOG_INFO("rbd: unregistered cluster %s", name);
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> RbdModule::ClustersInfo(const std::string& name) const {
  auto info = [](const RbdCluster& c) {
    const ClusterOptions& o = c.options;
    nlohmann::json j = {{"cluster_name", o.name}};
    if (!o.settings.user_id.empty()) j["user_id"] = o.settings.user_id;
    if (o.has_config_param) j["config_param"] = ConfPairsToJson(o.settings.config_param);
    if (!o.settings.config_file.empty()) j["config_file"] = o.settings.config_file;
    if (!o.settings.key_file.empty()) j["key_file"] = o.settings.key_file;
    return j;
  };
  if (!name.empty()) {
    for (const auto& c : clusters_) {
      if (c->options.name == name) return info(*c);
    }
    return absl::NotFoundError(absl::StrCat("no cluster named \"", name, "\" is registered"));
  }
  nlohmann::json all = nlohmann::json::array();
  for (const auto& c : clusters_) all.push_back(info(*c));
  return all;
}

std::string RbdModule::NextDefaultName() {
  for (;;) {
    std::string name = absl::StrCat("Ceph", next_index_++);
    bool pending = std::any_of(pending_bdevs_.begin(), pending_bdevs_.end(),
                               [&](const auto& p) { return p.first == name; });
    if (FindBdev(name) == nullptr && !pending) return name;
  }
}

void RbdModule::CreateBdev(RbdBdevConfig config,
                           std::function<void(absl::StatusOr<std::string>)> done) {
  if (config.pool_name.empty()) {
    return done(absl::InvalidArgumentError("\"pool_name\": must not be empty"));
  }
  if (config.rbd_name.empty()) {
    return done(absl::InvalidArgumentError("\"rbd_name\": must not be empty"));
  }
  if (config.block_size < 512 || !IsPowerOfTwo(config.block_size)) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("\"block_size\": ", config.block_size, " is not a power of two >= 512")));
  }
  std::shared_ptr<RbdCluster> cluster;
  if (!config.cluster_name.empty()) {
    if (!config.user_id.empty() || config.has_config) {
      return done(absl::InvalidArgumentError(
          "\"cluster_name\" cannot be combined with \"user_id\" or \"config\" (the registered "
          "cluster's settings apply)"));
    }
    for (const auto& c : clusters_) {
      if (c->options.name == config.cluster_name) cluster = c;
    }
    if (cluster == nullptr) {
      return done(absl::NotFoundError(
          absl::StrCat("\"cluster_name\": no cluster named \"", config.cluster_name,
                       "\" is registered (bdev_rbd_register_cluster)")));
    }
  }
  if (config.name.empty()) {
    config.name = NextDefaultName();
  } else {
    bool pending = std::any_of(pending_bdevs_.begin(), pending_bdevs_.end(),
                               [&](const auto& p) { return p.first == config.name; });
    if (pending || FindBdev(config.name) != nullptr) {
      return done(absl::AlreadyExistsError(
          absl::StrCat("\"name\": a bdev named \"", config.name, "\" already exists")));
    }
  }
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(config.uuid);
  if (!uuid.ok()) return done(uuid.status());
  config.uuid = *uuid;
  if (FindBdev(config.uuid) != nullptr) {
    return done(absl::AlreadyExistsError(
        absl::StrCat("\"uuid\": ", config.uuid, " is already a bdev's UUID")));
  }

  pending_bdevs_.emplace_back(config.name, config.cluster_name);
  worker_.Start();
  struct Opened {
    std::shared_ptr<RbdImage> image;
    uint64_t size = 0;
  };
  auto opened = std::make_shared<Opened>();
  RadosSettings own;  // without a registered cluster: the bdev's own connection
  own.user_id = config.user_id;
  own.config_param = config.config;
  const std::string what = absl::StrCat("of bdev \"", config.name, "\"");
  // Copied before the call: its two closures are built in no set order, and the
  // second moves `config`.
  const std::string pool = config.pool_name;
  const std::string rbd = config.rbd_name;
  worker_.Run(
      [cluster, own, what, opened, pool, rbd] {
        std::shared_ptr<RadosConnection> conn;
        if (cluster != nullptr) {
          conn = cluster->conn;
        } else {
          absl::StatusOr<std::unique_ptr<RadosConnection>> c = RadosConnection::Configure(own);
          if (!c.ok()) return c.status();
          if (absl::Status s = (*c)->Connect(what); !s.ok()) return s;
          conn = std::move(*c);
        }
        absl::StatusOr<std::shared_ptr<RbdImage>> image =
            RbdImage::Open(std::move(conn), pool, rbd);
        if (!image.ok()) return image.status();
        absl::StatusOr<uint64_t> size = (*image)->Size();
        if (!size.ok()) return size.status();  // the image closes here, on the worker
        opened->image = std::move(*image);
        opened->size = *size;
        return absl::OkStatus();
      },
      [this, config = std::move(config), opened, done = std::move(done)](absl::Status s) mutable {
        pending_bdevs_.erase(std::find_if(pending_bdevs_.begin(), pending_bdevs_.end(),
                                          [&](const auto& p) { return p.first == config.name; }));
        std::shared_ptr<RbdImage> image = std::move(opened->image);
        if (!s.ok()) return done(s);
        // From here on a failure closes the image on the worker (this copy is the last
        // reference once the bdev, if any, is gone).
        auto close_image = [this, &image] {
          worker_.Post([image = std::move(image)]() mutable { image.reset(); });
        };
        const uint64_t blocks = opened->size / config.block_size;
        if (blocks == 0) {
          close_image();
          return done(absl::InvalidArgumentError(
              absl::StrCat("\"block_size\": the image \"", config.rbd_name, "\" (", opened->size,
                           " bytes) is smaller than one block of ", config.block_size, " bytes")));
        }
        if (opened->size % config.block_size != 0) {
          LOG_NOTICE("rbd: %s: the image's last %lu bytes are not a whole block; not used",
                     config.name, static_cast<unsigned long>(opened->size % config.block_size));
        }
        BdevProperties props;
        props.name = config.name;
        props.uuid = config.uuid;
        props.product_name = "Ceph Rbd Disk";
        props.block_size = config.block_size;
        props.num_blocks = blocks;
        const std::string name = config.name;
        auto bdev =
            std::make_unique<RbdBdev>(this, std::move(props), std::move(config), image, worker_);
        bdev->RegisterIoDevice(absl::StrCat("rbd:", name));
        if (absl::Status r = RegisterBdev(std::move(bdev)); !r.ok()) {
          close_image();
          return done(r);
        }
        LOG_INFO("rbd: created bdev %s", name);
        done(name);
      });
}

void RbdModule::ResizeBdev(const std::string& name, uint64_t new_size_mib,
                           std::function<void(absl::Status)> done) {
  absl::Status error;
  RbdBdev* bdev = FindRbdBdev(name, &error);
  if (bdev == nullptr) return done(error);
  if (new_size_mib > std::numeric_limits<uint64_t>::max() / kMiB) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("\"new_size\": ", new_size_mib, " MiB is too large")));
  }
  const uint64_t new_bytes = new_size_mib * kMiB;
  const uint64_t current = bdev->num_blocks() * bdev->block_size();
  if (new_bytes < current) {
    return done(absl::InvalidArgumentError(absl::StrCat(
        "\"new_size\": ", new_size_mib, " MiB is smaller than the bdev's current size (", current,
        " bytes); shrinking is not supported")));
  }
  auto new_size = std::make_shared<uint64_t>(0);
  std::shared_ptr<RbdImage> image = bdev->image();
  worker_.Run(
      [image, new_bytes, new_size]() -> absl::Status {
        absl::StatusOr<uint64_t> size = image->Size();
        if (!size.ok()) return size.status();
        // Never shrinks: the image may already be larger than the bdev.
        if (*size < new_bytes) size = image->Resize(new_bytes);
        if (!size.ok()) return size.status();
        *new_size = *size;
        return absl::OkStatus();
      },
      [name, image, new_size, done = std::move(done)](absl::Status s) {
        if (!s.ok()) return done(s);
        absl::Status gone;
        RbdBdev* b = FindRbdBdev(name, &gone);
        if (b == nullptr || b->image() != image) {
          return done(absl::NotFoundError(
              absl::StrCat("bdev \"", name, "\" was deleted during the resize")));
        }
        b->Grow(*new_size / b->block_size());
        LOG_INFO("rbd: %s resized to %lu blocks", name,
                 static_cast<unsigned long>(b->num_blocks()));
        done(absl::OkStatus());
      });
}

void RbdModule::DeleteBdev(const std::string& name, std::function<void(absl::Status)> done) {
  UnregisterModuleBdev(name, *this, std::move(done));
}

RbdModule* GetRbdModule() { return static_cast<RbdModule*>(FindModule(kModuleName)); }

void RegisterRbdModule() { RegisterModule(std::make_unique<RbdModule>()); }

}  // namespace bdevkit::rbd
