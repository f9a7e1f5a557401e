// An example of a bdev module written outside bdevkit's tree: a passthrough virtual
// bdev that "encrypts" by XOR-ing every byte with a key on its way to the base bdev
// (a toy cipher: the point is the module, not the cryptography). Built as a plugin
// (libbdev_xor.so) that bdevd loads with --load-module; docs/modules.md walks through it.
//
//   bdev_xor_create {name, base_bdev, key?, uuid?}   bdev_xor_delete {name}
//
// Everything except the I/O path runs on the app thread.
#ifndef BDEVKIT_EXAMPLES_XOR_VBDEV_XOR_VBDEV_H_
#define BDEVKIT_EXAMPLES_XOR_VBDEV_XOR_VBDEV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"

namespace xor_vbdev {

inline constexpr char kModuleName[] = "xor";
// Writes are XOR-ed into a buffer of the channel's; the core splits larger I/O.
inline constexpr uint32_t kMaxTransferBytes = 64 * 1024;
inline constexpr int kBuffersPerChannel = 16;

// One bdev_xor_create: kept while its base is missing, so the XOR bdev appears when
// the base does (examine), goes when the base is removed and comes back with it.
struct XorConfig {
  std::string name;
  std::string base;
  uint8_t key = 0;
  std::string uuid;
  std::unique_ptr<bdevkit::BdevDesc> base_desc;  // open and claimed while the bdev exists
  bool registered = false;                       // the XOR bdev exists (until Destruct)
  bool deleting = false;
  std::function<void()> on_gone;  // bdev_xor_delete's reply, once Destruct ran
};

class XorBdev final : public bdevkit::Bdev, public bdevkit::IoDevice {
 public:
  XorBdev(bdevkit::BdevModule* module, bdevkit::BdevProperties props, XorConfig* config);

  bool IoTypeSupported(bdevkit::IoType type) const override;
  uint8_t key() const;

 protected:
  // The operation table.
  void SubmitIo(bdevkit::IoChannel& ch, bdevkit::BdevIo& io) override;
  bdevkit::IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override;
  void DumpInfoJson(nlohmann::json& driver_specific) const override;
  // The module writes bdev_xor_create for every config (XorModule::WriteConfigJson).
  void WriteConfigJson(nlohmann::json& /*config*/) const override {}
  // Per-thread state: the base's channel and the write buffers.
  std::unique_ptr<bdevkit::ChannelContext> CreateChannelContext() override;
  void OnChannelDestroy(bdevkit::ChannelContext& ctx) override;

 private:
  XorConfig* const config_;
};

class XorModule final : public bdevkit::BdevModule {
 public:
  XorModule() : BdevModule(kModuleName) {}

  // bdev_xor_create: the XOR bdev now if its base exists, else when it appears.
  // kInvalidArgument / kAlreadyExists naming the problem; nothing left on error.
  absl::StatusOr<std::string> Create(const std::string& name, const std::string& base, uint64_t key,
                                     const std::string& uuid);
  // bdev_xor_delete: unregisters the bdev (waiting for its users), releases the base.
  void Delete(const std::string& name, std::function<void(absl::Status)> done);

  void Examine(bdevkit::Bdev& bdev) override;
  void WriteConfigJson(nlohmann::json& config) const override;
  void Fini() override { configs_.clear(); }

  // From XorBdev::Destruct.
  void OnBdevGone(XorConfig* config);

 private:
  XorConfig* Find(const std::string& name) const;
  absl::Status Activate(XorConfig& config);
  void Forget(XorConfig* config);

  std::vector<std::unique_ptr<XorConfig>> configs_;
};

}  // namespace xor_vbdev

#endif  // BDEVKIT_EXAMPLES_XOR_VBDEV_XOR_VBDEV_H_
