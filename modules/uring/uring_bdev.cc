// The uring backend: each thread's channel owns an io_uring. SubmitIo only fills
// submission queue entries; the channel's poller submits them all with one
// io_uring_submit per pass and reaps completions from the shared completion ring
// without a system call.
#include "modules/uring/uring_bdev.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "modules/aio/backing_file.h"
#include "modules/aio/direct_io.h"
#include "nlohmann/json.hpp"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

constexpr char kModuleName[] = "uring";
// Completions taken from the ring per batch.
constexpr unsigned kReapBatch = 64;

class UringModule : public BdevModule {
 public:
  UringModule() : BdevModule(kModuleName) {}
};

// Per-I/O state, in the BdevIo's driver context.
struct UringTask {
  BdevIo* next;        // the channel's backlog, when the ring is full
  void* bounce;        // our own buffer for segments O_DIRECT cannot take (rare)
  bool zero_by_punch;  // write_zeroes retried as a punched hole (tmpfs has no ZERO_RANGE)
};

unsigned SetupFlags(const UringOptions& o) {
  unsigned flags = 0;
  if (o.sqpoll) flags |= IORING_SETUP_SQPOLL;
  if (o.iopoll) flags |= IORING_SETUP_IOPOLL;
  return flags;
}

// Sets up a ring. Without SQPOLL, the kernel is asked to keep completion work until
// we enter it (DEFER_TASKRUN, Linux >= 6.1; else COOP_TASKRUN, >= 5.19), so a busy
// poller is never interrupted, and to flag that it has some (TASKRUN_FLAG). The poller
// then needs at most one io_uring_enter per pass: submit + collect together. Measured
// on a loop device at QD 1: ~20% more IOPS than the plain setup (see
// docs/benchmarks.md). Older kernels refuse the flags (EINVAL): try the next setup.
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

class UringBdev;

class UringChannel : public ChannelContext {
 public:
  UringChannel(UringBdev& bdev, const io_uring& ring, bool fixed_file)
      : bdev_(bdev), ring_(ring), fixed_file_(fixed_file), thread_(Thread::Current()) {
    poller_ = thread_->RegisterPoller([this] { return Poll(); }, absl::ZeroDuration(), "uring");
  }
  ~UringChannel() override {
    thread_->UnregisterPoller(poller_);
    if (inflight_ != 0 || queued_ != 0 || backlog_head_ != nullptr) {
      LOG_ERROR("uring: channel destroyed with I/O outstanding (%d in flight)", inflight_);
    }
    io_uring_queue_exit(&ring_);
  }

  void Submit(BdevIo& io);

 private:
  void Enqueue(BdevIo& io);
  bool TryPrepare(BdevIo& io);
  PollStatus Poll();
  void Complete(BdevIo& io, int res);

  UringBdev& bdev_;
  io_uring ring_;
  const bool fixed_file_;
  Thread* const thread_;
  Poller* poller_ = nullptr;
  uint32_t queued_ = 0;    // prepared, not yet handed to the kernel
  uint32_t inflight_ = 0;  // handed to the kernel, not yet completed
  BdevIo* backlog_head_ = nullptr;
  BdevIo* backlog_tail_ = nullptr;
};

class UringBdev : public Bdev, public IoDevice {
 public:
  UringBdev(BdevModule* module, BdevProperties props, std::unique_ptr<BackingFile> file,
            UringOptions options)
      : Bdev(module, std::move(props)), file_(std::move(file)), options_(std::move(options)) {}

  bool IoTypeSupported(IoType type) const override {
    switch (type) {
      case IoType::kRead:
      case IoType::kFlush:
        return true;
      case IoType::kWrite:
      case IoType::kWriteZeroes:
        return !file_->readonly();
      case IoType::kUnmap:
        return !file_->readonly() && file_->unmap_supported();
      case IoType::kReset:
        return false;  // the core drains outstanding I/O instead
    }
    return false;
  }

  const BackingFile& file() const { return *file_; }
  const UringOptions& options() const { return options_; }

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override { ch.ctx<UringChannel>().Submit(io); }
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override { UnregisterIoDevice(std::move(done)); }

  void DumpInfoJson(nlohmann::json& driver_specific) const override {
    driver_specific["uring"] = {{"filename", file_->filename()},
                                {"readonly", file_->readonly()},
                                {"queue_depth", options_.queue_depth},
                                {"sqpoll", options_.sqpoll},
                                {"sqpoll_idle_ms", options_.sqpoll_idle_ms},
                                {"iopoll", options_.iopoll},
                                {"fixed_buffers", options_.fixed_buffers}};
  }

  void WriteConfigJson(nlohmann::json& config) const override {
    config.push_back({{"method", "bdev_uring_create"},
                      {"params",
                       {{"name", name()},
                        {"filename", file_->filename()},
                        {"block_size", block_size()},
                        {"uuid", uuid()},
                        {"queue_depth", options_.queue_depth},
                        {"sqpoll", options_.sqpoll},
                        {"sqpoll_idle_ms", options_.sqpoll_idle_ms},
                        {"iopoll", options_.iopoll},
                        {"fixed_buffers", options_.fixed_buffers}}}});
  }

  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    io_uring ring;
    int rc = SetupRing(options_, &ring);
    if (rc < 0) {
      LOG_ERROR("uring: %s: cannot set up a ring: %s", name(), std::strerror(-rc));
      return nullptr;
    }
    // A registered file saves the kernel a file-table lookup and reference per I/O.
    int fd = file_->fd();
    bool fixed = io_uring_register_files(&ring, &fd, 1) == 0;
    KeepWorkersOffReactorCores(&ring);
    return std::make_unique<UringChannel>(*this, ring, fixed);
  }

 private:
  std::unique_ptr<BackingFile> file_;
  const UringOptions options_;
};

void UringChannel::Submit(BdevIo& io) {
  UringTask& t = io.driver_ctx<UringTask>();
  t.next = nullptr;
  t.bounce = nullptr;
  t.zero_by_punch = false;
  if ((io.type == IoType::kRead || io.type == IoType::kWrite) &&
      !direct_io::SegmentsFit(io, bdev_.file().logical_block_size())) {
    t.bounce = direct_io::AllocBounce(io, bdev_.file().buffer_alignment());
    if (t.bounce == nullptr) {
      CompleteIo(io, IoStatus::Error(-ENOMEM));
      return;
    }
  }
  Enqueue(io);
}

void UringChannel::Enqueue(BdevIo& io) {
  // Keep order: nothing overtakes the backlog.
  io.driver_ctx<UringTask>().next = nullptr;
  if (backlog_head_ != nullptr || !TryPrepare(io)) {
    if (backlog_tail_ != nullptr) {
      backlog_tail_->driver_ctx<UringTask>().next = &io;
    } else {
      backlog_head_ = &io;
    }
    backlog_tail_ = &io;
  }
}

// Fills one SQE for `io`; false when the ring has no room (the I/O waits).
bool UringChannel::TryPrepare(BdevIo& io) {
  // Never more in the kernel than the completion ring can hold without overflowing.
  if (queued_ + inflight_ >= bdev_.options().queue_depth) return false;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return false;
  UringTask& t = io.driver_ctx<UringTask>();
  const int fd = fixed_file_ ? 0 : bdev_.file().fd();
  const uint64_t offset = io.offset_blocks * bdev_.block_size();
  const uint64_t len = io.num_blocks * bdev_.block_size();
  iovec* iovs = io.iovs;
  int iovcnt = io.iovcnt;
  if (t.bounce != nullptr) {
    // The task has no room for an iovec of its own; a plain read/write needs none.
    iovs = nullptr;
    iovcnt = 0;
  }
  switch (io.type) {
    case IoType::kRead:
      if (iovs == nullptr) {
        io_uring_prep_read(sqe, fd, t.bounce, len, offset);
      } else if (iovcnt == 1) {
        // The common case: a plain read spares the kernel copying in an iovec array.
        io_uring_prep_read(sqe, fd, iovs[0].iov_base, len, offset);
      } else {
        io_uring_prep_readv(sqe, fd, iovs, iovcnt, offset);
      }
      break;
    case IoType::kWrite:
      if (iovs == nullptr) {
        io_uring_prep_write(sqe, fd, t.bounce, len, offset);
      } else if (iovcnt == 1) {
        io_uring_prep_write(sqe, fd, iovs[0].iov_base, len, offset);
      } else {
        io_uring_prep_writev(sqe, fd, iovs, iovcnt, offset);
      }
      break;
    case IoType::kFlush:
      // Data written with O_DIRECT may still sit in the device's volatile cache, and
      // a file's newly allocated extents in the journal: fdatasync covers both.
      io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      break;
    case IoType::kWriteZeroes:
      // Files: the filesystem zeroes (or unwrites) the extents. Block devices: the
      // kernel issues WRITE ZEROES, or writes zero pages where the device cannot
      // (BLKZEROOUT semantics).
      io_uring_prep_fallocate(
          sqe, fd,
          (t.zero_by_punch ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) | FALLOC_FL_KEEP_SIZE,
          offset, len);
      break;
    case IoType::kUnmap:
      // Files: deallocate the range (it reads back as zeroes). Block devices
      // (Linux >= 6.1): write zeroes with deallocation and no slow fallback.
      io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
      break;
    case IoType::kReset:
      io_uring_prep_nop(sqe);
      break;
  }
  if (fixed_file_) sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(sqe, &io);
  ++queued_;
  return true;
}

PollStatus UringChannel::Poll() {
  bool busy = false;
  // 1. The backlog, in order, as far as the ring has room.
  while (backlog_head_ != nullptr && TryPrepare(*backlog_head_)) {
    BdevIo* io = backlog_head_;
    backlog_head_ = io->driver_ctx<UringTask>().next;
    if (backlog_head_ == nullptr) backlog_tail_ = nullptr;
  }
  // 2. At most one system call per pass: submit everything prepared since the last
  //    pass and, in the same call, let the kernel post the completions it has pending
  //    for us (deferred task work; with IOPOLL, polling the device). With nothing to
  //    submit, enter only when the kernel flags pending completion work.
  if (queued_ > 0) {
    int rc = io_uring_submit_and_get_events(&ring_);
    if (rc >= 0) {
      queued_ -= static_cast<uint32_t>(rc);
      inflight_ += static_cast<uint32_t>(rc);
      busy = true;
    } else if (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
      LOG_ERROR("uring: %s: io_uring_submit: %s", bdev_.name(), std::strerror(-rc));
    }  // else: the kernel is short of resources or completions; retry next pass
  } else if (inflight_ > 0 && (bdev_.options().iopoll ||
                               (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0)) {
    io_uring_get_events(&ring_);
  }
  // 3. Completions: copied out and the ring advanced first, because a completion
  //    callback may submit again (into this ring; sent on the next pass).
  io_uring_cqe* cqes[kReapBatch];
  unsigned n;
  while ((n = io_uring_peek_batch_cqe(&ring_, cqes, kReapBatch)) > 0) {
    BdevIo* ios[kReapBatch];
    int res[kReapBatch];
    for (unsigned i = 0; i < n; ++i) {
      ios[i] = static_cast<BdevIo*>(io_uring_cqe_get_data(cqes[i]));
      res[i] = cqes[i]->res;
    }
    io_uring_cq_advance(&ring_, n);
    inflight_ -= n;
    for (unsigned i = 0; i < n; ++i) Complete(*ios[i], res[i]);
    busy = true;
  }
  return busy ? PollStatus::kBusy : PollStatus::kIdle;
}

void UringChannel::Complete(BdevIo& io, int res) {
  UringTask& t = io.driver_ctx<UringTask>();
  if (io.type == IoType::kWriteZeroes && res == -EOPNOTSUPP && !t.zero_by_punch &&
      !bdev_.file().is_block_device()) {
    // tmpfs and some others punch holes but cannot ZERO_RANGE; a hole reads as zeroes.
    t.zero_by_punch = true;
    Enqueue(io);
    return;
  }
  IoStatus status;
  switch (io.type) {
    case IoType::kRead:
    case IoType::kWrite:
      status = direct_io::RwResult(res, io.num_blocks * bdev_.block_size());
      break;
    default:
      status = res < 0 ? IoStatus::Error(res) : IoStatus::Success();
  }
  if (t.bounce != nullptr) direct_io::CopyOutAndFree(io, t.bounce, status.ok());
  CompleteIo(io, status);
}

std::string CheckOptions(const UringOptions& o) {
  if (o.name.empty()) return "\"name\": must not be empty";
  if (o.queue_depth == 0 || o.queue_depth > 32768) {
    return absl::StrCat("\"queue_depth\": must be 1..32768, got ", o.queue_depth);
  }
  if (o.sqpoll && o.iopoll) return "\"iopoll\": cannot be combined with sqpoll here";
  // Refused rather than silently ignored: registering buffers needs a per-thread
  // buffer pool the core does not offer modules yet (see README).
  if (o.fixed_buffers) return "\"fixed_buffers\": not supported yet (must be false)";
  return "";
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

}  // namespace

absl::Status ProbeIoUring() {
  io_uring ring;
  int rc = io_uring_queue_init(2, &ring, 0);
  if (rc < 0) return RingSetupError(rc, "cannot use io_uring");
  io_uring_queue_exit(&ring);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CreateUringBdev(const UringOptions& options) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr) return absl::FailedPreconditionError("the uring module is not registered");
  if (std::string err = CheckOptions(options); !err.empty()) {
    return absl::InvalidArgumentError(err);
  }
  BdevProperties props;
  props.name = options.name;
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(options.uuid);
  if (!uuid.ok()) return uuid.status();
  props.uuid = *uuid;
  if (absl::Status s = ProbeIoUring(); !s.ok()) return s;
  // Channels set their rings up lazily, on the thread that first does I/O: check now
  // that the requested kind of ring can exist at all.
  {
    io_uring ring;
    int rc = SetupRing(options, &ring);
    if (rc < 0) {
      return RingSetupError(
          rc,
          absl::StrCat("cannot set up a ring with queue_depth ", options.queue_depth,
                       options.sqpoll ? " and sqpoll" : "", options.iopoll ? " and iopoll" : ""));
    }
    io_uring_queue_exit(&ring);
  }
  absl::StatusOr<std::unique_ptr<BackingFile>> file =
      BackingFile::Open({options.filename, options.block_size, /*readonly=*/false});
  if (!file.ok()) return file.status();
  if (options.iopoll) {
    if (absl::Status s = ProbeIoPoll(options, **file); !s.ok()) return s;
  }
  props.product_name = "URING bdev";
  (*file)->FillGeometry(props);
  if ((*file)->readonly()) {
    LOG_NOTICE("uring: %s: %s is not writable; the bdev is read-only", options.name,
               options.filename);
  }
  auto bdev = std::make_unique<UringBdev>(module, std::move(props), std::move(*file), options);
  bdev->RegisterIoDevice(absl::StrCat("uring:", options.name));
  // On failure RegisterBdev destroys the bdev, which closes and releases the file.
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) return s;
  LOG_INFO("created uring bdev %s on %s", options.name, options.filename);
  return options.name;
}

void DeleteUringBdev(const std::string& name, std::function<void(absl::Status)> done) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr)
    return done(absl::FailedPreconditionError("the uring module is not registered"));
  UnregisterModuleBdev(name, *module, std::move(done));
}

void RegisterUringModule() { RegisterModule(std::make_unique<UringModule>()); }

}  // namespace bdevkit
