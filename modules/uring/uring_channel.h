// One thread's side of a uring bdev: its io_uring, the I/O it has prepared, in flight
// or waiting for room, and the poller that submits and reaps.
#ifndef BDEVKIT_MODULES_URING_URING_CHANNEL_H_
#define BDEVKIT_MODULES_URING_URING_CHANNEL_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bdevkit/io_buffer.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "modules/aio/backing_file.h"
#include "modules/aio/wake_eventfd.h"
#include "modules/uring/uring_bdev.h"

namespace bdevkit {

class UringChannel : public ChannelContext {
 public:
  // What a channel needs from its bdev, which outlives every channel.
  struct Target {
    const BackingFile& file;
    uint32_t block_size;
    const UringOptions& options;
    const std::string& name;
  };

  // Sets up this thread's ring (and registers the file, the wake eventfd). nullptr
  // when the ring cannot be set up (logged). Runtime thread.
  static std::unique_ptr<UringChannel> Create(const Target& target);
  ~UringChannel() override;
  UringChannel(const UringChannel&) = delete;
  UringChannel& operator=(const UringChannel&) = delete;

  // Prepares an SQE for `io` (or queues it while the ring is full); the poller submits.
  // Owning thread; no system call.
  void Submit(BdevIo& io);

  // This channel's counters. Owning thread.
  const UringStats& stats() const { return stats_; }

 private:
  UringChannel(const Target& target, const io_uring& ring, bool fixed_file, IoBufferPool* pool);
  void Enqueue(BdevIo& io);
  bool TryPrepare(BdevIo& io);
  bool HoldSubmission() const;
  // Whether [p, p + len) lies in the registered pool (so READ_FIXED/WRITE_FIXED apply).
  bool InPool(const void* p, uint64_t len) const {
    return pool_ != nullptr && pool_->Contains(p, len);
  }
  void EnterKernel();
  PollStatus Poll();
  void Complete(BdevIo& io, int res);

  const Target target_;
  io_uring ring_;
  const bool fixed_file_;
  // With fixed_buffers: this thread's I/O buffer pool, registered with the ring as
  // buffer 0 (we hold a reference on it until the ring is gone).
  IoBufferPool* const pool_;
  const bool sqpoll_;
  const bool iopoll_;
  // The ring flags IORING_SQ_TASKRUN when completions wait in the kernel (TASKRUN_FLAG).
  const bool taskrun_flag_;
  Thread* const thread_;
  Poller* poller_ = nullptr;
  // Where the reactor may sleep: the kernel signals it on completions (registered with
  // the ring), waking the reactor.
  WakeEventFd wake_;
  // The reactor may sleep but no completion would wake it (no eventfd; iopoll, whose
  // completions only polling finds): report busy while I/O is in flight.
  bool keep_awake_ = false;
  uint32_t queued_ = 0;    // prepared, not yet handed to the kernel
  uint32_t inflight_ = 0;  // handed to the kernel, not yet completed
  BdevIo* backlog_head_ = nullptr;
  BdevIo* backlog_tail_ = nullptr;
  UringStats stats_;
};

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_URING_URING_CHANNEL_H_
