// The PCIe transport's queue pair: one NVMe submission/completion queue pair in our
// DMA memory, driven by one thread.
//
// Submit() writes the command into the SQ ring (or a software queue when the ring,
// the trackers or the bounce pages are all taken) and never touches the device; the
// SQ tail doorbell is written once per Poll() pass for everything submitted since.
// Poll() reaps completions by their phase tag, writes the CQ head doorbell once per
// batch and calls the requests' callbacks. No locks, no allocation, no system calls.
// The admin queue is a Qpair too (qid 0), used under the controller's admin lock.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_QPAIR_H_
#define BDEVKIT_MODULES_NVME_DRIVER_QPAIR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "modules/nvme/driver/io_qpair.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/env/dma_memory.h"

namespace bdevkit::nvme {

class Qpair final : public IoQpair {
 public:
  // Allocates the rings, PRP lists and bounce pages in one DMA region. Doorbells are
  // given later (SetDoorbells) because the controller creates the queue after this.
  // Control plane.
  static absl::StatusOr<std::unique_ptr<Qpair>> Create(DmaSpace& dma, const QpairConfig& config);
  ~Qpair() override;

  void SetDoorbells(volatile uint32_t* sq_tail, volatile uint32_t* cq_head) {
    sq_doorbell_ = sq_tail;
    cq_doorbell_ = cq_head;
  }

  // IoQpair. Submit() writes the SQ entry (or queues the request); Poll() rings the SQ
  // doorbell for what was submitted, then reaps the CQ by phase tag. An accepted
  // request always fits the bounce pages, which hold at least max_transfer.
  int Submit(Request& req) override;

  uint32_t Poll(uint32_t max_completions = 0) override;

  // Zeroes the CQ ring so that the re-created queue starts with no stale phase tags.
  // Called by the resetting thread while the qpair is suspended.
  void ClearCompletionRing();

  void CheckTimeouts(uint64_t now_ticks, uint64_t timeout_ticks, TimeoutFn fn, void* arg) override;

  uint64_t sq_iova() const { return sq_iova_; }
  uint64_t cq_iova() const { return cq_iova_; }
  uint32_t free_bounce_pages() const { return bounce_free_count_; }

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
  void StartQueued();
  void RingSqDoorbell();
  void CompleteTracker(const Completion& cpl);
  void ReleaseBounce(Tracker& t);
  void Resume(uint32_t epoch);
  void FailQueued(uint16_t status);

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

  std::vector<Tracker> trackers_;
  Tracker* free_ = nullptr;
  uint64_t next_seq_ = 0;

  char* bounce_base_ = nullptr;
  std::vector<int32_t> bounce_next_;
  int32_t bounce_free_head_ = -1;
  uint32_t bounce_free_count_ = 0;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_QPAIR_H_
