// BdevLayerOptions (bdev_set_options): set only while the layer is stopped, validated,
// the pool size honoured by the next thread pools, and auto_examine off leaving
// examine to ExamineBdev (bdev_examine).
#include <cerrno>
#include <memory>
#include <string>

#include "bdev/core/bdev_io_pool.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_bdev.h"

namespace bdevkit::test {
namespace {

class LayerOptionsTest : public CoreTest {
 protected:
  // Puts the defaults back for the tests that follow (the layer must be stopped).
  void TearDown() override {
    StopLayer();
    RunOnApp([] { ASSERT_TRUE(SetBdevLayerOptions(BdevLayerOptions()).ok()); });
    StartLayer();
    CoreTest::TearDown();
  }

  // Restarts the layer with these options.
  void Restart(const BdevLayerOptions& options) {
    StopLayer();
    RunOnApp([&] {
      absl::Status s = SetBdevLayerOptions(options);
      ASSERT_TRUE(s.ok()) << s;
    });
    StartLayer();
  }
};

TEST_F(LayerOptionsTest, OnlyWhileStoppedAndValidated) {
  RunOnApp([] {
    absl::Status s = SetBdevLayerOptions(BdevLayerOptions());
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  });
  StopLayer();
  RunOnApp([] {
    BdevLayerOptions small;
    small.bdev_io_per_thread = 2 * core::kBdevIoChildReserve - 1;
    absl::Status s = SetBdevLayerOptions(small);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("bdev_io_pool_size"), absl::string_view::npos) << s;
    BdevLayerOptions cache;
    cache.bdev_io_cache_size = cache.bdev_io_per_thread + 1;
    s = SetBdevLayerOptions(cache);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("bdev_io_cache_size"), absl::string_view::npos) << s;
    cache.bdev_io_cache_size = 0;
    EXPECT_EQ(SetBdevLayerOptions(cache).code(), absl::StatusCode::kInvalidArgument);
    // Nothing changed by the refusals.
    EXPECT_EQ(GetBdevLayerOptions().bdev_io_per_thread, core::kBdevIoPoolSize);
    EXPECT_EQ(GetBdevLayerOptions().bdev_io_cache_size, 256u);
  });
  StartLayer();
}

TEST_F(LayerOptionsTest, PoolSizeBoundsSubmissionsPerThread) {
  BdevLayerOptions options;
  options.bdev_io_per_thread = 300;
  Restart(options);
  TestBdev* b = Create(Props("P"));
  ASSERT_NE(b, nullptr);
  static char buf[512];
  int submitted = 0;
  RunOnApp([&] {
    auto desc = OpenBdev("P", false);
    ASSERT_TRUE(desc.ok()) << desc.status();
    IoChannel* ch = (*desc)->GetIoChannel();
    ASSERT_NE(ch, nullptr);
    b->mode = TestBdev::Mode::kHold;
    int rc;
    while ((rc = (*desc)->Read(ch, buf, 0, 1, OnIoDone, nullptr)) == 0) ++submitted;
    EXPECT_EQ(rc, -ENOMEM);
    b->ReleaseHeld();
    ch->Put();
  });
  EXPECT_EQ(submitted, static_cast<int>(300 - core::kBdevIoChildReserve));
}

TEST_F(LayerOptionsTest, AutoExamineOffExaminesOnlyNamedBdevs) {
  BdevLayerOptions options;
  options.auto_examine = false;
  Restart(options);
  const size_t before = module_->examined.size();
  ASSERT_NE(Create(Props("Quiet")), nullptr);
  RunOnApp([&] { EXPECT_EQ(module_->examined.size(), before); });
  // bdev_examine on an existing bdev examines it now, once.
  RunOnApp([&] {
    EXPECT_TRUE(ExamineBdev("Quiet").ok());
    ASSERT_EQ(module_->examined.size(), before + 1);
    EXPECT_EQ(module_->examined.back(), "Quiet");
    EXPECT_TRUE(ExamineBdev("Quiet").ok());
    EXPECT_EQ(module_->examined.size(), before + 1);
  });
  // A name given before the bdev exists is examined when it registers.
  RunOnApp([&] { EXPECT_EQ(ExamineBdev("Later").code(), absl::StatusCode::kNotFound); });
  ASSERT_NE(Create(Props("Later")), nullptr);
  RunOnApp([&] { EXPECT_EQ(module_->examined.back(), "Later"); });
}

}  // namespace
}  // namespace bdevkit::test
