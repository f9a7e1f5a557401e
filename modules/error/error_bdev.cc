// The error bdev's I/O path: each I/O is looked up in the injection table, then
// failed, held, refused-and-retried, or sent to the base through the base's
// descriptor (with the data corrupted when asked). The base I/O is a second BdevIo
// rather than ForwardIo: the error bdev must see every completion (to count I/O at
// the base for queue_depth, and to corrupt read data after the base filled it).
#include "modules/error/error_bdev.h"

#include <cerrno>
#include <utility>

#include "absl/time/time.h"
#include "bdevkit/log.h"
#include "nlohmann/json.hpp"

namespace bdevkit::error {

namespace {

// How often a channel retries the I/O a "nomem" injection refused.
constexpr absl::Duration kNomemRetryPeriod = absl::Microseconds(100);

struct ErrorIoCtx;

// An intrusive FIFO of held I/O, linked through their driver contexts.
struct HeldQueue {
  BdevIo* head = nullptr;
  BdevIo* tail = nullptr;
  bool empty() const { return head == nullptr; }
  void Push(BdevIo* io);
  BdevIo* Pop();
};

struct ErrorChannel final : ChannelContext {
  ErrorBdev* bdev = nullptr;
  IoChannel* base = nullptr;
  uint64_t at_base = 0;  // I/O of this channel submitted to the base, not completed
  HeldQueue pending;     // held by "pending"
  HeldQueue nomem;       // refused by "nomem", retried by the poller
  Poller* retry_poller = nullptr;
};

// Per-I/O state, in the BdevIo's driver context.
struct ErrorIoCtx {
  IoWaitEntry wait;  // waiting for a BdevIo of the base's after -ENOMEM
  ErrorChannel* ch;
  BdevDesc* base;
  BdevIo* io;
  BdevIo* next;  // HeldQueue link
  Decision decision;
};

ErrorIoCtx& Ctx(BdevIo* io) { return io->driver_ctx<ErrorIoCtx>(); }

void HeldQueue::Push(BdevIo* io) {
  Ctx(io).next = nullptr;
  if (tail == nullptr) {
    head = io;
  } else {
    Ctx(tail).next = io;
  }
  tail = io;
}

BdevIo* HeldQueue::Pop() {
  BdevIo* io = head;
  if (io != nullptr) {
    head = Ctx(io).next;
    if (head == nullptr) tail = nullptr;
  }
  return io;
}

void Dispatch(BdevIo& io);

void BaseDone(void* arg, IoStatus status) {
  BdevIo& io = *static_cast<BdevIo*>(arg);
  ErrorIoCtx& c = Ctx(&io);
  --c.ch->at_base;
  if (status.ok() && io.type == IoType::kRead && c.decision.type == ErrorType::kCorruptData) {
    CorruptData(io.iovs, io.iovcnt, c.decision.corrupt_offset, c.decision.corrupt_value);
  }
  CompleteIo(io, status);
}

int SubmitToBase(BdevIo& io) {
  ErrorIoCtx& c = Ctx(&io);
  IoChannel* ch = c.ch->base;
  switch (io.type) {
    case IoType::kRead:
      return c.base->Readv(ch, io.iovs, io.iovcnt, io.offset_blocks, io.num_blocks, BaseDone, &io);
    case IoType::kWrite:
      return c.base->Writev(ch, io.iovs, io.iovcnt, io.offset_blocks, io.num_blocks, BaseDone, &io);
    case IoType::kWriteZeroes:
      return c.base->WriteZeroes(ch, io.offset_blocks, io.num_blocks, BaseDone, &io);
    case IoType::kUnmap:
      return c.base->Unmap(ch, io.offset_blocks, io.num_blocks, BaseDone, &io);
    case IoType::kFlush:
      return c.base->Flush(ch, io.offset_blocks, io.num_blocks, BaseDone, &io);
    case IoType::kReset:
      break;  // handled by SubmitIo
  }
  return -EINVAL;
}

void PassToBase(BdevIo& io) {
  ErrorIoCtx& c = Ctx(&io);
  ++c.ch->at_base;
  int rc = SubmitToBase(io);
  if (rc == -ENOMEM) {
    c.wait.cb = [](void* arg) {
      BdevIo& w = *static_cast<BdevIo*>(arg);
      --Ctx(&w).ch->at_base;
      PassToBase(w);
    };
    c.wait.cb_arg = &io;
    if (c.base->QueueIoWait(c.ch->base, &c.wait) == 0) return;
    rc = SubmitToBase(io);  // -EINVAL: one freed meanwhile
  }
  if (rc != 0) {
    --c.ch->at_base;
    CompleteIo(io, IoStatus::Error(rc));
  }
}

PollStatus RetryNomem(ErrorChannel& ch) {
  // Taken out first: an I/O refused again goes to the new queue, for the next pass.
  HeldQueue batch = ch.nomem;
  ch.nomem = {};
  bool any = false;
  while (BdevIo* io = batch.Pop()) {
    any = true;
    Dispatch(*io);
  }
  if (ch.nomem.empty() && ch.retry_poller != nullptr) {
    Thread::Current()->UnregisterPoller(ch.retry_poller);
    ch.retry_poller = nullptr;
  }
  return any ? PollStatus::kBusy : PollStatus::kIdle;
}

void Dispatch(BdevIo& io) {
  ErrorIoCtx& c = Ctx(&io);
  ErrorChannel& ch = *c.ch;
  c.decision = ch.bdev->injections().Take(io.type, ch.at_base);
  switch (c.decision.type) {
    case ErrorType::kFailure:
      return CompleteIo(io, IoStatus::Error(-EIO));
    case ErrorType::kNvmeFailure:
      return CompleteIo(io, IoStatus{-EIO, c.decision.nvme_sct, c.decision.nvme_sc});
    case ErrorType::kPending:
      return ch.pending.Push(&io);
    case ErrorType::kNomem:
      // SPDK's layer retries an I/O its module refused with NOMEM; bdevkit's core does
      // not, so the refusal and the retry both happen here.
      ch.nomem.Push(&io);
      if (ch.retry_poller == nullptr) {
        ErrorChannel* chp = &ch;
        ch.retry_poller = Thread::Current()->RegisterPoller([chp] { return RetryNomem(*chp); },
                                                            kNomemRetryPeriod, "error_nomem");
      }
      return;
    case ErrorType::kCorruptData:
      // In the caller's buffer, as SPDK does: the data written is what is corrupted.
      if (io.type == IoType::kWrite) {
        CorruptData(io.iovs, io.iovcnt, c.decision.corrupt_offset, c.decision.corrupt_value);
      }
      return PassToBase(io);
    case ErrorType::kNone:
      return PassToBase(io);
  }
}

}  // namespace

ErrorBdev::ErrorBdev(ErrorModule* module, BdevProperties props, ErrorConfig* config, BdevDesc* base)
    : Bdev(module, std::move(props)), error_module_(module), config_(config), base_(base) {
  for (int t = 0; t < kNumIoTypes; ++t) {
    const IoType type = static_cast<IoType>(t);
    if (type != IoType::kReset && base->bdev().IoTypeSupported(type)) supported_ |= 1u << t;
  }
  // Reset is the error bdev's own: it fails the I/O it holds (the base is not reset).
  supported_ |= 1u << static_cast<int>(IoType::kReset);
}

bool ErrorBdev::IoTypeSupported(IoType type) const {
  return (supported_ >> static_cast<int>(type)) & 1;
}

void ErrorBdev::SubmitIo(IoChannel& ch, BdevIo& io) {
  ErrorIoCtx& c = Ctx(&io);
  c.ch = &ch.ctx<ErrorChannel>();
  c.base = base_;
  c.io = &io;
  c.next = nullptr;
  c.decision = {};
  if (io.type == IoType::kReset) {
    BdevIo* reset = &io;
    FailHeld(IoStatus::Error(-ECANCELED), [reset] { CompleteIo(*reset, IoStatus::Success()); });
    return;
  }
  Dispatch(io);
}

void ErrorBdev::FailHeld(IoStatus status, std::function<void()> done) {
  ForEachChannel(
      *this,
      [status](IoChannel& c) {
        ErrorChannel& ch = c.ctx<ErrorChannel>();
        while (BdevIo* io = ch.pending.Pop()) CompleteIo(*io, status);
        while (BdevIo* io = ch.nomem.Pop()) CompleteIo(*io, status);
        return absl::OkStatus();
      },
      [done = std::move(done)](absl::Status) { done(); });
}

void ErrorBdev::ResumePending(std::function<void()> done) {
  injections_.DisarmPending();
  ForEachChannel(
      *this,
      [](IoChannel& c) {
        ErrorChannel& ch = c.ctx<ErrorChannel>();
        HeldQueue held = ch.pending;
        ch.pending = {};
        while (BdevIo* io = held.Pop()) Dispatch(*io);
        return absl::OkStatus();
      },
      [done = std::move(done)](absl::Status) { done(); });
}

std::unique_ptr<ChannelContext> ErrorBdev::CreateChannelContext() {
  auto ctx = std::make_unique<ErrorChannel>();
  ctx->bdev = this;
  ctx->base = base_->GetIoChannel();
  if (ctx->base == nullptr) return nullptr;  // the base is going away
  return ctx;
}

void ErrorBdev::OnChannelDestroy(ChannelContext& ctx) {
  // The core holds this channel while I/O of the error bdev is outstanding, held I/O
  // included, so nothing is queued here any more.
  auto& ch = static_cast<ErrorChannel&>(ctx);
  if (ch.retry_poller != nullptr) Thread::Current()->UnregisterPoller(ch.retry_poller);
  ch.base->Put();
}

void ErrorBdev::Destruct(std::function<void()> done) {
  UnregisterIoDevice([this, done = std::move(done)] {
    error_module_->OnBdevGone(config_);
    done();
  });
}

void ErrorBdev::DumpInfoJson(nlohmann::json& driver_specific) const {
  nlohmann::json disk = {{"base_bdev", base_->bdev().name()}};
  injections_.DumpJson(disk);
  driver_specific["error_disk"] = std::move(disk);
}

}  // namespace bdevkit::error
