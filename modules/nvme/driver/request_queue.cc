// The queue pairs' software queue (request_queue.h).
#include "modules/nvme/driver/request_queue.h"

#include "modules/nvme/driver/io_qpair.h"

namespace bdevkit::nvme {

namespace {

void CompleteWith(Request& req, uint16_t status, uint16_t qid) {
  Completion cpl{};
  cpl.status = status;
  cpl.sq_id = qid;
  req.cb(req.cb_arg, cpl);
}

}  // namespace

void RequestQueue::PushBack(Request& req) {
  req.next = nullptr;
  (tail_ != nullptr ? tail_->next : head_) = &req;
  tail_ = &req;
  ++size_;
}

void RequestQueue::PushFront(Request& req) {
  req.next = head_;
  head_ = &req;
  if (tail_ == nullptr) tail_ = &req;
  ++size_;
}

Request& RequestQueue::PopFront() {
  Request& req = *head_;
  head_ = req.next;
  if (head_ == nullptr) tail_ = nullptr;
  --size_;
  req.next = nullptr;
  return req;
}

uint32_t RequestQueue::TrimForResubmit(uint8_t max_resubmits, uint16_t status, uint16_t qid) {
  Request* keep_head = nullptr;
  Request* keep_tail = nullptr;
  Request* fail_head = nullptr;
  Request** fail_tail = &fail_head;
  uint32_t kept = 0;
  for (Request* r = head_; r != nullptr;) {
    Request* next = r->next;
    r->next = nullptr;
    if (r->resubmits >= max_resubmits) {
      *fail_tail = r;
      fail_tail = &r->next;
    } else {
      ++r->resubmits;
      (keep_tail != nullptr ? keep_tail->next : keep_head) = r;
      keep_tail = r;
      ++kept;
    }
    r = next;
  }
  head_ = keep_head;
  tail_ = keep_tail;
  size_ = kept;
  for (Request* r = fail_head; r != nullptr;) {
    Request* next = r->next;
    CompleteWith(*r, status, qid);
    r = next;
  }
  return kept;
}

void RequestQueue::FailAll(uint16_t status, uint16_t qid) {
  while (!empty()) CompleteWith(PopFront(), status, qid);
}

}  // namespace bdevkit::nvme
