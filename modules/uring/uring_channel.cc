// The uring channel's I/O path. SubmitIo only fills submission queue entries; the
// channel's poller makes at most one io_uring_enter per pass (submitting everything
// prepared and collecting completions together) and reaps completions from the shared
// completion ring without a system call.
#include "modules/uring/uring_channel.h"

#include <linux/falloc.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "modules/aio/direct_io.h"
#include "modules/uring/uring_setup.h"

namespace bdevkit {
namespace {

// Completions taken from the ring per batch.
constexpr unsigned kReapBatch = 64;

// Holding submissions back (HoldSubmission): only with at least this many I/Os in
// flight, and at most 1 / kHoldShare of them.
constexpr uint32_t kHoldMinInflight = 8;
constexpr uint32_t kHoldShare = 8;

// Per-I/O state, in the BdevIo's driver context.
struct UringTask {
  BdevIo* next;        // the channel's backlog, when the ring is full
  void* bounce;        // our own buffer for segments O_DIRECT cannot take (rare)
  bool zero_by_punch;  // write_zeroes retried as a punched hole (tmpfs has no ZERO_RANGE)
};

}  // namespace

std::unique_ptr<UringChannel> UringChannel::Create(const Target& target) {
  io_uring ring;
  int rc = uring::SetupRing(target.options, &ring);
  if (rc < 0) {
    LOG_ERROR("uring: %s: cannot set up a ring: %s", target.name, std::strerror(-rc));
    return nullptr;
  }
  // A registered file saves the kernel a file-table lookup and reference per I/O.
  int fd = target.file.fd();
  bool fixed_file = io_uring_register_files(&ring, &fd, 1) == 0;
  uring::KeepWorkersOffReactorCores(&ring);
  IoBufferPool* pool = nullptr;
  if (target.options.fixed_buffers) {
    // Registered once, the pool's pages stay pinned and mapped in the kernel for the
    // ring's life: a read or write on a buffer inside it skips pinning its pages and
    // building their mapping per I/O. Create probed that this works; a failure here
    // (a thread with a different limit) falls back to plain reads and writes.
    pool = IoBufferPool::Acquire();
    if (pool != nullptr) {
      const iovec region{pool->base(), pool->size()};
      if (int reg = io_uring_register_buffers(&ring, &region, 1); reg < 0) {
        LOG_ERROR("uring: %s: %s; reads and writes use unregistered buffers", target.name,
                  std::string(uring::FixedBuffersError(reg, pool->size()).message()));
        pool->Release();
        pool = nullptr;
      }
    }
  }
  return std::unique_ptr<UringChannel>(new UringChannel(target, ring, fixed_file, pool));
}

UringChannel::UringChannel(const Target& target, const io_uring& ring, bool fixed_file,
                           IoBufferPool* pool)
    : target_(target),
      ring_(ring),
      fixed_file_(fixed_file),
      pool_(pool),
      sqpoll_((ring.flags & IORING_SETUP_SQPOLL) != 0),
      iopoll_((ring.flags & IORING_SETUP_IOPOLL) != 0),
      taskrun_flag_((ring.flags & IORING_SETUP_TASKRUN_FLAG) != 0),
      thread_(Thread::Current()),
      wake_(absl::StrCat("uring:", target.name)) {
  if (thread_->MaySleep()) {
    if (iopoll_) {
      // Polled completions raise no interrupt and signal no eventfd until someone
      // polls: the reactor must stay awake while any is outstanding.
      keep_awake_ = true;
    } else if (wake_.fd() < 0) {
      keep_awake_ = true;
    } else if (int rc = io_uring_register_eventfd(&ring_, wake_.fd()); rc < 0) {
      LOG_ERROR(
          "uring: %s: io_uring_register_eventfd: %s; the reactor will stay awake while "
          "I/O is outstanding",
          target_.name, std::strerror(-rc));
      keep_awake_ = true;
    } else {
      // With DEFER_TASKRUN the kernel signals it when it queues completion work for
      // us (the poller then sees IORING_SQ_TASKRUN and collects it); otherwise when it
      // posts a completion.
      stats_.sleeping_channels = 1;
    }
  }
  stats_.channels = 1;
  stats_.fixed_buffer_channels = pool_ != nullptr ? 1 : 0;
  poller_ = thread_->RegisterPoller([this] { return Poll(); }, absl::ZeroDuration(), "uring");
}

UringChannel::~UringChannel() {
  thread_->UnregisterPoller(poller_);
  if (inflight_ != 0 || queued_ != 0 || backlog_head_ != nullptr) {
    LOG_ERROR("uring: channel destroyed with I/O outstanding (%d in flight)", inflight_);
  }
  // Also drops the ring's reference on the wake eventfd, which wake_ then closes, and
  // unpins the registered pool before we let it go.
  io_uring_queue_exit(&ring_);
  if (pool_ != nullptr) pool_->Release();
}

void UringChannel::Submit(BdevIo& io) {
  UringTask& t = io.driver_ctx<UringTask>();
  t.next = nullptr;
  t.bounce = nullptr;
  t.zero_by_punch = false;
  if ((io.type == IoType::kRead || io.type == IoType::kWrite) &&
      !direct_io::SegmentsFit(io, target_.file.logical_block_size())) {
    t.bounce = direct_io::AllocBounce(io, target_.file.buffer_alignment());
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
  if (queued_ + inflight_ >= target_.options.queue_depth) return false;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return false;
  UringTask& t = io.driver_ctx<UringTask>();
  const int fd = fixed_file_ ? 0 : target_.file.fd();
  const uint64_t offset = io.offset_blocks * target_.block_size;
  const uint64_t len = io.num_blocks * target_.block_size;
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
      } else if (iovcnt == 1 && InPool(iovs[0].iov_base, len)) {
        io_uring_prep_read_fixed(sqe, fd, iovs[0].iov_base, len, offset, 0);
        ++stats_.fixed_rw;
      } else if (iovcnt == 1) {
        // The common case: a plain read spares the kernel copying in an iovec array.
        io_uring_prep_read(sqe, fd, iovs[0].iov_base, len, offset);
      } else {
        // A registered buffer takes one segment; several go as an ordinary readv.
        io_uring_prep_readv(sqe, fd, iovs, iovcnt, offset);
      }
      break;
    case IoType::kWrite:
      if (iovs == nullptr) {
        io_uring_prep_write(sqe, fd, t.bounce, len, offset);
      } else if (iovcnt == 1 && InPool(iovs[0].iov_base, len)) {
        io_uring_prep_write_fixed(sqe, fd, iovs[0].iov_base, len, offset, 0);
        ++stats_.fixed_rw;
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

// Whether to leave what was prepared in the SQ until the next completion instead of
// entering the kernel for it now. With DEFER_TASKRUN every completion costs an enter
// to collect it; when I/O is prepared just after one was collected (a caller
// resubmitting from its callback), submitting it at once costs a second enter, which
// found no completion ready. With enough I/O in flight, the next completion is near, so
// the prepared I/O waits for it and goes out in the same enter that collects it: one
// system call per completion batch (fio, which blocks in io_uring_enter, gets the same
// by waiting). Holding only a small share of what is in flight (at most 1 of 8, and
// never below 8 in flight) keeps the device's queue nearly as deep, and low depths,
// where waiting would cost latency, are never held. Without TASKRUN_FLAG we cannot see
// that a completion waits, so we never hold.
bool UringChannel::HoldSubmission() const {
  return taskrun_flag_ && inflight_ >= kHoldMinInflight && queued_ * kHoldShare <= inflight_;
}

// At most one io_uring_enter per pass.
void UringChannel::EnterKernel() {
  if (sqpoll_) {
    // The kernel's SQ thread picks SQEs up and posts completions itself; liburing
    // enters only to wake that thread once it went idle (IORING_SQ_NEED_WAKEUP).
    if (queued_ == 0) return;
    if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) ++stats_.enters;
    int rc = io_uring_submit(&ring_);
    if (rc > 0) {
      queued_ -= static_cast<uint32_t>(rc);
      inflight_ += static_cast<uint32_t>(rc);
      stats_.submitted += static_cast<uint64_t>(rc);
    }
    return;
  }
  // Completions wait in the kernel: flagged (TASKRUN_FLAG rings), or with IOPOLL
  // always possible while I/O is in flight (only an enter polls the device). A plain
  // ring posts them by itself.
  const bool completions_wait =
      inflight_ > 0 &&
      (iopoll_ || (taskrun_flag_ && (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN)));
  if (queued_ > 0 && (completions_wait || !HoldSubmission())) {
    // Submits everything prepared and, in the same call, lets the kernel post the
    // completions it holds for us (deferred task work; with IOPOLL, polls the device).
    int rc = io_uring_submit_and_get_events(&ring_);
    ++stats_.enters;
    if (rc >= 0) {
      queued_ -= static_cast<uint32_t>(rc);
      inflight_ += static_cast<uint32_t>(rc);
      stats_.submitted += static_cast<uint64_t>(rc);
    } else if (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
      LOG_ERROR("uring: %s: io_uring_submit: %s", target_.name, std::strerror(-rc));
    }  // else: the kernel is short of resources or completions; retry next pass
  } else if (completions_wait) {
    io_uring_get_events(&ring_);
    ++stats_.enters;
    ++stats_.reap_only_enters;
  }
}

PollStatus UringChannel::Poll() {
  // 1. The backlog, in order, as far as the ring has room.
  while (backlog_head_ != nullptr && TryPrepare(*backlog_head_)) {
    BdevIo* io = backlog_head_;
    backlog_head_ = io->driver_ctx<UringTask>().next;
    if (backlog_head_ == nullptr) backlog_tail_ = nullptr;
  }
  // 2. At most one system call.
  const uint64_t submitted_before = stats_.submitted;
  EnterKernel();
  bool busy = stats_.submitted != submitted_before;
  // 3. Completions, from user space: copied out and the ring advanced first, because a
  //    completion callback may submit again (into this ring; sent on a later pass).
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
    stats_.completed += n;
    for (unsigned i = 0; i < n; ++i) Complete(*ios[i], res[i]);
    busy = true;
  }
  // Idle with I/O in flight lets a sleeping reactor sleep: the wake eventfd ends it
  // when a completion comes. Prepared I/O with nothing in flight (a submit the kernel
  // refused for now) has no completion to wait for, and a channel that cannot be woken
  // must not let the reactor sleep at all while it has I/O outstanding.
  if ((queued_ > 0 && inflight_ == 0) || (keep_awake_ && inflight_ + queued_ > 0)) busy = true;
  return busy ? PollStatus::kBusy : PollStatus::kIdle;
}

void UringChannel::Complete(BdevIo& io, int res) {
  UringTask& t = io.driver_ctx<UringTask>();
  if (io.type == IoType::kWriteZeroes && res == -EOPNOTSUPP && !t.zero_by_punch &&
      !target_.file.is_block_device()) {
    // tmpfs and some others punch holes but cannot ZERO_RANGE; a hole reads as zeroes.
    t.zero_by_punch = true;
    Enqueue(io);
    return;
  }
  IoStatus status;
  switch (io.type) {
    case IoType::kRead:
    case IoType::kWrite:
      status = direct_io::RwResult(res, io.num_blocks * target_.block_size);
      break;
    default:
      status = res < 0 ? IoStatus::Error(res) : IoStatus::Success();
  }
  if (t.bounce != nullptr) direct_io::CopyOutAndFree(io, t.bounce, status.ok());
  CompleteIo(io, status);
}

}  // namespace bdevkit
