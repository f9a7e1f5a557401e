// An RBD image as a bdev ("Ceph Rbd Disk"): one librbd image handle shared by every
// thread's channel (librbd's aio calls are thread-safe and, with its default
// rbd_non_blocking_aio, only queue the request), completions handed back to the
// submitting thread by message (rbd_completion.h).
#ifndef BDEVKIT_MODULES_RBD_RBD_BDEV_H_
#define BDEVKIT_MODULES_RBD_RBD_BDEV_H_

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "modules/rbd/rados_connection.h"

namespace bdevkit::rbd {

// An open image: the connection it uses (shared with the other bdevs of a registered
// cluster, or its own), its pool's I/O context and the image handle. Opening and
// closing block on the cluster: worker thread only. The last reference must be
// dropped on the worker thread too (the destructor closes).
class RbdImage {
 public:
  // Opens pool/image over `conn` (connected). Errors name pool_name or rbd_name and
  // carry librbd's errno as JSON-RPC code (-2 for a missing pool or image).
  static absl::StatusOr<std::shared_ptr<RbdImage>> Open(std::shared_ptr<RadosConnection> conn,
                                                        const std::string& pool_name,
                                                        const std::string& rbd_name);
  ~RbdImage() { Close(); }
  RbdImage(const RbdImage&) = delete;
  RbdImage& operator=(const RbdImage&) = delete;

  // The image's size in bytes (librbd's cached value). Any thread.
  absl::StatusOr<uint64_t> Size() const;
  // Grows the image (rbd_resize) and returns the new size. Worker thread.
  absl::StatusOr<uint64_t> Resize(uint64_t new_size_bytes);
  // Closes the image (waits for librbd's in-flight I/O) and releases the connection.
  // Worker thread; idempotent.
  void Close();

  rbd_image_t handle() const { return image_; }

 private:
  RbdImage() = default;
  std::shared_ptr<RadosConnection> conn_;
  rados_ioctx_t ioctx_ = nullptr;
  rbd_image_t image_ = nullptr;
};

// What bdev_rbd_create was given (save_config writes it back).
struct RbdBdevConfig {
  std::string name;
  std::string pool_name;
  std::string rbd_name;
  uint32_t block_size = 0;
  std::string cluster_name;  // a registered cluster, or empty
  std::string user_id;       // without cluster_name
  ConfPairs config;          // without cluster_name ("config" param)
  bool has_config = false;   // "config" was given (even empty)
  std::string uuid;
};

class RbdWorker;

class RbdBdev : public Bdev, public IoDevice {
 public:
  RbdBdev(BdevModule* module, BdevProperties props, RbdBdevConfig config,
          std::shared_ptr<RbdImage> image, RbdWorker& worker);

  bool IoTypeSupported(IoType type) const override;
  const RbdBdevConfig& config() const { return config_; }
  const std::shared_ptr<RbdImage>& image() const { return image_; }
  // Takes a new size (in blocks) from a resize: a larger one notifies every open
  // descriptor (kResize). App thread.
  void Grow(uint64_t new_num_blocks);

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override;
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override;
  void DumpInfoJson(nlohmann::json& driver_specific) const override;
  void WriteConfigJson(nlohmann::json& config) const override;
  std::unique_ptr<ChannelContext> CreateChannelContext() override;

 private:
  friend class RbdChannel;
  void StartAio(class RbdChannel& ch, BdevIo& io);
  void CheckResetDrained(class RbdChannel& ch, BdevIo& io);

  const RbdBdevConfig config_;
  std::shared_ptr<RbdImage> image_;
  RbdWorker& worker_;
};

}  // namespace bdevkit::rbd

#endif  // BDEVKIT_MODULES_RBD_RBD_BDEV_H_
