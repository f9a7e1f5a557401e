#include "modules/nvme/driver/qpair.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/runtime.h"
#include "modules/nvme/driver/barriers.h"
#include "modules/nvme/driver/prp.h"

namespace bdevkit::nvme {
namespace {

constexpr uint32_t kPrpListBytes = kMaxTransferPages * sizeof(uint64_t);  // 1 KiB
constexpr uint32_t kReapBatch = 64;

size_t PageRound(size_t v) { return (v + kPageSize - 1) / kPageSize * kPageSize; }

}  // namespace

absl::StatusOr<std::unique_ptr<Qpair>> Qpair::Create(DmaSpace& dma, const QpairConfig& config) {
  if (config.entries < 2 || config.entries > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue entries must be 2..65536, got ", config.entries));
  }
  if (config.max_transfer == 0 || config.max_transfer % kPageSize != 0 ||
      config.max_transfer > kMaxTransferPages * kPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("max transfer must be a multiple of 4 KiB up to ",
                     kMaxTransferPages * kPageSize, ", got ", config.max_transfer));
  }
  if (uint64_t{config.bounce_pages} * kPageSize < config.max_transfer) {
    // Every request the queue accepts must be able to go through bounce pages.
    return absl::InvalidArgumentError(absl::StrCat("bounce pages (", config.bounce_pages,
                                                   ") must hold the max transfer (",
                                                   config.max_transfer, " bytes)"));
  }
  const size_t sq_bytes = PageRound(config.entries * sizeof(Command));
  const size_t cq_bytes = PageRound(config.entries * sizeof(Completion));
  const size_t prp_bytes = PageRound((config.entries - 1) * size_t{kPrpListBytes});
  const size_t bounce_bytes = size_t{config.bounce_pages} * kPageSize;
  absl::StatusOr<std::unique_ptr<DmaRegion>> region =
      dma.Allocate(sq_bytes + cq_bytes + prp_bytes + bounce_bytes);
  if (!region.ok()) return region.status();
  char* base = static_cast<char*>((*region)->vaddr());
  // The controller needs each ring contiguous in IOVA space (CAP.CQR on most devices,
  // and we never ask for discontiguous queues).
  if ((*region)->ContiguousFrom(base) < sq_bytes ||
      (*region)->ContiguousFrom(base + sq_bytes) < cq_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("queue rings of ", config.entries,
                                                     " entries are not contiguous in DMA memory"));
  }
  return std::unique_ptr<Qpair>(new Qpair(config, std::move(*region), dma.map()));
}

Qpair::Qpair(const QpairConfig& config, std::unique_ptr<DmaRegion> region,
             const TranslationMap& map)
    : IoQpair(config), region_(std::move(region)), map_(map) {
  char* base = static_cast<char*>(region_->vaddr());
  const size_t sq_bytes = PageRound(config_.entries * sizeof(Command));
  const size_t cq_bytes = PageRound(config_.entries * sizeof(Completion));
  const size_t prp_bytes = PageRound((config_.entries - 1) * size_t{kPrpListBytes});
  sq_ = reinterpret_cast<Command*>(base);
  cq_ = reinterpret_cast<volatile Completion*>(base + sq_bytes);
  sq_iova_ = region_->Iova(base);
  cq_iova_ = region_->Iova(base + sq_bytes);

  // One tracker per CID; each owns a 1 KiB PRP list (never crossing a page: 4 per page).
  char* prp = base + sq_bytes + cq_bytes;
  trackers_.resize(config_.entries - 1);
  for (size_t i = trackers_.size(); i-- > 0;) {
    Tracker& t = trackers_[i];
    t.cid = static_cast<uint16_t>(i);
    t.prp_list = reinterpret_cast<uint64_t*>(prp + i * kPrpListBytes);
    t.prp_list_iova = region_->Iova(t.prp_list);
    t.next_free = free_;
    free_ = &t;
  }

  bounce_base_ = base + sq_bytes + cq_bytes + prp_bytes;
  bounce_next_.resize(config_.bounce_pages);
  for (uint32_t i = 0; i < config_.bounce_pages; ++i) {
    bounce_next_[i] = i + 1 < config_.bounce_pages ? static_cast<int32_t>(i + 1) : -1;
  }
  bounce_free_head_ = config_.bounce_pages > 0 ? 0 : -1;
  bounce_free_count_ = config_.bounce_pages;
}

Qpair::~Qpair() {
  if (!idle()) {
    LOG_ERROR("nvme: qpair %d destroyed with %u commands outstanding and %u queued", config_.qid,
              outstanding_, queue_.size());
  }
}

int Qpair::Submit(Request& req) {
  if (failed_) return -ENODEV;
  if (req.data_len > config_.max_transfer) return -EINVAL;
  uint64_t sum = 0;
  for (int i = 0; i < req.iovcnt; ++i) sum += req.iovs[i].iov_len;
  if (sum != req.data_len) return -EINVAL;
  req.next = nullptr;
  // Keep submission order: nothing overtakes requests already waiting.
  if (suspended_ || !queue_.empty() || !TryStart(req)) Enqueue(req);
  return 0;
}

void Qpair::Enqueue(Request& req) {
  queue_.PushBack(req);
  ++stats_.queued;
}

// Starts `req` now if a tracker, an SQ slot and (when needed) bounce pages are free.
bool Qpair::TryStart(Request& req) {
  Tracker* t = free_;
  if (t == nullptr) return false;
  // The SQ is full when the tail would catch up with the head the controller
  // reported. With one tracker less than entries this cannot happen, but a stale
  // SQHD must never let us overwrite a command the controller has not fetched.
  if ((sq_tail_ + 1) % config_.entries == sq_head_) return false;
  // Commands without data may carry their own PRP1 (queue creation points it at the
  // new queue's ring).
  uint64_t prp1 = req.cmd.prp1, prp2 = req.cmd.prp2;
  if (req.data_len > 0) {
    PrpBuilder builder(t->prp_list, t->prp_list_iova, kMaxTransferPages);
    if (BuildPrps(req.iovs, req.iovcnt, map_, builder) == PrpResult::kOk) {
      builder.Finish(&prp1, &prp2);
    } else {
      // Not in DMA memory, or pieces PRPs cannot describe: copy through our pages.
      if (!SetUpBounce(*t, req)) return false;
      PrpBuilder bounce(t->prp_list, t->prp_list_iova, kMaxTransferPages);
      uint32_t left = req.data_len;
      for (int32_t p = t->bounce_head; p >= 0 && left > 0; p = bounce_next_[p]) {
        uint32_t n = std::min<uint32_t>(left, kPageSize);
        bounce.Add(region_->Iova(bounce_base_ + size_t(p) * kPageSize), n);
        left -= n;
      }
      bounce.Finish(&prp1, &prp2);
    }
  }
  free_ = t->next_free;
  t->req = &req;
  t->seq = next_seq_++;
  t->timeout_reported = false;
  if (config_.track_timeouts) t->submit_ticks = GetTicks();

  Command& sqe = sq_[sq_tail_];
  sqe = req.cmd;
  sqe.cid = t->cid;
  sqe.flags = static_cast<uint8_t>(req.cmd.flags & 0x3f);  // PSDT 0: PRPs, not SGLs
  sqe.prp1 = prp1;
  sqe.prp2 = prp2;
  sq_tail_ = (sq_tail_ + 1) % config_.entries;
  sq_dirty_ = true;
  ++outstanding_;
  ++stats_.submitted;
  return true;
}

bool Qpair::SetUpBounce(Tracker& t, Request& req) {
  const uint32_t pages = (req.data_len + kPageSize - 1) / kPageSize;
  if (pages > bounce_free_count_) return false;  // waits for pages to free up
  // Take `pages` pages off the free list; they stay chained through bounce_next_.
  int32_t head = bounce_free_head_;
  int32_t last = head;
  for (uint32_t i = 1; i < pages; ++i) last = bounce_next_[last];
  bounce_free_head_ = bounce_next_[last];
  bounce_next_[last] = -1;
  bounce_free_count_ -= pages;
  t.bounce_head = head;
  t.bounce_count = pages;
  ++stats_.bounced;
  if (req.to_device) {
    // Gather the caller's pieces into the pages, in order.
    int32_t page = head;
    uint32_t in_page = 0;
    for (int i = 0; i < req.iovcnt; ++i) {
      const char* src = static_cast<const char*>(req.iovs[i].iov_base);
      size_t left = req.iovs[i].iov_len;
      while (left > 0) {
        size_t n = std::min<size_t>(left, kPageSize - in_page);
        std::memcpy(bounce_base_ + size_t(page) * kPageSize + in_page, src, n);
        src += n;
        left -= n;
        in_page += static_cast<uint32_t>(n);
        if (in_page == kPageSize) {
          page = bounce_next_[page];
          in_page = 0;
        }
      }
    }
  }
  return true;
}

void Qpair::ReleaseBounce(Tracker& t) {
  if (t.bounce_head < 0) return;
  int32_t last = t.bounce_head;
  while (bounce_next_[last] >= 0) last = bounce_next_[last];
  bounce_next_[last] = bounce_free_head_;
  bounce_free_head_ = t.bounce_head;
  bounce_free_count_ += t.bounce_count;
  t.bounce_head = -1;
  t.bounce_count = 0;
}

void Qpair::RingSqDoorbell() {
  if (!sq_dirty_) return;
  // The SQ entries (and PRP lists, bounce data) must reach memory before the
  // controller, woken by the doorbell, fetches them.
  DmaWriteBarrier();
  *sq_doorbell_ = sq_tail_;
  sq_dirty_ = false;
  ++stats_.sq_doorbells;
}

void Qpair::StartQueued() {
  while (!queue_.empty() && !suspended_) {
    if (!TryStart(queue_.front())) break;
    queue_.PopFront();
  }
}

uint32_t Qpair::Poll(uint32_t max_completions) {
  if (suspended_) {
    if (config_.ctrlr_epoch == nullptr) return 0;
    // Acquire: the controller's re-created queues (and our zeroed CQ) happen-before
    // we touch the rings again.
    uint32_t epoch = config_.ctrlr_epoch->load(std::memory_order_acquire);
    if (epoch == epoch_seen_) return 0;
    Resume(epoch);
  }
  RingSqDoorbell();
  uint32_t total = 0;
  const uint32_t limit = max_completions == 0 ? UINT32_MAX : max_completions;
  while (total < limit) {
    Completion batch[kReapBatch];
    uint32_t n = 0;
    const uint32_t want = std::min<uint32_t>(kReapBatch, limit - total);
    while (n < want) {
      volatile Completion& e = cq_[cq_head_];
      const uint16_t status = e.status;
      if ((status & 1) != phase_) break;
      // The rest of the entry is read only after its phase tag said it is new.
      DmaReadBarrier();
      Completion& c = batch[n++];
      c.cdw0 = e.cdw0;
      c.rsvd = 0;
      c.sq_head = e.sq_head;
      c.sq_id = e.sq_id;
      c.cid = e.cid;
      c.status = status;
      if (++cq_head_ == config_.entries) {
        cq_head_ = 0;
        phase_ ^= 1;  // the controller flips the tag each time it wraps, so do we
      }
    }
    if (n == 0) break;
    sq_head_ = batch[n - 1].sq_head % config_.entries;
    // Done reading these entries before the doorbell gives their slots back.
    DmaLoadStoreBarrier();
    *cq_doorbell_ = cq_head_;
    ++stats_.cq_doorbells;
    for (uint32_t i = 0; i < n; ++i) CompleteTracker(batch[i]);
    total += n;
    if (n < want) break;
  }
  StartQueued();
  RingSqDoorbell();
  return total;
}

void Qpair::CompleteTracker(const Completion& cpl) {
  if (cpl.cid >= trackers_.size() || trackers_[cpl.cid].req == nullptr) {
    LOG_ERROR("nvme: qpair %d: completion for unknown command id %d (status 0x%x); ignored",
              config_.qid, cpl.cid, cpl.status);
    return;
  }
  Tracker& t = trackers_[cpl.cid];
  Request& req = *t.req;
  if (t.bounce_head >= 0 && !req.to_device && cpl.ok()) {
    // Scatter what the device wrote into our pages to the caller's pieces.
    int32_t page = t.bounce_head;
    uint32_t in_page = 0;
    for (int i = 0; i < req.iovcnt; ++i) {
      char* dst = static_cast<char*>(req.iovs[i].iov_base);
      size_t left = req.iovs[i].iov_len;
      while (left > 0) {
        size_t n = std::min<size_t>(left, kPageSize - in_page);
        std::memcpy(dst, bounce_base_ + size_t(page) * kPageSize + in_page, n);
        dst += n;
        left -= n;
        in_page += static_cast<uint32_t>(n);
        if (in_page == kPageSize) {
          page = bounce_next_[page];
          in_page = 0;
        }
      }
    }
  }
  ReleaseBounce(t);
  // The tracker is free before the callback, which may submit again.
  t.req = nullptr;
  t.next_free = free_;
  free_ = &t;
  --outstanding_;
  ++stats_.completed;
  req.cb(req.cb_arg, cpl);
}

void Qpair::ClearCompletionRing() {
  for (uint32_t i = 0; i < config_.entries; ++i) {
    cq_[i].status = 0;
    cq_[i].cid = 0;
  }
}

void Qpair::Resume(uint32_t epoch) {
  epoch_seen_ = epoch;
  // The controller forgot every command: take the outstanding ones back, latest
  // first, so pushing each to the front of the software queue restores their order.
  while (outstanding_ > 0) {
    Tracker* latest = nullptr;
    for (Tracker& t : trackers_) {
      if (t.req != nullptr && (latest == nullptr || t.seq > latest->seq)) latest = &t;
    }
    Request& req = *latest->req;
    ReleaseBounce(*latest);
    latest->req = nullptr;
    latest->next_free = free_;
    free_ = latest;
    --outstanding_;
    queue_.PushFront(req);
  }
  sq_tail_ = sq_head_ = cq_head_ = 0;
  phase_ = 1;
  sq_dirty_ = false;
  suspended_ = false;
  if ((epoch & kEpochFailed) != 0) {
    failed_ = true;
    FailQueued(MakeStatus(sct::kGeneric, generic_sc::kAbortSqDeleted, /*dnr=*/true));
    return;
  }
  // Requests already resubmitted too often fail rather than risk looping forever on
  // a command that takes the controller down.
  stats_.resubmitted += queue_.TrimForResubmit(
      config_.max_resubmits, MakeStatus(sct::kGeneric, generic_sc::kAbortSqDeleted, /*dnr=*/true),
      config_.qid);
}

void Qpair::FailQueued(uint16_t status) { queue_.FailAll(status, config_.qid); }

void Qpair::CheckTimeouts(uint64_t now_ticks, uint64_t timeout_ticks, TimeoutFn fn, void* arg) {
  if (!config_.track_timeouts || outstanding_ == 0 || suspended_) return;
  for (Tracker& t : trackers_) {
    if (t.req == nullptr || now_ticks - t.submit_ticks <= timeout_ticks) continue;
    bool first = !t.timeout_reported;
    t.timeout_reported = true;
    fn(arg, *this, t.cid, first);
    if (suspended_) return;  // the callback started a reset
  }
}

}  // namespace bdevkit::nvme
