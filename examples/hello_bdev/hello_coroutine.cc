// hello_bdev, coroutine style: the same as hello_callback.cc, with the I/O written as
// one coroutine. Each co_await submits an I/O and resumes here, on the same reactor
// thread, when it completes; nothing is allocated per I/O.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bdevkit/app.h"
#include "bdevkit/bdev.h"
#include "bdevkit/co.h"
#include "bdevkit/runtime.h"

namespace {

constexpr uint32_t kBlockSize = 4096;
constexpr uint64_t kBlocks = 8;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<unsigned char[], AlignedFree>;

Buffer AlignedBuffer(size_t bytes) {
  return Buffer(static_cast<unsigned char*>(std::aligned_alloc(4096, bytes)));
}

// Runs on the app thread from start to end.
bdevkit::co::Task<absl::Status> WriteAndReadBack(std::string bdev) {
  auto desc = bdevkit::OpenBdev(bdev, /*writable=*/true);
  if (!desc.ok()) co_return desc.status();
  bdevkit::IoChannel* ch = (*desc)->GetIoChannel();
  if (ch == nullptr) co_return absl::UnavailableError("no channel");
  Buffer out = AlignedBuffer(kBlocks * kBlockSize), in = AlignedBuffer(kBlocks * kBlockSize);
  for (uint64_t i = 0; i < kBlocks * kBlockSize; ++i)
    out[i] = static_cast<unsigned char>(i * 31 + 7);
  std::memset(in.get(), 0, kBlocks * kBlockSize);

  absl::Status result;
  bdevkit::IoStatus w = co_await (*desc)->Write(ch, out.get(), /*offset_blocks=*/16, kBlocks);
  bdevkit::IoStatus r = w.ok() ? co_await (*desc)->Read(ch, in.get(), 16, kBlocks) : w;
  if (!w.ok()) {
    result = absl::InternalError("write failed: " + std::to_string(w.error));
  } else if (!r.ok()) {
    result = absl::InternalError("read failed: " + std::to_string(r.error));
  } else if (std::memcmp(out.get(), in.get(), kBlocks * kBlockSize) != 0) {
    result = absl::DataLossError("the data read back differs from what was written");
  }
  ch->Put();  // channel first, then the descriptor (when `desc` goes out of scope)
  co_return result;
}

}  // namespace

int main() {
  bdevkit::AppOptions options;
  options.runtime.cores = {0};
  options.runtime.idle_policy = bdevkit::IdlePolicy::kSleep;
  if (absl::Status s = bdevkit::App::Start(options); !s.ok()) {
    std::fprintf(stderr, "hello_bdev_co: cannot start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  bdevkit::RpcResult made = bdevkit::App::Call(
      "bdev_malloc_create", {{"name", "Malloc0"}, {"num_blocks", 256}, {"block_size", kBlockSize}});
  absl::Status result = made.status();
  if (result.ok()) {
    // Spawn the coroutine on the app thread; its result ends the wait.
    result = bdevkit::App::RunAsync(bdevkit::Runtime::AppThread(),
                                    [](std::function<void(absl::Status)> done) {
                                      bdevkit::co::Spawn(WriteAndReadBack("Malloc0"), done);
                                    });
  }
  bdevkit::App::Stop();
  if (!result.ok()) {
    std::fprintf(stderr, "hello_bdev_co: %s\n", std::string(result.message()).c_str());
    return 1;
  }
  std::printf("hello_bdev (coroutine): wrote %llu bytes to Malloc0, read them back: OK\n",
              static_cast<unsigned long long>(kBlocks * kBlockSize));
  return 0;
}
