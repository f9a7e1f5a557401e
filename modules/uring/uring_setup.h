// Setting up io_uring rings for the uring module, and the checks its create makes
// before any bdev exists (does this kernel have io_uring, can the device poll).
#ifndef BDEVKIT_MODULES_URING_URING_SETUP_H_
#define BDEVKIT_MODULES_URING_URING_SETUP_H_

#include <liburing.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "modules/aio/backing_file.h"
#include "modules/uring/uring_bdev.h"

namespace bdevkit::uring {

// Sets up a ring of options.queue_depth entries with the modes the options ask for
// (sqpoll, iopoll) and the best completion mode the kernel accepts (see the .cc).
// ring->flags says which flags it got. Returns 0 or a negative errno.
int SetupRing(const UringOptions& options, io_uring* ring);

// A failed ring setup as a status whose message says why, with SPDK's errno code.
absl::Status RingSetupError(int rc, const std::string& what);

// Keeps the ring's io-wq workers off the reactors' cores where the machine has others.
void KeepWorkersOffReactorCores(io_uring* ring);

// For iopoll: one polled read of block 0, so a device that cannot poll is refused at
// create with a clear message instead of failing every I/O later. Blocks briefly.
absl::Status ProbeIoPoll(const UringOptions& options, const BackingFile& file);

// Why registering an I/O buffer pool of `pool_size` bytes failed with `rc`, as a
// status naming fixed_buffers (and RLIMIT_MEMLOCK when the limit is the reason).
absl::Status FixedBuffersError(int rc, size_t pool_size);

// For fixed_buffers: registers a scratch region of the pool size with a ring set up
// like the channels' ones, so a limit that would refuse it fails create with a clear
// message. Blocks briefly (the registration pins the region's pages).
absl::Status ProbeFixedBuffers(const UringOptions& options);

}  // namespace bdevkit::uring

#endif  // BDEVKIT_MODULES_URING_URING_SETUP_H_
