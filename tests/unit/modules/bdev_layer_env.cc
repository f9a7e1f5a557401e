// One runtime + bdev layer for the whole test binary (the runtime is a singleton),
// plus a test module whose examine finishes late, for bdev_wait_for_examine.
#include <atomic>
#include <memory>

#include "absl/time/time.h"
#include "bdevkit/module.h"
#include "tests/unit/modules/slow_examine_module.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::testing {

std::atomic<int> g_slow_examines_done{0};

namespace {

// Examines bdevs whose name starts with "SlowExamine" and reports done ~100 ms later,
// the way a module reading an on-disk superblock would.
class SlowExamineModule : public BdevModule {
 public:
  SlowExamineModule() : BdevModule("test_slow_examine") {}
  void Examine(Bdev& bdev) override {
    if (bdev.name().rfind("SlowExamine", 0) != 0) {
      ExamineDone(bdev, *this);
      return;
    }
    Thread* thread = Thread::Current();
    auto poller = std::make_shared<Poller*>(nullptr);
    *poller = thread->RegisterPoller(
        [this, &bdev, thread, poller] {
          thread->UnregisterPoller(*poller);
          g_slow_examines_done.fetch_add(1);
          ExamineDone(bdev, *this);
          return PollStatus::kBusy;
        },
        absl::Milliseconds(100), "slow_examine");
  }
};

class Env : public BdevLayerEnv {
 public:
  void SetUp() override {
    RegisterModule(std::make_unique<SlowExamineModule>());
    BdevLayerEnv::SetUp();
  }
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new Env());

}  // namespace
}  // namespace bdevkit::testing
