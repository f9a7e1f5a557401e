// The queue pairs' software queue: order, putting requests back in front, trimming
// after a reset (too often resubmitted requests fail, the rest keep their order), and
// failing everything.
#include "modules/nvme/driver/request_queue.h"

#include <vector>

#include "gtest/gtest.h"
#include "modules/nvme/driver/io_qpair.h"

namespace bdevkit::nvme {
namespace {

struct Seen {
  int id;
  uint16_t status;
  uint16_t sq_id;
};

struct Tagged {
  Request req;
  int id = 0;
  std::vector<Seen>* seen = nullptr;
};

void Record(void* arg, const Completion& cpl) {
  auto* t = static_cast<Tagged*>(arg);
  t->seen->push_back({t->id, cpl.status, cpl.sq_id});
}

class RequestQueueTest : public ::testing::Test {
 protected:
  RequestQueueTest() : reqs_(6) {
    for (int i = 0; i < static_cast<int>(reqs_.size()); ++i) {
      reqs_[i].id = i;
      reqs_[i].seen = &seen_;
      reqs_[i].req.cb = Record;
      reqs_[i].req.cb_arg = &reqs_[i];
    }
  }
  Request& R(int i) { return reqs_[i].req; }
  // The ids in the queue, front to back (emptying it).
  std::vector<int> Drain() {
    std::vector<int> ids;
    while (!q_.empty()) ids.push_back(static_cast<Tagged*>(q_.PopFront().cb_arg)->id);
    return ids;
  }

  std::vector<Tagged> reqs_;
  std::vector<Seen> seen_;
  RequestQueue q_;
};

TEST_F(RequestQueueTest, KeepsSubmissionOrderAndPutsTakenBackInFront) {
  EXPECT_TRUE(q_.empty());
  q_.PushBack(R(2));
  q_.PushBack(R(3));
  q_.PushFront(R(1));  // taken back from the device: older than what waits
  q_.PushFront(R(0));
  q_.PushBack(R(4));
  EXPECT_EQ(q_.size(), 5u);
  EXPECT_EQ(&q_.front(), &R(0));
  EXPECT_EQ(Drain(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(q_.size(), 0u);
  // Empty again: pushing to either end works from scratch.
  q_.PushFront(R(5));
  q_.PushBack(R(0));
  EXPECT_EQ(Drain(), (std::vector<int>{5, 0}));
  EXPECT_TRUE(seen_.empty());
}

TEST_F(RequestQueueTest, TrimFailsTheTooOftenResubmittedAndKeepsTheRestInOrder) {
  const uint8_t max = 2;
  R(0).resubmits = 0;
  R(1).resubmits = 2;  // at the limit: fails
  R(2).resubmits = 1;
  R(3).resubmits = 5;  // past it: fails
  R(4).resubmits = 0;
  for (int i = 0; i < 5; ++i) q_.PushBack(R(i));
  const uint16_t status = MakeStatus(0, 0x08, /*dnr=*/true);
  EXPECT_EQ(q_.TrimForResubmit(max, status, 7), 3u);
  EXPECT_EQ(q_.size(), 3u);
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].id, 1);
  EXPECT_EQ(seen_[1].id, 3);
  for (const Seen& s : seen_) {
    EXPECT_EQ(s.status, status);
    EXPECT_EQ(s.sq_id, 7);
  }
  // The kept ones count this resubmission.
  EXPECT_EQ(R(0).resubmits, 1);
  EXPECT_EQ(R(2).resubmits, 2);
  EXPECT_EQ(R(4).resubmits, 1);
  // The queue is whole: a push at the back lands after the last kept one.
  q_.PushBack(R(5));
  EXPECT_EQ(Drain(), (std::vector<int>{0, 2, 4, 5}));
}

TEST_F(RequestQueueTest, TrimThatFailsEverythingLeavesAnEmptyQueue) {
  for (int i = 0; i < 3; ++i) {
    R(i).resubmits = 1;
    q_.PushBack(R(i));
  }
  EXPECT_EQ(q_.TrimForResubmit(1, 0x1234, 1), 0u);
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(seen_.size(), 3u);
  q_.PushBack(R(3));
  EXPECT_EQ(Drain(), (std::vector<int>{3}));
}

TEST_F(RequestQueueTest, FailAllCompletesFrontFirstWithTheStatus) {
  for (int i = 0; i < 4; ++i) q_.PushBack(R(i));
  q_.FailAll(0x4321, 3);
  EXPECT_TRUE(q_.empty());
  ASSERT_EQ(seen_.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(seen_[i].id, i);
    EXPECT_EQ(seen_[i].status, 0x4321);
    EXPECT_EQ(seen_[i].sq_id, 3);
  }
}

}  // namespace
}  // namespace bdevkit::nvme
