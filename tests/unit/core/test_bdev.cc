#include "tests/unit/core/test_bdev.h"

#include <cerrno>
#include <cstring>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace bdevkit::test {

namespace {
absl::Mutex g_log_mu;
}  // namespace

std::vector<std::string>& EventLog() {
  static auto* log = new std::vector<std::string>();
  return *log;
}

static void LogEvent(std::string e) {
  absl::MutexLock lock(&g_log_mu);
  EventLog().push_back(std::move(e));
}

absl::Status TestModule::Init() {
  LogEvent("init:" + name());
  return absl::OkStatus();
}

void TestModule::Fini() { LogEvent("fini:" + name()); }

void TestModule::Examine(Bdev& bdev) {
  examined.push_back(bdev.name());
  ExamineDone(bdev, *this);
}

TestModule* GetTestModule(const std::string& name) {
  if (BdevModule* m = FindModule(name)) return static_cast<TestModule*>(m);
  RegisterModule(std::make_unique<TestModule>(name));
  return static_cast<TestModule*>(FindModule(name));
}

std::unique_ptr<ChannelContext> TestBackend::CreateChannelContext() {
  auto ctx = std::make_unique<Ctx>();
  Ctx* raw = ctx.get();
  raw->poller = Thread::Current()->RegisterPoller(
      [raw] {
        if (raw->later.empty()) return PollStatus::kIdle;
        auto batch = std::move(raw->later);
        raw->later.clear();
        for (auto& [io, st] : batch) CompleteIo(*io, st);
        return PollStatus::kBusy;
      },
      absl::ZeroDuration(), "test_backend");
  return ctx;
}

void TestBackend::OnChannelDestroy(ChannelContext& ctx) {
  Thread::Current()->UnregisterPoller(static_cast<Ctx&>(ctx).poller);
}

TestBdev::TestBdev(BdevModule* module, BdevProperties props) : Bdev(module, std::move(props)) {
  data.resize(num_blocks() * block_size());
  backend_.RegisterIoDevice("test_backend_" + name());
}

TestBdev::~TestBdev() { LogEvent("deleted:" + name()); }

void TestBdev::SubmitIo(IoChannel& ch, BdevIo& io) {
  log.push_back(
      {io.type, io.offset_blocks, io.num_blocks, std::vector<iovec>(io.iovs, io.iovs + io.iovcnt)});
  const uint32_t align = properties().required_alignment;
  for (int i = 0; i < io.iovcnt && align > 1; ++i) {
    if (reinterpret_cast<uintptr_t>(io.iovs[i].iov_base) % align != 0) {
      ++misaligned_seen;
    }
  }
  IoStatus st;
  if (fail_if && fail_if(io)) {
    st = IoStatus::Error(-EIO);
  } else {
    unsigned char* p = data.data() + io.offset_blocks * block_size();
    switch (io.type) {
      case IoType::kRead:
        for (int i = 0; i < io.iovcnt; p += io.iovs[i].iov_len, ++i) {
          std::memcpy(io.iovs[i].iov_base, p, io.iovs[i].iov_len);
        }
        break;
      case IoType::kWrite:
        for (int i = 0; i < io.iovcnt; p += io.iovs[i].iov_len, ++i) {
          std::memcpy(p, io.iovs[i].iov_base, io.iovs[i].iov_len);
        }
        break;
      case IoType::kWriteZeroes:
      case IoType::kUnmap:
        std::memset(p, 0, io.num_blocks * block_size());
        break;
      case IoType::kReset: {
        ++resets;
        // A reset aborts what the device holds.
        auto aborted = std::move(held);
        held.clear();
        for (auto& [h, hst] : aborted) CompleteIo(*h, IoStatus::Error(-EIO));
        break;
      }
      case IoType::kFlush:
        break;
    }
  }
  switch (mode) {
    case Mode::kInline:
      CompleteIo(io, st);
      break;
    case Mode::kPoller:
      ch.ctx<TestBackend::Ctx>().later.emplace_back(&io, st);
      break;
    case Mode::kHold:
      held.emplace_back(&io, st);
      break;
  }
}

void TestBdev::ReleaseHeld() {
  auto batch = std::move(held);
  held.clear();
  for (auto& [io, st] : batch) CompleteIo(*io, st);
}

void TestBdev::Destruct(std::function<void()> done) {
  LogEvent("destruct:" + name());
  if (destructed != nullptr) *destructed = true;
  if (on_destruct) on_destruct();
  backend_.UnregisterIoDevice(std::move(done));
}

void OnIoDone(void* arg, IoStatus status) {
  auto* r = static_cast<IoResult*>(arg);
  if (r == nullptr) return;
  ++r->calls;
  r->status = status;
  if (r->submitting != nullptr && *r->submitting) r->during_submit = true;
}

BdevProperties Props(std::string name, uint64_t num_blocks, uint32_t block_size) {
  BdevProperties p;
  p.name = std::move(name);
  p.product_name = "Test disk";
  p.num_blocks = num_blocks;
  p.block_size = block_size;
  return p;
}

void CoreTest::SetUp() {
  module_ = GetTestModule("test");
  RuntimeOptions options;
  options.cores = {0};
  options.pin_reactors = false;
  // Two cores shared by many processes: do not spin while idle.
  options.idle_policy = IdlePolicy::kSleep;
  options.idle_spins = 1000;
  ASSERT_TRUE(Runtime::Start(options).ok());
  StartLayer();
}

void CoreTest::StartLayer() {
  absl::Status st = absl::UnknownError("not run");
  bool done = false;
  RunOnApp([&] {
    StartBdevLayer([&](absl::Status s) {
      st = s;
      done = true;
    });
  });
  ASSERT_TRUE(WaitFor([&] { return done; }));
  ASSERT_TRUE(st.ok()) << st;
}

void CoreTest::StopLayer() {
  bool stopped = false;
  RunOnApp([&] { StopBdevLayer([&] { stopped = true; }); });
  ASSERT_TRUE(WaitFor([&] { return stopped; }));
}

void CoreTest::TearDown() {
  if (Runtime::IsRunning()) {
    StopLayer();
    Runtime::RequestStop();
    Runtime::Wait();
  }
}

void CoreTest::RunOn(Thread* thread, const std::function<void()>& fn) {
  absl::Notification done;
  ASSERT_EQ(thread->Send([&] {
    fn();
    done.Notify();
  }),
            0);
  done.WaitForNotification();
}

bool CoreTest::WaitFor(const std::function<bool()>& pred) {
  for (int i = 0; i < 10000; ++i) {
    bool ok = false;
    RunOnApp([&] { ok = pred(); });
    if (ok) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

IoStats CoreTest::CollectStats(Bdev& bdev) {
  IoStats stats;
  bool got = false;
  RunOnApp([&] {
    GetIoStats(bdev, [&](const IoStats& s) {
      stats = s;
      got = true;
    });
  });
  if (!WaitFor([&] { return got; })) ADD_FAILURE() << "GetIoStats never called back";
  return stats;
}

TestBdev* CoreTest::Create(BdevProperties props, absl::Status* status) {
  TestBdev* raw = nullptr;
  absl::Status st;
  RunOnApp([&] {
    auto bdev = std::make_unique<TestBdev>(module_, std::move(props));
    raw = bdev.get();
    st = RegisterBdev(std::move(bdev));
  });
  if (status != nullptr) *status = st;
  if (!st.ok()) {
    if (status == nullptr) ADD_FAILURE() << st;
    return nullptr;
  }
  return raw;
}

}  // namespace bdevkit::test
