// An error-injection bdev: a passthrough over its base that fails, holds, corrupts or
// refuses chosen I/O (InjectionTable).
#ifndef BDEVKIT_MODULES_ERROR_ERROR_BDEV_H_
#define BDEVKIT_MODULES_ERROR_ERROR_BDEV_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "modules/error/error_injection.h"
#include "modules/error/error_module.h"

namespace bdevkit::error {

class ErrorBdev final : public Bdev, public IoDevice {
 public:
  // `config` (which owns `base`) outlives the bdev: it is told when the bdev is gone.
  ErrorBdev(ErrorModule* module, BdevProperties props, ErrorConfig* config, BdevDesc* base);

  bool IoTypeSupported(IoType type) const override;
  InjectionTable& injections() { return injections_; }

  // Sends the I/O held by "pending" (and any waiting for a "nomem" retry) on to the
  // base, after disarming the pending injections (bdev_error_resume_pending). `done`
  // on the calling thread once every channel did. Runtime thread.
  void ResumePending(std::function<void()> done);
  // Completes the held I/O with `status` on every channel (reset, removal).
  void FailHeld(IoStatus status, std::function<void()> done);

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override;
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override;
  void DumpInfoJson(nlohmann::json& driver_specific) const override;
  // Written by the module (ErrorModule::WriteConfigJson).
  void WriteConfigJson(nlohmann::json& /*config*/) const override {}
  std::unique_ptr<ChannelContext> CreateChannelContext() override;
  void OnChannelDestroy(ChannelContext& ctx) override;

 private:
  ErrorModule* const error_module_;
  ErrorConfig* const config_;
  BdevDesc* const base_;
  uint32_t supported_ = 0;  // bit per IoType
  InjectionTable injections_;
};

}  // namespace bdevkit::error

#endif  // BDEVKIT_MODULES_ERROR_ERROR_BDEV_H_
