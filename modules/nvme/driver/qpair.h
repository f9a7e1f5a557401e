// One NVMe submission/completion queue pair in our DMA memory, driven by one thread.
//
// Submit() writes the command into the SQ ring (or a software queue when the ring,
// the trackers or the bounce pages are all taken) and never touches the device; the
// SQ tail doorbell is written once per Poll() pass for everything submitted since.
// Poll() reaps completions by their phase tag, writes the CQ head doorbell once per
// batch and calls the requests' callbacks. No locks, no allocation, no system calls.
// The admin queue is a Qpair too (qid 0), used under the controller's admin lock.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_QPAIR_H_
#define BDEVKIT_MODULES_NVME_DRIVER_QPAIR_H_

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/env/dma_memory.h"

namespace bdevkit::nvme {

// Called once per request, from Poll() on the qpair's thread (never from Submit()).
using RequestCallback = void (*)(void* arg, const Completion& cpl);

// One command and its data. Owned by the caller (e.g. in a BdevIo's driver context)
// and untouched by it from Submit() until the callback.
struct Request {
  Command cmd{};                // all but cid, flags (PSDT) and PRP1/PRP2, which the qpair sets
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
  // 4 KiB pages for data outside DMA memory (copied through them); at least
  // max_transfer's worth.
  uint32_t bounce_pages = 512;
  // Times a request is resubmitted after controller resets before it fails.
  uint8_t max_resubmits = 2;
  // Stamp submissions with GetTicks() for CheckTimeouts().
  bool track_timeouts = false;
  // Bumped by the controller when a reset finished (kEpochFailed: it failed). A
  // suspended qpair resumes when it changes. nullptr: no resets.
  const std::atomic<uint32_t>* ctrlr_epoch = nullptr;
};

// Entries in each tracker's PRP list: transfers up to this many pages (plus one for an
// unaligned start) need no chained lists.
inline constexpr uint32_t kMaxTransferPages = 128;

class Qpair {
 public:
  // Allocates the rings, PRP lists and bounce pages in one DMA region. Doorbells are
  // given later (SetDoorbells) because the controller creates the queue after this.
  // Control plane.
  static absl::StatusOr<std::unique_ptr<Qpair>> Create(DmaSpace& dma, const QpairConfig& config);
  ~Qpair();
  Qpair(const Qpair&) = delete;
  Qpair& operator=(const Qpair&) = delete;

  void SetDoorbells(volatile uint32_t* sq_tail, volatile uint32_t* cq_head) {
    sq_doorbell_ = sq_tail;
    cq_doorbell_ = cq_head;
  }

  // Queues `req`. Returns 0: the callback will run from a later Poll(). -EINVAL: data
  // larger than max_transfer, or iovecs not adding up to data_len; -ENODEV: the
  // controller failed. The callback will not run on an error. (An accepted request
  // always fits the bounce pages, which hold at least max_transfer.)
  // Owning thread; never blocks, never allocates.
  int Submit(Request& req);

  // Rings the SQ doorbell for what was submitted, reaps up to `max_completions`
  // completions (0 = all there are) and calls their callbacks, starts queued
  // requests. Returns the completions reaped. Not re-entrant (callbacks may Submit,
  // not Poll). Owning thread; never blocks.
  uint32_t Poll(uint32_t max_completions = 0);

  // Controller reset: stop touching the rings and the doorbells. Requests in flight
  // and new ones wait; when the epoch changes, the next Poll() starts the rings from
  // zero and resubmits them in their original order (or fails everything with
  // "aborted - SQ deleted" if the epoch says the controller failed). Owning thread.
  void Suspend() { suspended_ = true; }
  bool suspended() const { return suspended_; }
  bool failed() const { return failed_; }
  // The epoch this qpair last ran under. Any thread once Suspend() was seen.
  uint32_t epoch_seen() const { return epoch_seen_; }
  void set_epoch_seen(uint32_t epoch) { epoch_seen_ = epoch; }
  // Zeroes the CQ ring so that the re-created queue starts with no stale phase tags.
  // Called by the resetting thread while the qpair is suspended.
  void ClearCompletionRing();

  // Reports each outstanding command older than `timeout_ticks`: fn(arg, qpair, cid,
  // first) where `first` is true the first time a command is reported. Owning thread.
  using TimeoutFn = void (*)(void* arg, Qpair& qpair, uint16_t cid, bool first);
  void CheckTimeouts(uint64_t now_ticks, uint64_t timeout_ticks, TimeoutFn fn, void* arg);

  uint16_t qid() const { return config_.qid; }
  uint32_t entries() const { return config_.entries; }
  uint32_t max_transfer() const { return config_.max_transfer; }
  uint64_t sq_iova() const { return sq_iova_; }
  uint64_t cq_iova() const { return cq_iova_; }
  uint32_t outstanding() const { return outstanding_; }
  uint32_t queued() const { return queued_; }
  uint32_t free_bounce_pages() const { return bounce_free_count_; }
  // Submitted requests not yet completed, in the SQ or waiting in the software queue.
  bool idle() const { return outstanding_ == 0 && queued_ == 0; }

  // Counters for tools and tests.
  struct Stats {
    uint64_t submitted = 0;  // commands written to the SQ
    uint64_t completed = 0;
    uint64_t sq_doorbells = 0;  // SQ tail doorbell writes
    uint64_t cq_doorbells = 0;
    uint64_t queued = 0;       // requests that had to wait in the software queue
    uint64_t bounced = 0;      // requests copied through bounce pages
    uint64_t resubmitted = 0;  // after controller resets
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Tracker {
    Request* req = nullptr;
    uint64_t* prp_list = nullptr;
    uint64_t prp_list_iova = 0;
    uint64_t submit_ticks = 0;
    uint64_t seq = 0;  // submission order, for resubmission after a reset
    int32_t bounce_head = -1;
    uint32_t bounce_count = 0;
    uint16_t cid = 0;
    bool timeout_reported = false;
    Tracker* next_free = nullptr;
  };

  Qpair(const QpairConfig& config, std::unique_ptr<DmaRegion> region, const TranslationMap& map);

  bool TryStart(Request& req);
  bool SetUpBounce(Tracker& t, Request& req);
  void Enqueue(Request& req);
  void PushFront(Request& req);
  void StartQueued();
  void RingSqDoorbell();
  void CompleteTracker(const Completion& cpl);
  void ReleaseBounce(Tracker& t);
  void Resume(uint32_t epoch);
  void FailQueued(uint16_t status);

  const QpairConfig config_;
  std::unique_ptr<DmaRegion> region_;
  const TranslationMap& map_;
  volatile uint32_t* sq_doorbell_ = nullptr;
  volatile uint32_t* cq_doorbell_ = nullptr;

  Command* sq_ = nullptr;
  volatile Completion* cq_ = nullptr;
  uint64_t sq_iova_ = 0;
  uint64_t cq_iova_ = 0;
  uint32_t sq_tail_ = 0;
  uint32_t sq_head_ = 0;  // as last reported by the controller (SQHD)
  uint32_t cq_head_ = 0;
  uint16_t phase_ = 1;
  bool sq_dirty_ = false;  // tail moved since the last doorbell
  bool suspended_ = false;
  bool failed_ = false;  // resumed into a failed controller: everything fails
  uint32_t epoch_seen_ = 0;

  std::vector<Tracker> trackers_;
  Tracker* free_ = nullptr;
  uint32_t outstanding_ = 0;
  uint64_t next_seq_ = 0;

  Request* queue_head_ = nullptr;  // software queue, in submission order
  Request* queue_tail_ = nullptr;
  uint32_t queued_ = 0;

  char* bounce_base_ = nullptr;
  std::vector<int32_t> bounce_next_;
  int32_t bounce_free_head_ = -1;
  uint32_t bounce_free_count_ = 0;

  Stats stats_;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_QPAIR_H_
