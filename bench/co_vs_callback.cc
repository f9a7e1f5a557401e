// The cost of the coroutine layer (bdevkit/co.h) against the callback API, on the null
// bdev (no device work: what is measured is the layer and the way I/O is written).
// Both run in this one process, alternately, on one reactor, with the same queue depth
// and the same per-I/O work besides the API: each of QD lanes reads a 4 KiB block into
// its own buffer and, when it completes, submits the next until the deadline passes.
//   callback:  a completion callback resubmits (bdevperf's shape)
//   coroutine: QD coroutines, each `while (...) co_await desc->Read(...)`
// Prints one line per run: "callback IOPS coroutine IOPS".
// With a fifth argument (callback or coroutine) it does one run of that style only, no
// warm-up, of SECONDS x 100000 I/Os instead of a time (a count callgrind gives the same
// result for whatever the machine does), and prints "ios N".
//
// Usage: co_vs_callback QD SECONDS RUNS [CORE [STYLE]]   (bench/co_vs_callback.sh runs it)
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bdevkit/app.h"
#include "bdevkit/bdev.h"
#include "bdevkit/co.h"
#include "bdevkit/runtime.h"

namespace {

using bdevkit::IoStatus;

constexpr uint32_t kBlock = 4096;
constexpr uint64_t kBlocks = 1 << 18;

struct Bench {
  std::unique_ptr<bdevkit::BdevDesc> desc;
  bdevkit::IoChannel* ch = nullptr;
  std::vector<void*> bufs;
  uint64_t deadline = 0;
  uint64_t ios = 0;
  uint64_t limit = UINT64_MAX;  // I/Os to do (STYLE runs), else until the deadline
  int running = 0;
  std::function<void(absl::Status)> done;
  int errors = 0;
};

// ---- callback style -------------------------------------------------------------
struct Lane {
  Bench* b;
  void* buf;
  uint64_t block;
};

void LaneDone(Bench* b) {
  if (--b->running == 0) b->done(absl::OkStatus());
}

void OnRead(void* arg, IoStatus status) {
  auto* lane = static_cast<Lane*>(arg);
  Bench* b = lane->b;
  if (!status.ok()) ++b->errors;
  ++b->ios;
  if (bdevkit::GetTicks() >= b->deadline || b->ios >= b->limit) return LaneDone(b);
  lane->block = (lane->block + 64) & (kBlocks - 1);
  if (b->desc->Read(b->ch, lane->buf, lane->block, 1, OnRead, lane) != 0) {
    ++b->errors;
    LaneDone(b);
  }
}

// ---- coroutine style ------------------------------------------------------------
bdevkit::co::Task<void> CoLane(Bench* b, void* buf, uint64_t block) {
  do {
    IoStatus s = co_await b->desc->Read(b->ch, buf, block, 1);
    if (!s.ok()) ++b->errors;
    ++b->ios;
    block = (block + 64) & (kBlocks - 1);
  } while (bdevkit::GetTicks() < b->deadline && b->ios < b->limit);
  LaneDone(b);
}

struct Result {
  double iops = 0;
  uint64_t ios = 0;
};

// Runs one measurement on the app thread.
Result Measure(bool coroutine, int qd, double seconds, uint64_t limit = UINT64_MAX) {
  auto b = std::make_shared<Bench>();
  b->limit = limit;
  std::vector<Lane> lanes(qd);
  uint64_t start = 0, end = 0;
  absl::Status s = bdevkit::App::RunAsync(
      bdevkit::Runtime::AppThread(), [&](std::function<void(absl::Status)> done) {
        auto desc = bdevkit::OpenBdev("Null0", /*writable=*/false);
        if (!desc.ok()) return done(desc.status());
        b->desc = std::move(*desc);
        b->ch = b->desc->GetIoChannel();
        for (int i = 0; i < qd; ++i) b->bufs.push_back(std::aligned_alloc(4096, kBlock));
        b->running = qd;
        b->done = [b, &end, done](absl::Status st) {
          end = bdevkit::GetTicks();
          for (void* p : b->bufs) std::free(p);
          b->ch->Put();
          b->desc.reset();
          done(st);
        };
        start = bdevkit::GetTicks();
        b->deadline = limit != UINT64_MAX
                          ? UINT64_MAX
                          : start + static_cast<uint64_t>(seconds * bdevkit::GetTicksPerSecond());
        for (int i = 0; i < qd; ++i) {
          const uint64_t block = static_cast<uint64_t>(i) * 997 % kBlocks;
          if (coroutine) {
            bdevkit::co::Spawn(CoLane(b.get(), b->bufs[i], block));
          } else {
            lanes[i] = Lane{b.get(), b->bufs[i], block};
            if (b->desc->Read(b->ch, lanes[i].buf, block, 1, OnRead, &lanes[i]) != 0) {
              ++b->errors;
              LaneDone(b.get());
            }
          }
        }
      });
  if (!s.ok() || b->errors != 0) {
    std::fprintf(stderr, "co_vs_callback: %s, %d errors\n", std::string(s.message()).c_str(),
                 b->errors);
    std::exit(1);
  }
  return {
      static_cast<double>(b->ios) * bdevkit::GetTicksPerSecond() / static_cast<double>(end - start),
      b->ios};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s QD SECONDS RUNS [CORE]\n", argv[0]);
    return 2;
  }
  const int qd = std::atoi(argv[1]);
  const double seconds = std::atof(argv[2]);
  const int runs = std::atoi(argv[3]);
  bdevkit::AppOptions options;
  options.runtime.cores = {argc > 4 ? std::atoi(argv[4]) : 0};
  options.runtime.idle_policy = bdevkit::IdlePolicy::kBusyPoll;
  if (absl::Status s = bdevkit::App::Start(options); !s.ok()) {
    std::fprintf(stderr, "co_vs_callback: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (!bdevkit::App::Call("bdev_null_create",
                          {{"name", "Null0"}, {"num_blocks", kBlocks}, {"block_size", kBlock}})
           .ok()) {
    return 1;
  }
  if (argc > 5) {
    const std::string style = argv[5];
    if (style != "callback" && style != "coroutine") {
      std::fprintf(stderr, "co_vs_callback: STYLE is callback or coroutine, not '%s'\n",
                   style.c_str());
      return 2;
    }
    const auto count = static_cast<uint64_t>(seconds * 100000);
    std::printf("ios %llu\n",
                static_cast<unsigned long long>(Measure(style == "coroutine", qd, 0, count).ios));
    bdevkit::App::Stop();
    return 0;
  }
  Measure(false, qd, 0.2);  // warm-up: pools, channel, frames
  Measure(true, qd, 0.2);
  for (int r = 0; r < runs; ++r) {
    // Alternate which goes first, so a drift in the machine's load hits both alike.
    double cb, co;
    if (r % 2 == 0) {
      cb = Measure(false, qd, seconds).iops;
      co = Measure(true, qd, seconds).iops;
    } else {
      co = Measure(true, qd, seconds).iops;
      cb = Measure(false, qd, seconds).iops;
    }
    std::printf("%.0f %.0f\n", cb, co);
    std::fflush(stdout);
  }
  bdevkit::App::Stop();
  return 0;
}
