// The aio module: bdevs over a file or block device, I/O through Linux AIO (libaio)
// with one io_context per thread ("AIO disk"), O_DIRECT.
#ifndef BDEVKIT_MODULES_AIO_AIO_BDEV_H_
#define BDEVKIT_MODULES_AIO_AIO_BDEV_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bdevkit {

struct AioOptions {
  std::string name;         // required
  std::string filename;     // file or block device
  uint32_t block_size = 0;  // 0 = the device's logical block size
  bool readonly = false;    // open read-only; writes are refused
  bool fallocate = false;   // write_zeroes and unmap via fallocate (SPDK's opt-in)
  std::string uuid;         // empty = generated
  bool nowait = false;      // RWF_NOWAIT: I/O that would block is retried without it
};

// Creates and registers an aio bdev; returns its name. Errors as BackingFile::Open
// (backing_file.h), plus kAlreadyExists for a taken name or UUID. Nothing is left
// behind on error. App thread; blocks briefly (open, stat, ioctl).
absl::StatusOr<std::string> CreateAioBdev(const AioOptions& options);

// Unregisters an aio bdev; `done` runs on the app thread once it is gone (I/O in
// flight completes first). kNotFound if no aio bdev has that name. App thread.
void DeleteAioBdev(const std::string& name, std::function<void(absl::Status)> done);

// Re-reads the size of the bdev's file or device; if it grew, the bdev grows and
// open descriptors get a resize event. kNotFound (no such aio bdev),
// kFailedPrecondition (it shrank: not supported). App thread.
absl::Status RescanAioBdev(const std::string& name);

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_AIO_AIO_BDEV_H_
