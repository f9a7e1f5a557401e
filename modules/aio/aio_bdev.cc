// The aio backend: each thread's channel owns a Linux AIO context. SubmitIo fills an
// iocb (in the BdevIo's driver context); the channel's poller hands every iocb
// prepared since its last pass to the kernel with one io_submit and reaps completions,
// from user space when the kernel's completion ring allows it.
#include "modules/aio/aio_bdev.h"

#include <fcntl.h>
#include <libaio.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <time.h>

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
#include "modules/aio/blocking_worker.h"
#include "modules/aio/direct_io.h"
#include "modules/aio/wake_eventfd.h"
#include "nlohmann/json.hpp"

namespace bdevkit {
namespace {

constexpr char kModuleName[] = "aio";
// io_context size per thread (events the kernel can hold for us).
constexpr uint32_t kQueueDepth = 512;
constexpr int kReapBatch = 64;

class AioModule : public BdevModule {
 public:
  AioModule() : BdevModule(kModuleName) {}
  absl::Status Init() override { return worker_.Start(); }
  void Fini() override { worker_.Stop(); }
  BlockingWorker& worker() { return worker_; }

 private:
  BlockingWorker worker_;
};

// Per-I/O state, in the BdevIo's driver context.
struct AioTask {
  iocb cb;
  BlockingWorker::Job job;  // write_zeroes / unmap
  BdevIo* next;             // the channel's backlog
  void* bounce;             // our own buffer for segments O_DIRECT cannot take (rare)
  int fd;
  bool block_device;
};

// The header of the completion ring the kernel maps into the process at the address
// io_setup returns as the context id (fs/aio.c, struct aio_ring). A stable ABI: fio
// and SPDK read it the same way.
struct AioRing {
  unsigned id;
  unsigned nr;    // events in the ring
  unsigned head;  // next event to consume: written by the consumer (us)
  unsigned tail;  // one past the newest event: written by the kernel
  unsigned magic;
  unsigned compat_features;
  unsigned incompat_features;
  unsigned header_length;
  io_event events[];
};
constexpr unsigned kAioRingMagic = 0xa10a10a1;

class AioBdev;

class AioChannel : public ChannelContext {
 public:
  AioChannel(AioBdev& bdev, io_context_t ctx);
  ~AioChannel() override;
  void Submit(BdevIo& io);

 private:
  void Enqueue(BdevIo& io);
  PollStatus Poll();
  int Reap(io_event* events);
  void Complete(BdevIo& io, long res);

  AioBdev& bdev_;
  io_context_t ctx_;
  AioRing* ring_ = nullptr;  // non-null when completions can be read from user space
  Thread* const thread_;
  Poller* poller_ = nullptr;
  // Where the reactor may sleep: every iocb names it (IOCB_FLAG_RESFD), so the kernel
  // signals it when the I/O completes, waking the reactor.
  WakeEventFd wake_;
  // The reactor may sleep but no eventfd could be made: report busy while I/O is in
  // flight, since nothing would wake the reactor for its completion.
  bool keep_awake_ = false;
  std::vector<iocb*> batch_;  // prepared since the last io_submit (capacity reserved)
  uint32_t inflight_ = 0;
  BdevIo* backlog_head_ = nullptr;
  BdevIo* backlog_tail_ = nullptr;
};

class AioBdev : public Bdev, public IoDevice {
 public:
  AioBdev(AioModule* module, BdevProperties props, std::unique_ptr<BackingFile> file,
          AioOptions options)
      : Bdev(module, std::move(props)),
        worker_(module->worker()),
        file_(std::move(file)),
        options_(std::move(options)) {}

  bool IoTypeSupported(IoType type) const override {
    switch (type) {
      case IoType::kRead:
      case IoType::kFlush:
        return true;
      case IoType::kWrite:
        return !file_->readonly();
      case IoType::kWriteZeroes:
        return !file_->readonly() && options_.fallocate;
      case IoType::kUnmap:
        return !file_->readonly() && options_.fallocate && file_->unmap_supported();
      case IoType::kReset:
        return false;  // the core drains outstanding I/O instead
    }
    return false;
  }

  const BackingFile& file() const { return *file_; }
  const AioOptions& options() const { return options_; }
  BlockingWorker& worker() const { return worker_; }

  absl::Status Rescan() {
    const uint64_t old_blocks = num_blocks();
    absl::StatusOr<uint64_t> blocks = file_->Rescan();
    if (!blocks.ok()) return blocks.status();
    if (*blocks < old_blocks) {
      return absl::FailedPreconditionError(
          absl::StrCat(file_->filename(), " shrank from ", old_blocks, " to ", *blocks,
                       " blocks; shrinking a bdev is not supported (delete and recreate it)"));
    }
    if (*blocks > old_blocks) NotifyResize(*blocks);
    return absl::OkStatus();
  }

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override { ch.ctx<AioChannel>().Submit(io); }
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override { UnregisterIoDevice(std::move(done)); }

  void DumpInfoJson(nlohmann::json& driver_specific) const override {
    driver_specific["aio"] = {{"filename", file_->filename()},
                              {"block_size_override", options_.block_size != 0},
                              {"readonly", file_->readonly()},
                              {"fallocate", options_.fallocate},
                              {"nowait", options_.nowait}};
  }

  void WriteConfigJson(nlohmann::json& config) const override {
    nlohmann::json params = {{"name", name()},
                             {"filename", file_->filename()},
                             {"readonly", options_.readonly},
                             {"fallocate", options_.fallocate},
                             {"uuid", uuid()},
                             {"nowait", options_.nowait}};
    // As SPDK: a detected block size is detected again on load.
    if (options_.block_size != 0) params["block_size"] = options_.block_size;
    config.push_back({{"method", "bdev_aio_create"}, {"params", std::move(params)}});
  }

  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    io_context_t ctx = nullptr;
    int rc = io_setup(kQueueDepth, &ctx);
    if (rc < 0) {
      LOG_ERROR("aio: %s: io_setup: %s (see /proc/sys/fs/aio-max-nr)", name(), std::strerror(-rc));
      return nullptr;
    }
    return std::make_unique<AioChannel>(*this, ctx);
  }

 private:
  BlockingWorker& worker_;
  std::unique_ptr<BackingFile> file_;
  const AioOptions options_;
};

AioChannel::AioChannel(AioBdev& bdev, io_context_t ctx)
    : bdev_(bdev), ctx_(ctx), thread_(Thread::Current()), wake_(absl::StrCat("aio:", bdev.name())) {
  keep_awake_ = thread_->MaySleep() && wake_.fd() < 0;
  // The context id is the address of the kernel's completion ring, mapped into this
  // process. If its header carries the magic and no incompatible features, events
  // can be consumed straight from it (no io_getevents system call per pass); any
  // other kernel gets io_getevents with a zero timeout, which never blocks either.
  auto* ring = reinterpret_cast<AioRing*>(ctx);
  if (ring->magic == kAioRingMagic && ring->incompat_features == 0) ring_ = ring;
  batch_.reserve(kQueueDepth);
  poller_ = thread_->RegisterPoller([this] { return Poll(); }, absl::ZeroDuration(), "aio");
}

AioChannel::~AioChannel() {
  thread_->UnregisterPoller(poller_);
  if (inflight_ != 0 || !batch_.empty() || backlog_head_ != nullptr) {
    LOG_ERROR("aio: channel destroyed with I/O outstanding (%d in flight)", inflight_);
  }
  // Cancels what is left, so no iocb signals wake_'s eventfd after it is closed.
  io_destroy(ctx_);
}

int RunFallocate(BlockingWorker::Job& job) {
  BdevIo& io = *static_cast<BdevIo*>(job.arg);
  const AioTask& t = io.driver_ctx<AioTask>();
  const off_t offset = static_cast<off_t>(io.offset_blocks * io.bdev_block_size);
  const off_t len = static_cast<off_t>(io.num_blocks * io.bdev_block_size);
  if (io.type == IoType::kWriteZeroes) {
    if (fallocate(t.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len) == 0) return 0;
    if (errno != EOPNOTSUPP || t.block_device) return -errno;
    // tmpfs and some others punch holes but cannot ZERO_RANGE; a hole reads as zeroes.
  }
  if (fallocate(t.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len) == 0) return 0;
  if (errno == EOPNOTSUPP && t.block_device && io.type == IoType::kUnmap) {
    // A device without write-zeroes may still discard.
    uint64_t range[2] = {static_cast<uint64_t>(offset), static_cast<uint64_t>(len)};
    if (ioctl(t.fd, BLKDISCARD, range) == 0) return 0;
  }
  return -errno;
}

void AioChannel::Submit(BdevIo& io) {
  AioTask& t = io.driver_ctx<AioTask>();
  t.bounce = nullptr;
  t.next = nullptr;
  if (io.type == IoType::kWriteZeroes || io.type == IoType::kUnmap) {
    t.fd = bdev_.file().fd();
    t.block_device = bdev_.file().is_block_device();
    t.job.run = RunFallocate;
    t.job.thread = thread_;
    t.job.arg = &io;
    t.job.done = [](void* arg) {
      auto* job = static_cast<BlockingWorker::Job*>(arg);
      BdevIo& done_io = *static_cast<BdevIo*>(job->arg);
      CompleteIo(done_io, job->result < 0 ? IoStatus::Error(job->result) : IoStatus::Success());
    };
    bdev_.worker().Push(&t.job);
    return;
  }
  iovec* iovs = io.iovs;
  int iovcnt = io.iovcnt;
  const int fd = bdev_.file().fd();
  const long long offset = static_cast<long long>(io.offset_blocks * bdev_.block_size());
  const size_t len = io.num_blocks * bdev_.block_size();
  if ((io.type == IoType::kRead || io.type == IoType::kWrite) &&
      !direct_io::SegmentsFit(io, bdev_.file().logical_block_size())) {
    t.bounce = direct_io::AllocBounce(io, bdev_.file().buffer_alignment());
    if (t.bounce == nullptr) {
      CompleteIo(io, IoStatus::Error(-ENOMEM));
      return;
    }
  }
  switch (io.type) {
    case IoType::kRead:
      if (t.bounce != nullptr) {
        io_prep_pread(&t.cb, fd, t.bounce, len, offset);
      } else if (iovcnt == 1) {
        // The common case: a plain read spares the kernel copying in an iovec array.
        io_prep_pread(&t.cb, fd, iovs[0].iov_base, len, offset);
      } else {
        io_prep_preadv(&t.cb, fd, iovs, iovcnt, offset);
      }
      break;
    case IoType::kWrite:
      if (t.bounce != nullptr) {
        io_prep_pwrite(&t.cb, fd, t.bounce, len, offset);
      } else if (iovcnt == 1) {
        io_prep_pwrite(&t.cb, fd, iovs[0].iov_base, len, offset);
      } else {
        io_prep_pwritev(&t.cb, fd, iovs, iovcnt, offset);
      }
      break;
    default:  // kFlush (reset is not offered)
      // O_DIRECT data may sit in the device's volatile cache and new extents in the
      // journal: fdatasync covers both (asynchronous since Linux 4.18).
      io_prep_fdsync(&t.cb, fd);
      break;
  }
  if (bdev_.options().nowait && (io.type == IoType::kRead || io.type == IoType::kWrite)) {
    t.cb.aio_rw_flags = RWF_NOWAIT;
  }
  if (wake_.fd() >= 0) io_set_eventfd(&t.cb, wake_.fd());
  t.cb.data = &io;
  Enqueue(io);
}

void AioChannel::Enqueue(BdevIo& io) {
  io.driver_ctx<AioTask>().next = nullptr;
  if (backlog_head_ == nullptr && inflight_ + batch_.size() < kQueueDepth) {
    batch_.push_back(&io.driver_ctx<AioTask>().cb);
    return;
  }
  if (backlog_tail_ != nullptr) {
    backlog_tail_->driver_ctx<AioTask>().next = &io;
  } else {
    backlog_head_ = &io;
  }
  backlog_tail_ = &io;
}

// Takes up to kReapBatch events. Never blocks.
int AioChannel::Reap(io_event* events) {
  if (ring_ == nullptr) {
    timespec zero{0, 0};
    int n = io_getevents(ctx_, 0, kReapBatch, events, &zero);
    return n < 0 ? 0 : n;
  }
  // Only this thread consumes, so head needs no ordering on load. Acquire on tail:
  // the kernel writes an event, then (after a write barrier) the new tail, so events
  // before the tail we see are complete.
  const unsigned nr = ring_->nr;
  unsigned head = ring_->head;
  const unsigned tail = __atomic_load_n(&ring_->tail, __ATOMIC_ACQUIRE);
  int n = 0;
  while (head != tail && n < kReapBatch) {
    events[n++] = ring_->events[head];
    head = (head + 1) % nr;
  }
  // Release: the events are copied out before the kernel may reuse their slots (it
  // reads head when it counts free slots).
  if (n > 0) __atomic_store_n(&ring_->head, head, __ATOMIC_RELEASE);
  return n;
}

PollStatus AioChannel::Poll() {
  bool busy = false;
  // 1. Completions (copied out first: callbacks may submit again).
  io_event events[kReapBatch];
  int n;
  while (inflight_ > 0 && (n = Reap(events)) > 0) {
    inflight_ -= static_cast<uint32_t>(n);
    for (int i = 0; i < n; ++i) {
      Complete(*static_cast<BdevIo*>(events[i].data), static_cast<long>(events[i].res));
    }
    busy = true;
  }
  // 2. The backlog, in order, as far as the context has room.
  while (backlog_head_ != nullptr && inflight_ + batch_.size() < kQueueDepth) {
    BdevIo* io = backlog_head_;
    backlog_head_ = io->driver_ctx<AioTask>().next;
    if (backlog_head_ == nullptr) backlog_tail_ = nullptr;
    batch_.push_back(&io->driver_ctx<AioTask>().cb);
  }
  // 3. One io_submit for everything prepared since the last pass.
  size_t done = 0;
  while (done < batch_.size()) {
    int rc = io_submit(ctx_, static_cast<long>(batch_.size() - done), batch_.data() + done);
    if (rc > 0) {
      done += static_cast<size_t>(rc);
      inflight_ += static_cast<uint32_t>(rc);
      busy = true;
      continue;
    }
    if (rc == -EAGAIN || rc == -EINTR || rc == 0) break;  // kernel short of resources: retry
    // The first iocb was refused outright (e.g. -EINVAL): fail it alone, go on.
    BdevIo& bad = *static_cast<BdevIo*>(batch_[done]->data);
    ++done;
    Complete(bad, rc);
    busy = true;
  }
  batch_.erase(batch_.begin(), batch_.begin() + static_cast<long>(done));
  // Idle with I/O in flight lets a sleeping reactor sleep: the eventfd ends it. What
  // the kernel refused for now, with nothing in flight, has no completion to wait for;
  // and a channel without an eventfd must keep the reactor awake while it has I/O.
  const size_t outstanding = inflight_ + batch_.size();
  if ((!batch_.empty() && inflight_ == 0) || (keep_awake_ && outstanding > 0)) busy = true;
  return busy ? PollStatus::kBusy : PollStatus::kIdle;
}

void AioChannel::Complete(BdevIo& io, long res) {
  AioTask& t = io.driver_ctx<AioTask>();
  if ((res == -EAGAIN || res == -EOPNOTSUPP) && (t.cb.aio_rw_flags & RWF_NOWAIT) != 0) {
    // RWF_NOWAIT said the I/O would block (or the filesystem cannot tell): send it
    // again the ordinary way.
    t.cb.aio_rw_flags &= ~RWF_NOWAIT;
    Enqueue(io);
    return;
  }
  IoStatus status;
  if (io.type == IoType::kRead || io.type == IoType::kWrite) {
    status = direct_io::RwResult(res, io.num_blocks * bdev_.block_size());
  } else {
    status = res < 0 ? IoStatus::Error(static_cast<int32_t>(res)) : IoStatus::Success();
  }
  if (t.bounce != nullptr) direct_io::CopyOutAndFree(io, t.bounce, status.ok());
  CompleteIo(io, status);
}

}  // namespace

absl::StatusOr<std::string> CreateAioBdev(const AioOptions& options) {
  auto* module = static_cast<AioModule*>(FindModule(kModuleName));
  if (module == nullptr) return absl::FailedPreconditionError("the aio module is not registered");
  if (options.name.empty()) return absl::InvalidArgumentError("\"name\": must not be empty");
  BdevProperties props;
  props.name = options.name;
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(options.uuid);
  if (!uuid.ok()) return uuid.status();
  props.uuid = *uuid;
  // Started at module init; again here in case a bdev is created before the layer starts.
  if (absl::Status s = module->worker().Start(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<BackingFile>> file =
      BackingFile::Open({options.filename, options.block_size, options.readonly});
  if (!file.ok()) return file.status();
  props.product_name = "AIO disk";
  (*file)->FillGeometry(props);
  if ((*file)->readonly() && !options.readonly) {
    LOG_NOTICE("aio: %s: %s is not writable; the bdev is read-only", options.name,
               options.filename);
  }
  auto bdev = std::make_unique<AioBdev>(module, std::move(props), std::move(*file), options);
  bdev->RegisterIoDevice(absl::StrCat("aio:", options.name));
  // On failure RegisterBdev destroys the bdev, which closes and releases the file.
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) return s;
  LOG_INFO("created aio bdev %s on %s", options.name, options.filename);
  return options.name;
}

namespace {
AioBdev* FindAioBdev(const std::string& name, absl::Status* error) {
  Bdev* bdev = FindBdev(name);
  if (bdev == nullptr || bdev->module().name() != kModuleName) {
    *error = absl::NotFoundError(
        absl::StrCat(bdev == nullptr ? "no bdev named \"" : "not an aio bdev: \"", name, "\""));
    return nullptr;
  }
  return static_cast<AioBdev*>(bdev);
}
}  // namespace

void DeleteAioBdev(const std::string& name, std::function<void(absl::Status)> done) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr)
    return done(absl::FailedPreconditionError("the aio module is not registered"));
  UnregisterModuleBdev(name, *module, std::move(done));
}

absl::Status RescanAioBdev(const std::string& name) {
  absl::Status error;
  AioBdev* bdev = FindAioBdev(name, &error);
  if (bdev == nullptr) return error;
  return bdev->Rescan();
}

void RegisterAioModule() { RegisterModule(std::make_unique<AioModule>()); }

}  // namespace bdevkit
