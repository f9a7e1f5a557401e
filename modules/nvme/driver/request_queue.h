// A queue pair's software queue: requests submitted while no slot was free (or while
// the queue pair was suspended), kept in submission order until they can start. Both
// transports (PCIe Qpair, TcpQpair) keep one. Intrusive through Request::next: nothing
// is allocated. One thread (the queue pair's).
#ifndef BDEVKIT_MODULES_NVME_DRIVER_REQUEST_QUEUE_H_
#define BDEVKIT_MODULES_NVME_DRIVER_REQUEST_QUEUE_H_

#include <cstdint>

namespace bdevkit::nvme {

struct Request;  // io_qpair.h

class RequestQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  uint32_t size() const { return size_; }
  Request& front() const { return *head_; }

  void PushBack(Request& req);
  // Puts back a request taken out of the device (a reset): it goes before everything
  // submitted after it.
  void PushFront(Request& req);
  Request& PopFront();

  // After the controller forgot its commands (a reset, a reconnect): the requests
  // already resubmitted `max_resubmits` times are taken out and completed with
  // `status` (one command that keeps taking the controller down must not loop
  // forever); the others stay, in order, each counted once more in its `resubmits`.
  // Returns how many stay. The callbacks run after the queue is consistent again.
  uint32_t TrimForResubmit(uint8_t max_resubmits, uint16_t status, uint16_t qid);
  // Completes every request with `status`, emptying the queue (front first).
  void FailAll(uint16_t status, uint16_t qid);

 private:
  Request* head_ = nullptr;
  Request* tail_ = nullptr;
  uint32_t size_ = 0;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_REQUEST_QUEUE_H_
