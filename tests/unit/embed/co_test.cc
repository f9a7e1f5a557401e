// The coroutine layer (bdevkit/co.h) over real bdevs: awaited I/O, composition,
// WhenAll, -ENOMEM waited out, submit errors as results, the frame pool.
#include "bdevkit/co.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "bdevkit/app.h"
#include "bdevkit/bdev.h"
#include "bdevkit/runtime.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using co::Task;

constexpr uint32_t kBlock = 512;

// An open, writable bdev with this thread's channel, for one test on the app thread.
struct Disk {
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  ~Disk() {
    if (ch != nullptr) ch->Put();
  }
};

class CoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppOptions o;
    o.runtime.cores = {0};
    o.runtime.pin_reactors = false;
    o.runtime.message_ring_size = 4096;
    ASSERT_TRUE(App::Start(o).ok());
    ASSERT_TRUE(App::Call("bdev_malloc_create",
                          {{"name", "CoM"}, {"num_blocks", 256}, {"block_size", kBlock}})
                    .ok());
    ASSERT_TRUE(App::Call("bdev_null_create",
                          {{"name", "CoN"}, {"num_blocks", 1 << 20}, {"block_size", kBlock}})
                    .ok());
  }
  void TearDown() override { App::Stop(); }

  // Opens `name` on the app thread, spawns make(disk) there and waits for its status.
  template <typename Make>
  IoStatus RunOnApp(const char* name, Make make) {
    IoStatus result = IoStatus::Error(-EINPROGRESS);
    absl::Status s =
        App::RunAsync(Runtime::AppThread(), [&](std::function<void(absl::Status)> done) {
          auto disk = std::make_shared<Disk>();  // made, used and freed on the app thread
          auto desc = OpenBdev(name, /*writable=*/true);
          if (!desc.ok()) return done(desc.status());
          disk->desc = std::move(*desc);
          disk->ch = disk->desc->GetIoChannel();
          co::Spawn(make(*disk), [&result, done, disk](IoStatus st) mutable {
            result = st;
            disk.reset();  // channel Put and descriptor closed on the app thread
            done(absl::OkStatus());
          });
        });
    EXPECT_TRUE(s.ok()) << s;
    return result;
  }
};

Task<IoStatus> WriteReadCompare(Disk& d, uint64_t offset, uint8_t seed) {
  std::vector<uint8_t> out(4 * kBlock), in(4 * kBlock, 0);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  IoStatus s = co_await d.desc->Write(d.ch, out.data(), offset, 4);
  if (!s.ok()) co_return s;
  Thread* before = Thread::Current();
  s = co_await d.desc->Read(d.ch, in.data(), offset, 4);
  if (Thread::Current() != before) co_return IoStatus::Error(-EXDEV);  // resumed elsewhere
  if (!s.ok()) co_return s;
  co_return in == out ? IoStatus::Success() : IoStatus::Error(-EILSEQ);
}

TEST_F(CoTest, AwaitedWriteThenReadReturnsTheDataOnTheSameThread) {
  IoStatus s = RunOnApp("CoM", [](Disk& d) { return WriteReadCompare(d, 8, 3); });
  EXPECT_TRUE(s.ok()) << s.error;
}

Task<IoStatus> VectoredAndOtherTypes(Disk& d) {
  std::vector<uint8_t> a(kBlock, 0xA1), b(kBlock, 0xB2), back(2 * kBlock);
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  IoStatus s = co_await d.desc->Writev(d.ch, iov, 2, 10, 2);
  if (!s.ok()) co_return s;
  iovec riov[1] = {{back.data(), back.size()}};
  s = co_await d.desc->Readv(d.ch, riov, 1, 10, 2);
  if (!s.ok()) co_return s;
  if (back[0] != 0xA1 || back[kBlock] != 0xB2) co_return IoStatus::Error(-EILSEQ);
  s = co_await d.desc->WriteZeroes(d.ch, 10, 1);
  if (!s.ok()) co_return s;
  s = co_await d.desc->Read(d.ch, back.data(), 10, 2);
  if (!s.ok()) co_return s;
  if (back[0] != 0 || back[kBlock] != 0xB2) co_return IoStatus::Error(-EILSEQ);
  s = co_await d.desc->Unmap(d.ch, 11, 1);
  if (!s.ok()) co_return s;
  s = co_await d.desc->Flush(d.ch, 0, 1);
  if (!s.ok()) co_return s;
  co_return co_await d.desc->Reset(d.ch);
}

TEST_F(CoTest, EveryIoTypeHasACoroutineForm) {
  IoStatus s = RunOnApp("CoM", [](Disk& d) { return VectoredAndOtherTypes(d); });
  EXPECT_TRUE(s.ok()) << s.error;
}

Task<IoStatus> OutOfRange(Disk& d) {
  std::vector<uint8_t> buf(kBlock);
  co_return co_await d.desc->Read(d.ch, buf.data(), 256, 1);  // one past the end
}

TEST_F(CoTest, ASubmitErrorIsTheResult) {
  IoStatus s = RunOnApp("CoM", [](Disk& d) { return OutOfRange(d); });
  EXPECT_EQ(s.error, -EINVAL);
}

Task<IoStatus> ReadOne(Disk& d, uint64_t block, uint8_t* buf) {
  co_return co_await d.desc->Read(d.ch, buf, block, 1);
}

Task<IoStatus> WhenAllOfTwoAndOfMany(Disk& d) {
  // Known contents first: block i holds byte i.
  std::vector<uint8_t> data(16 * kBlock);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i / kBlock);
  IoStatus s = co_await d.desc->Write(d.ch, data.data(), 0, 16);
  if (!s.ok()) co_return s;

  std::vector<uint8_t> x(kBlock), y(kBlock);
  auto [sx, sy] = co_await co::WhenAll(ReadOne(d, 3, x.data()), ReadOne(d, 5, y.data()));
  if (!sx.ok()) co_return sx;
  if (!sy.ok()) co_return sy;
  if (x[0] != 3 || y[kBlock - 1] != 5) co_return IoStatus::Error(-EILSEQ);

  std::vector<uint8_t> bufs(16 * kBlock);
  std::vector<Task<IoStatus>> reads;
  for (uint64_t i = 0; i < 16; ++i) reads.push_back(ReadOne(d, 15 - i, &bufs[i * kBlock]));
  std::vector<IoStatus> results = co_await co::WhenAll(std::move(reads));
  if (results.size() != 16) co_return IoStatus::Error(-EPROTO);
  for (uint64_t i = 0; i < 16; ++i) {
    if (!results[i].ok()) co_return results[i];
    if (bufs[i * kBlock] != 15 - i) co_return IoStatus::Error(-EILSEQ);
  }
  std::vector<Task<IoStatus>> none;
  if (!(co_await co::WhenAll(std::move(none))).empty()) co_return IoStatus::Error(-EPROTO);
  co_return IoStatus::Success();
}

TEST_F(CoTest, WhenAllRunsTasksTogetherAndReturnsResultsInOrder) {
  IoStatus s = RunOnApp("CoM", [](Disk& d) { return WhenAllOfTwoAndOfMany(d); });
  EXPECT_TRUE(s.ok()) << s.error;
}

// More I/O in flight than the thread has BdevIo (4096 per thread by default): the
// awaitables that get -ENOMEM wait for one and go on; none fails.
Task<IoStatus> ManyAtOnce(Disk& d, int n) {
  static uint8_t buf[kBlock];
  std::vector<Task<IoStatus>> reads;
  for (int i = 0; i < n; ++i) reads.push_back(ReadOne(d, static_cast<uint64_t>(i), buf));
  std::vector<IoStatus> results = co_await co::WhenAll(std::move(reads));
  for (const IoStatus& r : results) {
    if (!r.ok()) co_return r;
  }
  co_return results.size() == static_cast<size_t>(n) ? IoStatus::Success()
                                                     : IoStatus::Error(-EPROTO);
}

TEST_F(CoTest, NoBdevIoFreeIsWaitedOutNotReturned) {
  IoStatus s = RunOnApp("CoN", [](Disk& d) { return ManyAtOnce(d, 6000); });
  EXPECT_TRUE(s.ok()) << s.error;
}

Task<int> Add(int a, int b) { co_return a + b; }
Task<int> SumTo(int n) {
  int total = 0;
  for (int i = 1; i <= n; ++i) total = co_await Add(total, i);
  co_return total;
}

TEST(CoFramesTest, FramesAreRecycledSoALoopStopsReachingTheHeap) {
  int result = 0;
  co::FramePoolStats before = co::GetFramePoolStats();
  co::Spawn(SumTo(1000), [&result](int v) { result = v; });  // no suspension: runs here
  co::FramePoolStats after = co::GetFramePoolStats();
  EXPECT_EQ(result, 500500);
  // Frames: the wrapper, SumTo and 1000 Add calls of one size. Only a few come from the
  // heap; every Add after the first reuses the frame the previous one returned.
  EXPECT_LE(after.heap_allocs - before.heap_allocs, 3u);
  EXPECT_GE(after.reused - before.reused, 999u);
}

TEST(CoFramesTest, ATaskNeverAwaitedIsFreedWithItsFrame) {
  bool ran = false;
  auto body = [](bool* flag) -> Task<void> {
    *flag = true;
    co_return;
  };
  {
    Task<void> t = body(&ran);
    EXPECT_TRUE(t.valid());
    EXPECT_FALSE(t.done());
  }  // destroyed unstarted: ASan reports a leak if the frame is not freed
  EXPECT_FALSE(ran);
  Task<void> moved = body(&ran);
  Task<void> target = std::move(moved);
  EXPECT_FALSE(moved.valid());
  co::Spawn(std::move(target));
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace bdevkit
