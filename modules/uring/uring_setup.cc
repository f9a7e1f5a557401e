// Ring setup for the uring module: which flags to ask for and why, and the probes
// create makes before any bdev exists.
#include "modules/uring/uring_setup.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bdevkit/io_buffer.h"
#include "bdevkit/runtime.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace uring {
namespace {

unsigned SetupFlags(const UringOptions& o) {
  unsigned flags = 0;
  if (o.sqpoll) flags |= IORING_SETUP_SQPOLL;
  if (o.iopoll) flags |= IORING_SETUP_IOPOLL;
  return flags;
}

}  // namespace

// The completion mode, without SQPOLL (a kernel thread then submits and completes):
// - SINGLE_ISSUER: only the channel's own thread ever submits to its ring (one ring
//   per thread), so the kernel may skip the ring's submission lock; DEFER_TASKRUN
//   requires it.
// - DEFER_TASKRUN (Linux >= 6.1): the kernel keeps completion work until we enter with
//   GETEVENTS, instead of interrupting the thread to post it at an arbitrary point. A
//   busy poller is never interrupted, and completions are posted in batches, inside an
//   enter we make anyway to submit.
// - TASKRUN_FLAG: the kernel sets IORING_SQ_TASKRUN in the SQ ring's flags when such
//   work waits, so the poller can tell from user space whether entering would find
//   completions, and does not enter on passes where it would not.
// - else COOP_TASKRUN (Linux >= 5.19): work is run at the thread's next kernel
//   transition without an inter-processor interrupt; same flag.
// - else (older kernels refuse the flags with EINVAL) a plain ring: completions are
//   posted by interrupting the thread, and show up in the CQ without an enter.
// Measured on a loop device at QD 1: DEFER/COOP ~20% more IOPS than the plain ring
// (docs/benchmarks.md). The poller (uring_channel.cc) reads ring->flags to know which
// mode it got.
int SetupRing(const UringOptions& o, io_uring* ring) {
  io_uring_params p{};
  if (o.sqpoll) {
    p.flags = SetupFlags(o);
    p.sq_thread_idle = o.sqpoll_idle_ms;
    return io_uring_queue_init_params(o.queue_depth, ring, &p);
  }
  const unsigned modes[] = {
      IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_TASKRUN_FLAG,
      0,
  };
  int rc = -EINVAL;
  for (int i = 0; i < 3 && rc == -EINVAL; ++i) {
    p = {};
    p.flags = SetupFlags(o) | modes[i];
    rc = io_uring_queue_init_params(o.queue_depth, ring, &p);
  }
  return rc;
}

absl::Status RingSetupError(int rc, const std::string& what) {
  std::string why;
  switch (-rc) {
    case ENOSYS:
      why =
          "this kernel has no io_uring (built without CONFIG_IO_URING); bdev_aio_create works "
          "without it";
      break;
    case EPERM:
    case EACCES:
      why =
          "io_uring is disabled for this process (sysctl kernel.io_uring_disabled, or a "
          "seccomp/container policy); bdev_aio_create works without it";
      break;
    case ENOMEM:
      why = "not enough locked memory for the ring (raise RLIMIT_MEMLOCK or lower queue_depth)";
      break;
    default:
      why = std::strerror(-rc);
  }
  return WithJsonRpcCode(absl::FailedPreconditionError(absl::StrCat(what, ": ", why)), rc);
}

// io_uring hands I/O it cannot issue without blocking (O_DIRECT on tmpfs, buffered
// fallbacks) to io-wq worker threads, which inherit the submitter's CPU affinity: on
// the reactor's own core they would compete with the busy-polling reactor for the
// CPU. Where the machine has cores without a reactor, keep the workers there.
void KeepWorkersOffReactorCores(io_uring* ring) {
  std::vector<int> reactors = Runtime::Options().cores;
  if (reactors.empty()) reactors.push_back(0);
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  for (int cpu = 0; cpu < ncpu && cpu < CPU_SETSIZE; ++cpu) {
    if (std::find(reactors.begin(), reactors.end(), cpu) == reactors.end()) CPU_SET(cpu, &mask);
  }
  if (CPU_COUNT(&mask) > 0) io_uring_register_iowq_aff(ring, sizeof(mask), &mask);
}

// iopoll needs a device with polled queues; a file on most setups answers
// -EOPNOTSUPP only when an I/O is tried. Try one read of block 0 now, so the create
// fails with a clear message instead of every I/O failing later.
absl::Status ProbeIoPoll(const UringOptions& o, const BackingFile& file) {
  io_uring ring;
  int rc = SetupRing(o, &ring);
  if (rc < 0) return RingSetupError(rc, "\"iopoll\": cannot set up a polled ring");
  const uint32_t align = file.buffer_alignment();
  void* buf = std::aligned_alloc(align, (file.block_size() + align - 1) / align * align);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_read(sqe, file.fd(), buf, file.block_size(), 0);
  io_uring_submit(&ring);
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{1, 0};
  rc = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
  int res = rc < 0 ? rc : cqe->res;
  io_uring_queue_exit(&ring);
  std::free(buf);
  if (res < 0) {
    return WithJsonRpcCode(absl::FailedPreconditionError(absl::StrCat(
                               "\"iopoll\": ", file.filename(), " does not support polled I/O (",
                               std::strerror(-res), "); create it without iopoll")),
                           res);
  }
  return absl::OkStatus();
}

absl::Status FixedBuffersError(int rc, size_t pool_size) {
  std::string why = std::strerror(-rc);
  if (rc == -ENOMEM) {
    // Without CAP_IPC_LOCK, the kernel counts the pinned pages against RLIMIT_MEMLOCK,
    // once per ring that registers them.
    rlimit lim{};
    getrlimit(RLIMIT_MEMLOCK, &lim);
    absl::StrAppend(&why, "; the locked-memory limit (RLIMIT_MEMLOCK) is ",
                    lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                  : absl::StrCat(lim.rlim_cur / 1024, " KiB"),
                    ": raise it (ulimit -l), or make the pool smaller (SetIoBufferPoolSize)");
  }
  return WithJsonRpcCode(absl::FailedPreconditionError(
                             absl::StrCat("\"fixed_buffers\": cannot register a ", pool_size / 1024,
                                          " KiB I/O buffer pool with io_uring: ", why)),
                         rc);
}

absl::Status ProbeFixedBuffers(const UringOptions& o) {
  io_uring ring;
  int rc = SetupRing(o, &ring);
  if (rc < 0) return RingSetupError(rc, "cannot set up a ring");
  const size_t size = IoBufferPoolSize();
  void* region = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) {
    io_uring_queue_exit(&ring);
    return FixedBuffersError(-errno, size);
  }
  const iovec iov{region, size};
  rc = io_uring_register_buffers(&ring, &iov, 1);
  io_uring_queue_exit(&ring);  // unregisters and unpins
  munmap(region, size);
  return rc < 0 ? FixedBuffersError(rc, size) : absl::OkStatus();
}

}  // namespace uring

absl::Status ProbeIoUring() {
  io_uring ring;
  int rc = io_uring_queue_init(2, &ring, 0);
  if (rc < 0) return uring::RingSetupError(rc, "cannot use io_uring");
  io_uring_queue_exit(&ring);
  return absl::OkStatus();
}

}  // namespace bdevkit
