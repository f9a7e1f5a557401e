// The uring module: bdevs over a file or block device, I/O through one io_uring per
// thread ("URING bdev"), O_DIRECT.
#ifndef BDEVKIT_MODULES_URING_URING_BDEV_H_
#define BDEVKIT_MODULES_URING_URING_BDEV_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bdevkit {

struct UringOptions {
  std::string name;                // required
  std::string filename;            // file or block device
  uint32_t block_size = 0;         // 0 = the device's logical block size
  std::string uuid;                // empty = generated
  uint32_t queue_depth = 512;      // submission queue entries per thread's ring
  bool sqpoll = false;             // a kernel thread polls the submission queue
  uint32_t sqpoll_idle_ms = 1000;  // ...and sleeps after this long without work
  bool iopoll = false;             // completions polled from the device (NVMe poll queues)
  // Register each thread's I/O buffer pool (bdevkit/io_buffer.h) with its ring: reads
  // and writes on a buffer from the pool use READ_FIXED / WRITE_FIXED.
  bool fixed_buffers = false;
};

// Counters of a uring bdev's I/O channels (one ring per thread), summed over the
// channels alive now. For tests and benchmarks: they count what the module did, which
// does not depend on the machine's speed.
struct UringStats {
  uint64_t channels = 0;               // threads with a ring
  uint64_t sleeping_channels = 0;      // ...whose ring signals a wake eventfd (reactor may sleep)
  uint64_t fixed_buffer_channels = 0;  // ...whose ring has the thread's I/O buffer pool registered
  uint64_t submitted = 0;              // SQEs handed to the kernel
  uint64_t completed = 0;              // completions reaped
  // io_uring_enter system calls the pollers made (with sqpoll: the wake-ups of the SQ
  // thread), and how many of them only collected completions (nothing to submit).
  uint64_t enters = 0;
  uint64_t reap_only_enters = 0;
  uint64_t fixed_rw = 0;  // reads/writes on a registered buffer (READ_FIXED / WRITE_FIXED)

  void Merge(const UringStats& o) {
    channels += o.channels;
    sleeping_channels += o.sleeping_channels;
    fixed_buffer_channels += o.fixed_buffer_channels;
    submitted += o.submitted;
    completed += o.completed;
    enters += o.enters;
    reap_only_enters += o.reap_only_enters;
    fixed_rw += o.fixed_rw;
  }
};

// Creates and registers a uring bdev; returns its name. Errors as BackingFile::Open
// (modules/aio/backing_file.h) plus: kFailedPrecondition when the kernel has no
// usable io_uring (message says so; JSON-RPC code -ENOSYS / -EPERM) or a requested
// mode (sqpoll, iopoll) is refused, or fixed_buffers is asked and a ring cannot
// register an I/O buffer pool of IoBufferPoolSize() bytes (the message names the
// locked-memory limit when that is why); kAlreadyExists for a taken name or UUID.
// Nothing is left behind on error. App thread; blocks briefly (open, ioctl, one ring
// setup, and with fixed_buffers one registration of a scratch region of the pool size).
absl::StatusOr<std::string> CreateUringBdev(const UringOptions& options);

// Unregisters a uring bdev; `done` runs on the app thread once it is gone (I/O in
// flight completes first). kNotFound if no uring bdev has that name. App thread.
void DeleteUringBdev(const std::string& name, std::function<void(absl::Status)> done);

// Sums the counters of the uring bdev `name`'s channels; `done` runs on the app
// thread (kNotFound if there is no such uring bdev). App thread; never blocks.
void GetUringStats(const std::string& name, std::function<void(absl::StatusOr<UringStats>)> done);

// Whether this kernel lets the process set up an io_uring: OK, or an error whose
// message says why (no io_uring in the kernel, disabled by sysctl or a seccomp
// policy). Any thread; one io_uring_setup + close.
absl::Status ProbeIoUring();

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_URING_URING_BDEV_H_
