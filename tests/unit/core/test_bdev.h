// Test fixtures for the bdev core: an in-memory backend with knobs (complete inline,
// later from a poller, or hold I/O until told; fail chosen I/O), test modules, and a
// GoogleTest fixture running the real runtime with the bdev layer started.
#ifndef BDEVKIT_TESTS_UNIT_CORE_TEST_BDEV_H_
#define BDEVKIT_TESTS_UNIT_CORE_TEST_BDEV_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"
#include "gtest/gtest.h"

namespace bdevkit::test {

// What the backend saw for one submitted BdevIo.
struct Submitted {
  IoType type;
  uint64_t offset_blocks;
  uint64_t num_blocks;
  std::vector<iovec> iovs;
};

// Global, test-thread-visible order of Init/Fini/Destruct events.
std::vector<std::string>& EventLog();

class TestModule : public BdevModule {
 public:
  explicit TestModule(std::string name) : BdevModule(std::move(name)) {}
  absl::Status Init() override;
  void Fini() override;
  void Examine(Bdev& bdev) override;
  std::vector<std::string> examined;
};

// The module named `name`, registered on first use (before StartBdevLayer).
TestModule* GetTestModule(const std::string& name);

// Per-thread backend channel: I/O to complete on the next poll.
class TestBackend final : public IoDevice {
 public:
  struct Ctx final : ChannelContext {
    std::deque<std::pair<BdevIo*, IoStatus>> later;
    Poller* poller = nullptr;
  };

 protected:
  std::unique_ptr<ChannelContext> CreateChannelContext() override;
  void OnChannelDestroy(ChannelContext& ctx) override;
};

class TestBdev : public Bdev {
 public:
  enum class Mode { kInline, kPoller, kHold };

  TestBdev(BdevModule* module, BdevProperties props);
  ~TestBdev() override;

  bool IoTypeSupported(IoType type) const override {
    return type != IoType::kReset || supports_reset;
  }
  // Completes the held I/O (on the calling thread, which must be theirs).
  void ReleaseHeld();
  void Resize(uint64_t n) {
    data.resize(n * block_size());
    NotifyResize(n);
  }

  // Knobs and observations; touched on the I/O thread only.
  Mode mode = Mode::kInline;
  bool supports_reset = true;
  std::function<bool(const BdevIo&)> fail_if;
  std::vector<Submitted> log;
  std::vector<std::pair<BdevIo*, IoStatus>> held;
  std::vector<unsigned char> data;
  int misaligned_seen = 0;
  int resets = 0;
  bool* destructed = nullptr;         // set by Destruct
  std::function<void()> on_destruct;  // extra teardown (virtual bdevs close bases)

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override;
  IoChannel* GetBackendChannel() override { return backend_.GetIoChannel(); }
  void Destruct(std::function<void()> done) override;

 private:
  TestBackend backend_;
};

// Result of one I/O as its callback saw it.
struct IoResult {
  int calls = 0;
  IoStatus status;
  bool during_submit = false;  // the callback ran while `submitting` was set
  const bool* submitting = nullptr;
};
void OnIoDone(void* arg, IoStatus status);

BdevProperties Props(std::string name, uint64_t num_blocks = 1024, uint32_t block_size = 512);

// Runs the runtime (one reactor, not pinned, sleeping when idle) and the bdev layer.
class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs fn on `thread` (default: the app thread) and waits for it. Test thread only.
  void RunOn(Thread* thread, const std::function<void()>& fn);
  void RunOnApp(const std::function<void()>& fn) { RunOn(Runtime::AppThread(), fn); }
  // Evaluates pred on the app thread until it holds (true) or 10 s pass (false).
  bool WaitFor(const std::function<bool()>& pred);
  // The bdev's counters, gathered on the app thread (GetIoStats); ADD_FAILURE and
  // zeroes if they do not arrive in 10 s.
  IoStats CollectStats(Bdev& bdev);

  // Registers a TestBdev on the app thread; nullptr + ADD_FAILURE on error.
  TestBdev* Create(BdevProperties props, absl::Status* status = nullptr);
  void StopLayer();
  void StartLayer();

  TestModule* module_ = nullptr;
};

}  // namespace bdevkit::test

#endif  // BDEVKIT_TESTS_UNIT_CORE_TEST_BDEV_H_
