// The queue pair interface the controller and the bdev module drive, whatever carries
// the commands: PCIe rings and doorbells (Qpair, qpair.h) or an NVMe/TCP connection
// (TcpQpair, tcp/tcp_qpair.h). One object is driven by one thread at a time; Submit()
// and Poll() are the I/O path (one indirect call each, no locks, no allocation).
#ifndef BDEVKIT_MODULES_NVME_DRIVER_IO_QPAIR_H_
#define BDEVKIT_MODULES_NVME_DRIVER_IO_QPAIR_H_

#include <sys/uio.h>

#include <atomic>
#include <cstdint>

#include "modules/nvme/driver/request_queue.h"
#include "modules/nvme/driver/spec.h"

namespace bdevkit::nvme {

// Called once per request, from Poll() on the qpair's thread (never from Submit()).
using RequestCallback = void (*)(void* arg, const Completion& cpl);

// One command and its data. Owned by the caller (e.g. in a BdevIo's driver context)
// and untouched by it from Submit() until the callback.
struct Request {
  Command cmd{};  // all but cid, flags (PSDT) and the data pointer, which the qpair sets
  const iovec* iovs = nullptr;  // the data: iovcnt pieces, data_len bytes in total
  int iovcnt = 0;
  uint32_t data_len = 0;
  bool to_device = false;  // host -> device (a write): a bounce copy is made before
  uint8_t resubmits = 0;   // times resubmitted after a controller reset (qpair's)
  RequestCallback cb = nullptr;
  void* cb_arg = nullptr;
  Request* next = nullptr;  // the software queue (qpair's)
  iovec single{};           // SetBuffer() points iovs here

  void SetBuffer(void* buf, uint32_t len) {
    single = {buf, len};
    iovs = &single;
    iovcnt = len == 0 ? 0 : 1;
    data_len = len;
  }

  Request() = default;
  // A copy made after SetBuffer() describes its own `single`, not the original's.
  Request(const Request& o) { *this = o; }
  Request& operator=(const Request& o) {
    if (this == &o) return *this;
    cmd = o.cmd;
    iovs = o.iovs == &o.single ? &single : o.iovs;
    iovcnt = o.iovcnt;
    data_len = o.data_len;
    to_device = o.to_device;
    resubmits = o.resubmits;
    cb = o.cb;
    cb_arg = o.cb_arg;
    next = o.next;
    single = o.single;
    return *this;
  }
};

// High bit of a controller epoch: the controller failed (reset did not succeed).
inline constexpr uint32_t kEpochFailed = 1u << 31;

struct QpairConfig {
  uint16_t qid = 1;
  uint32_t entries = 256;  // SQ and CQ entries; one less can be outstanding
  // Largest transfer in bytes (a multiple of the page size, <= kMaxTransferPages pages).
  uint32_t max_transfer = 128 * 1024;
  // PCIe: 4 KiB pages for data outside DMA memory (copied through them); at least
  // max_transfer's worth.
  uint32_t bounce_pages = 512;
  // Times a request is resubmitted after controller resets before it fails.
  uint8_t max_resubmits = 2;
  // Stamp submissions with GetTicks() for CheckTimeouts().
  bool track_timeouts = false;
  // Bumped by the controller when a reset finished (kEpochFailed: it failed). A
  // suspended qpair resumes when it changes. nullptr: no resets.
  const std::atomic<uint32_t>* ctrlr_epoch = nullptr;
  // Set by the controller while it reconnects after the fast I/O failure timeout: a
  // suspended qpair fails what it holds instead of keeping it for resubmission, and
  // refuses new requests. nullptr: never.
  const std::atomic<bool>* fail_io = nullptr;
};

// Entries in each tracker's PRP list: transfers up to this many pages (plus one for an
// unaligned start) need no chained lists.
inline constexpr uint32_t kMaxTransferPages = 128;

class IoQpair {
 public:
  virtual ~IoQpair() = default;
  IoQpair(const IoQpair&) = delete;
  IoQpair& operator=(const IoQpair&) = delete;

  // Queues `req`. Returns 0: the callback will run from a later Poll(). -EINVAL: data
  // larger than max_transfer, or iovecs not adding up to data_len; -ENODEV: the
  // controller failed; -EIO: the connection is down and I/O fails fast. The callback
  // will not run on an error. Owning thread; never blocks, never allocates.
  virtual int Submit(Request& req) = 0;

  // Sends what was submitted, reaps up to `max_completions` completions (0 = all there
  // are) and calls their callbacks, starts queued requests. Returns the completions
  // reaped. Not re-entrant (callbacks may Submit, not Poll). Owning thread; never blocks.
  virtual uint32_t Poll(uint32_t max_completions = 0) = 0;

  // Controller reset: stop touching the transport (rings, doorbells, socket). Requests
  // in flight and new ones wait; when the epoch changes, the next Poll() starts from
  // zero and resubmits them in their original order (or fails everything with
  // "aborted - SQ deleted" if the epoch says the controller failed). Owning thread.
  void Suspend() { suspended_ = true; }
  bool suspended() const { return suspended_; }
  bool failed() const { return failed_; }
  // The transport under the queue broke (a connection lost): the qpair holds its
  // requests as if suspended until a reset re-creates it. PCIe: never. Owning thread.
  bool broken() const { return broken_; }
  // The epoch this qpair last ran under. Any thread once Suspend() was seen.
  uint32_t epoch_seen() const { return epoch_seen_; }
  void set_epoch_seen(uint32_t epoch) { epoch_seen_ = epoch; }

  // Reports each outstanding command older than `timeout_ticks`: fn(arg, qpair, cid,
  // first) where `first` is true the first time a command is reported. Owning thread.
  using TimeoutFn = void (*)(void* arg, IoQpair& qpair, uint16_t cid, bool first);
  virtual void CheckTimeouts(uint64_t now_ticks, uint64_t timeout_ticks, TimeoutFn fn,
                             void* arg) = 0;

  uint16_t qid() const { return config_.qid; }
  uint32_t entries() const { return config_.entries; }
  uint32_t max_transfer() const { return config_.max_transfer; }
  uint32_t outstanding() const { return outstanding_; }
  uint32_t queued() const { return queue_.size(); }
  // Submitted requests not yet completed, in flight or waiting in the software queue.
  bool idle() const { return outstanding_ == 0 && queue_.empty(); }

  // Counters for tools and tests.
  struct Stats {
    uint64_t submitted = 0;  // commands handed to the controller
    uint64_t completed = 0;
    uint64_t sq_doorbells = 0;  // PCIe: SQ tail doorbell writes; TCP: send() calls
    uint64_t cq_doorbells = 0;  // PCIe: CQ head doorbell writes; TCP: recv() calls
    uint64_t queued = 0;        // requests that had to wait in the software queue
    uint64_t bounced = 0;       // PCIe: copied through bounce pages; TCP: in-capsule data
    uint64_t resubmitted = 0;   // after controller resets
  };
  const Stats& stats() const { return stats_; }

 protected:
  explicit IoQpair(const QpairConfig& config) : config_(config) {
    if (config_.ctrlr_epoch != nullptr) {
      epoch_seen_ = config_.ctrlr_epoch->load(std::memory_order_acquire);
    }
  }

  const QpairConfig config_;
  bool suspended_ = false;
  bool failed_ = false;  // resumed into a failed controller: everything fails
  bool broken_ = false;
  uint32_t epoch_seen_ = 0;
  uint32_t outstanding_ = 0;
  RequestQueue queue_;  // waiting for a slot (or for a suspended queue pair to resume)
  Stats stats_;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_IO_QPAIR_H_
