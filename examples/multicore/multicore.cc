// multicore: spread I/O over every reactor, one channel per thread.
//
// One descriptor is opened on the app thread; each reactor thread takes its own
// channel from it (channels are per thread, so the I/O path shares nothing and takes
// no lock) and runs a coroutine that keeps kDepth I/Os in flight over its own slice of
// the bdev: write every block, read it back, compare. The app thread hands out the
// work by message and collects the results by message.
//
// Usage: multicore [CORE_MASK]   (default: 0x3 when the machine has 2 cores, else 0x1)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bdevkit/app.h"
#include "bdevkit/bdev.h"
#include "bdevkit/co.h"
#include "bdevkit/runtime.h"

namespace {

using bdevkit::IoStatus;
using bdevkit::co::Task;

constexpr uint32_t kBlockSize = 4096;
constexpr uint64_t kBlocksPerThread = 1024;  // 4 MiB per thread
constexpr int kDepth = 8;                    // I/Os in flight per thread

struct ThreadResult {
  int core = -1;
  uint64_t ios = 0;
  IoStatus status;
};

uint8_t PatternByte(uint64_t block, size_t i) { return static_cast<uint8_t>(block * 131 + i); }

// One of kDepth lanes of a thread: blocks lane, lane + kDepth, ... of its slice.
Task<IoStatus> Lane(bdevkit::BdevDesc* desc, bdevkit::IoChannel* ch, uint64_t first_block, int lane,
                    uint64_t* ios) {
  std::vector<uint8_t> out(kBlockSize), in(kBlockSize);
  for (uint64_t b = first_block + lane; b < first_block + kBlocksPerThread; b += kDepth) {
    for (size_t i = 0; i < kBlockSize; ++i) out[i] = PatternByte(b, i);
    IoStatus s = co_await desc->Write(ch, out.data(), b, 1);
    if (!s.ok()) co_return s;
    s = co_await desc->Read(ch, in.data(), b, 1);
    if (!s.ok()) co_return s;
    if (in != out) co_return IoStatus::Error(-EILSEQ);
    *ios += 2;
  }
  co_return IoStatus::Success();
}

// Runs on one reactor thread: its channel, kDepth lanes at once, the channel released.
Task<ThreadResult> Worker(bdevkit::BdevDesc* desc, uint64_t first_block) {
  ThreadResult result;
  result.core = bdevkit::Thread::Current()->core();
  bdevkit::IoChannel* ch = desc->GetIoChannel();  // this thread's own channel
  if (ch == nullptr) {
    result.status = IoStatus::Error(-ENODEV);
    co_return result;
  }
  std::vector<Task<IoStatus>> lanes;
  for (int lane = 0; lane < kDepth; ++lane) {
    lanes.push_back(Lane(desc, ch, first_block, lane, &result.ios));
  }
  for (const IoStatus& s : co_await bdevkit::co::WhenAll(std::move(lanes))) {
    if (!s.ok() && result.status.ok()) result.status = s;
  }
  ch->Put();
  co_return result;
}

// On the app thread: one Worker per reactor thread, results gathered back here.
struct Run {
  std::unique_ptr<bdevkit::BdevDesc> desc;
  std::vector<ThreadResult> results;
  size_t pending = 0;
  std::function<void(absl::Status)> done;
};

void Start(std::shared_ptr<Run> run, std::function<void(absl::Status)> done) {
  auto desc = bdevkit::OpenBdev("Malloc0", /*writable=*/true);
  if (!desc.ok()) return done(desc.status());
  run->desc = std::move(*desc);
  run->done = std::move(done);
  std::vector<bdevkit::Thread*> threads = bdevkit::Runtime::ReactorThreads();
  run->results.resize(threads.size());
  run->pending = threads.size();
  bdevkit::Thread* app = bdevkit::Thread::Current();
  for (size_t i = 0; i < threads.size(); ++i) {
    threads[i]->Send([run, app, i] {
      bdevkit::co::Spawn(Worker(run->desc.get(), i * kBlocksPerThread),
                         [run, app, i](ThreadResult r) {
                           app->Send([run, i, r] {  // back to the app thread
                             run->results[i] = r;
                             if (--run->pending != 0) return;
                             run->desc.reset();  // closed on the thread that opened it
                             run->done(absl::OkStatus());
                           });
                         });
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mask = argc > 1 ? argv[1] : (sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? "0x3" : "0x1");
  absl::StatusOr<std::vector<int>> cores = bdevkit::ParseCoreMask(mask);
  if (!cores.ok()) {
    std::fprintf(stderr, "multicore: %s\n", std::string(cores.status().message()).c_str());
    return 1;
  }
  bdevkit::AppOptions options;
  options.runtime.cores = *cores;
  options.runtime.idle_policy = bdevkit::IdlePolicy::kSleep;
  if (absl::Status s = bdevkit::App::Start(options); !s.ok()) {
    std::fprintf(stderr, "multicore: cannot start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const uint64_t blocks = kBlocksPerThread * cores->size();
  absl::Status status =
      bdevkit::App::Call("bdev_malloc_create",
                         {{"name", "Malloc0"}, {"num_blocks", blocks}, {"block_size", kBlockSize}})
          .status();
  auto run = std::make_shared<Run>();
  if (status.ok()) {
    status = bdevkit::App::RunAsync(
        bdevkit::Runtime::AppThread(),
        [run](std::function<void(absl::Status)> done) { Start(run, std::move(done)); });
  }
  bdevkit::App::Stop();
  if (!status.ok()) {
    std::fprintf(stderr, "multicore: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  bool ok = true;
  for (const ThreadResult& r : run->results) {
    std::printf("reactor on core %d: %llu I/Os (writes + verified reads), %s\n", r.core,
                static_cast<unsigned long long>(r.ios), r.status.ok() ? "ok" : "FAILED");
    ok = ok && r.status.ok() && r.ios == 2 * kBlocksPerThread;
  }
  std::printf("%zu reactor threads, one channel each: %s\n", run->results.size(),
              ok ? "all threads: OK" : "FAILED");
  return ok ? 0 : 1;
}
