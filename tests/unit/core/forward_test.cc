// ForwardIo / PassIoToBase: a virtual bdev handing its I/O to a base, forwarded as is
// when the base can take it, else through the base's descriptor.
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_bdev.h"

namespace bdevkit::test {
namespace {

// A minimal virtual bdev: blocks [0, n) map to [offset, offset + n) of one base.
class ShiftBdev : public Bdev, public IoDevice {
 public:
  struct Ch final : ChannelContext {
    BaseChannel base;
  };
  ShiftBdev(BdevModule* module, BdevProperties props, std::unique_ptr<BdevDesc> base,
            uint64_t offset)
      : Bdev(module, std::move(props)), base_(std::move(base)), offset_(offset) {
    RegisterIoDevice("shift_" + name());
  }
  bool IoTypeSupported(IoType type) const override { return type != IoType::kReset; }
  // Forward only (no fallback), to observe ForwardIo's answer.
  bool forward_only = false;
  int refused = 0;

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override {
    BaseChannel& base = ch.ctx<Ch>().base;
    if (!forward_only) {
      PassIoToBase(base, io, io.offset_blocks + offset_);
      return;
    }
    if (!ForwardIo(base, io, io.offset_blocks + offset_)) {
      ++refused;
      CompleteIo(io, IoStatus::Error(-EXDEV));
    }
  }
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override {
    UnregisterIoDevice([this, done = std::move(done)] {
      base_.reset();
      done();
    });
  }
  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    auto ctx = std::make_unique<Ch>();
    if (!ctx->base.Open(*base_)) return nullptr;
    return ctx;
  }
  void OnChannelDestroy(ChannelContext& ctx) override { static_cast<Ch&>(ctx).base.Close(); }

 private:
  std::unique_ptr<BdevDesc> base_;
  const uint64_t offset_;
};

class ForwardTest : public CoreTest {
 protected:
  // Base "B" (1024 x 512) with `props_fn` applied, and "V" over its blocks [100, 200).
  void Build(const std::function<void(BdevProperties&)>& props_fn = nullptr) {
    BdevProperties bp = Props("B");
    if (props_fn) props_fn(bp);
    base_ = Create(bp);
    ASSERT_NE(base_, nullptr);
    RunOnApp([&] {
      auto desc = OpenBdev("B", true);
      ASSERT_TRUE(desc.ok()) << desc.status();
      ASSERT_TRUE((*desc)->Claim(ClaimType::kExclusiveWrite, "test").ok());
      auto v = std::make_unique<ShiftBdev>(module_, Props("V", 100), std::move(*desc), 100);
      vbdev_ = v.get();
      ASSERT_TRUE(RegisterBdev(std::move(v)).ok());
      auto d = OpenBdev("V", true);
      ASSERT_TRUE(d.ok()) << d.status();
      desc_ = std::move(*d);
      ch_ = desc_->GetIoChannel();
      ASSERT_NE(ch_, nullptr);
    });
  }
  void TearDown() override {
    RunOnApp([&] {
      if (ch_ != nullptr) ch_->Put();
      desc_.reset();
    });
    CoreTest::TearDown();
  }
  IoStatus Do(const std::function<int(IoCallback, void*)>& submit) {
    IoResult r;
    RunOnApp([&] {
      int rc = submit(OnIoDone, &r);
      if (rc != 0) OnIoDone(&r, IoStatus::Error(rc));
    });
    EXPECT_TRUE(WaitFor([&] { return r.calls == 1; }));
    return r.status;
  }

  TestBdev* base_ = nullptr;
  ShiftBdev* vbdev_ = nullptr;
  std::unique_ptr<BdevDesc> desc_;
  IoChannel* ch_ = nullptr;
};

TEST_F(ForwardTest, ForwardedIoLandsAtTheBaseOffsetInOneRequest) {
  Build();
  std::vector<unsigned char> w(4 * 512), r(4 * 512, 0);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<unsigned char>(i * 13 + 1);
  ASSERT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Write(ch_, w.data(), 10, 4, cb, a); }).ok());
  EXPECT_EQ(std::memcmp(base_->data.data() + 110 * 512, w.data(), w.size()), 0);
  ASSERT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, r.data(), 10, 4, cb, a); }).ok());
  EXPECT_EQ(r, w);
  ASSERT_EQ(base_->log.size(), 2u);
  EXPECT_EQ(base_->log[0].offset_blocks, 110u);
  EXPECT_EQ(base_->log[0].num_blocks, 4u);
  // Forwarded: the virtual bdev's own BdevIo reached the base, so the base's counters
  // (kept by the layer's submit path) never saw it, the virtual bdev's did.
  EXPECT_EQ(CollectStats(*base_).num_write_ops, 0u);
  EXPECT_EQ(CollectStats(*vbdev_).num_write_ops, 1u);
  ASSERT_TRUE(Do([&](IoCallback cb, void* a) { return desc_->Unmap(ch_, 0, 100, cb, a); }).ok());
  EXPECT_EQ(base_->log.back().type, IoType::kUnmap);
  EXPECT_EQ(base_->log.back().offset_blocks, 100u);
}

TEST_F(ForwardTest, BaseThatMustSplitGoesThroughItsDescriptor) {
  // The base splits on an 8-block boundary; [110, 114) ... [116, 120) crosses one.
  Build([](BdevProperties& p) {
    p.optimal_io_boundary = 8;
    p.split_on_optimal_io_boundary = true;
  });
  std::vector<unsigned char> w(8 * 512);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<unsigned char>(i * 7 + 3);
  ASSERT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Write(ch_, w.data(), 10, 8, cb, a); }).ok());
  EXPECT_EQ(std::memcmp(base_->data.data() + 110 * 512, w.data(), w.size()), 0);
  ASSERT_EQ(base_->log.size(), 2u);
  EXPECT_EQ(base_->log[0].offset_blocks, 110u);
  EXPECT_EQ(base_->log[0].num_blocks, 2u);
  EXPECT_EQ(base_->log[1].offset_blocks, 112u);
  EXPECT_EQ(base_->log[1].num_blocks, 6u);
  EXPECT_EQ(CollectStats(*base_).num_write_ops, 1u);
  // Within one boundary it is forwarded.
  ASSERT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Write(ch_, w.data(), 14, 2, cb, a); }).ok());
  EXPECT_EQ(base_->log.back().offset_blocks, 114u);
  EXPECT_EQ(CollectStats(*base_).num_write_ops, 1u);
}

TEST_F(ForwardTest, RefusesWhatTheBaseCannotTakeAndFallbackReportsTheError) {
  Build([](BdevProperties& p) { p.num_blocks = 150; });  // the virtual bdev overhangs it
  std::vector<unsigned char> buf(512);
  vbdev_->forward_only = true;
  // Block 60 of V is block 160 of B: past its end. Refused, never passed on.
  EXPECT_EQ(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 60, 1, cb, a); }).error,
      -EXDEV);
  EXPECT_EQ(vbdev_->refused, 1);
  EXPECT_TRUE(base_->log.empty());
  // Through the descriptor, the base's own check answers.
  vbdev_->forward_only = false;
  EXPECT_EQ(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 60, 1, cb, a); }).error,
      -EINVAL);
  EXPECT_TRUE(base_->log.empty());
  EXPECT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 49, 1, cb, a); }).ok());
  EXPECT_EQ(base_->log.size(), 1u);
}

TEST_F(ForwardTest, RemovedBaseIsNotForwardedToAndHeldIoStillCompletes) {
  Build();
  base_->mode = TestBdev::Mode::kHold;
  std::vector<unsigned char> buf(512);
  IoResult held;
  RunOnApp([&] { ASSERT_EQ(desc_->Read(ch_, buf.data(), 0, 1, OnIoDone, &held), 0); });
  bool removed = false;
  RunOnApp([&] { UnregisterBdev("B", [&](absl::Status s) { removed = s.ok(); }); });
  // New I/O is refused by the removing base (through its descriptor: -ENODEV).
  EXPECT_EQ(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 1, 1, cb, a); }).error,
      -ENODEV);
  // The base cannot go while the virtual bdev holds its channel and I/O is in flight.
  EXPECT_FALSE(removed);
  RunOnApp([&] { base_->ReleaseHeld(); });
  ASSERT_TRUE(WaitFor([&] { return held.calls == 1; }));
  EXPECT_TRUE(held.status.ok());
  EXPECT_FALSE(removed);  // V still has it open
  RunOnApp([&] {
    ch_->Put();
    ch_ = nullptr;
    desc_.reset();
    UnregisterBdev("V", nullptr);
  });
  EXPECT_TRUE(WaitFor([&] { return removed; }));
}

// What BaseChannel::Open looks up once (geometry, types) must not hide what changes:
// a base shrunk after the channel was made refuses I/O past its new end.
TEST_F(ForwardTest, ShrunkBaseIsNotForwardedPastItsNewEnd) {
  Build();
  std::vector<unsigned char> buf(512);
  ASSERT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 30, 1, cb, a); }).ok());
  RunOnApp([&] { base_->Resize(120); });
  vbdev_->forward_only = true;
  // Block 30 of V is block 130 of B, now past its end.
  EXPECT_EQ(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 30, 1, cb, a); }).error,
      -EXDEV);
  EXPECT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 19, 1, cb, a); }).ok());
  EXPECT_EQ(base_->log.size(), 2u);
}

// A base with a rate limit takes the I/O through its descriptor, so its admission
// stage counts it (the limit would be bypassed otherwise).
TEST_F(ForwardTest, RateLimitedBaseIsNotForwardedTo) {
  Build();
  bool limited = false;
  RunOnApp([&] {
    QosLimitsUpdate u;
    u.rw_ios_per_sec = 1'000'000;
    SetQosLimits("B", u, [&](absl::Status s) { limited = s.ok(); });
  });
  ASSERT_TRUE(WaitFor([&] { return limited; }));
  std::vector<unsigned char> buf(512);
  vbdev_->forward_only = true;
  EXPECT_EQ(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 0, 1, cb, a); }).error,
      -EXDEV);
  vbdev_->forward_only = false;
  EXPECT_TRUE(
      Do([&](IoCallback cb, void* a) { return desc_->Read(ch_, buf.data(), 0, 1, cb, a); }).ok());
  EXPECT_EQ(CollectStats(*base_).num_read_ops, 1u);  // through the base's own path
}

}  // namespace
}  // namespace bdevkit::test
