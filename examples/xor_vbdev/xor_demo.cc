// Loads the XOR plugin into this program (as bdevd --load-module does), puts an XOR
// bdev over a RAM bdev, writes through it, reads back through it, and reads the base
// directly to see the data XOR-ed there.
//
// Usage: xor_demo PATH/libbdev_xor.so
#include <cstdio>
#include <string>
#include <vector>

#include "bdevkit/app.h"
#include "bdevkit/bdev.h"
#include "bdevkit/co.h"
#include "bdevkit/runtime.h"

namespace {

using bdevkit::IoStatus;
using bdevkit::co::Task;

constexpr uint32_t kBlock = 512;
constexpr uint64_t kChunkBlocks = 128;  // 64 KiB writes
constexpr int kChunks = 24;             // more at once than the channel's 16 buffers
constexpr uint8_t kKey = 0x5A;

uint8_t Pattern(size_t i) { return static_cast<uint8_t>(i * 13 + i / 4096); }

Task<IoStatus> WriteChunk(bdevkit::BdevDesc* d, bdevkit::IoChannel* ch, const uint8_t* data,
                          int chunk) {
  co_return co_await d->Write(ch, data + chunk * kChunkBlocks * kBlock, chunk * kChunkBlocks,
                              kChunkBlocks);
}

Task<absl::Status> Check() {
  auto x = bdevkit::OpenBdev("Xor0", /*writable=*/true);
  // The base is claimed by the XOR module: others may only open it read-only.
  auto base = bdevkit::OpenBdev("Malloc0", /*writable=*/false);
  if (!x.ok()) co_return x.status();
  if (!base.ok()) co_return base.status();
  if (bdevkit::OpenBdev("Malloc0", /*writable=*/true).ok()) {
    co_return absl::InternalError("the base could be opened for writing despite the claim");
  }
  bdevkit::IoChannel* xch = (*x)->GetIoChannel();
  bdevkit::IoChannel* bch = (*base)->GetIoChannel();
  const size_t bytes = kChunks * kChunkBlocks * kBlock;
  std::vector<uint8_t> data(bytes), through(bytes), raw(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = Pattern(i);

  absl::Status result;
  std::vector<Task<IoStatus>> writes;
  for (int c = 0; c < kChunks; ++c) writes.push_back(WriteChunk(x->get(), xch, data.data(), c));
  for (const IoStatus& s : co_await bdevkit::co::WhenAll(std::move(writes))) {
    if (!s.ok()) result = absl::InternalError("a write failed: " + std::to_string(s.error));
  }
  IoStatus r1 = co_await (*x)->Read(xch, through.data(), 0, kChunks * kChunkBlocks);
  IoStatus r2 = co_await (*base)->Read(bch, raw.data(), 0, kChunks * kChunkBlocks);
  size_t xored = 0;
  for (size_t i = 0; i < bytes; ++i) xored += raw[i] == (data[i] ^ kKey);
  if (!result.ok()) {
  } else if (!r1.ok() || !r2.ok()) {
    result = absl::InternalError("a read failed");
  } else if (through != data) {
    result = absl::DataLossError("reading through the XOR bdev did not give the data back");
  } else if (xored != bytes) {
    result = absl::DataLossError("the base does not hold the data XOR-ed with the key");
  } else {
    std::printf(
        "wrote %zu bytes through Xor0 (%d writes at once), read them back; the base "
        "holds every byte XOR 0x%02x\n",
        bytes, kChunks, kKey);
  }
  xch->Put();
  bch->Put();
  co_return result;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH/libbdev_xor.so\n", argv[0]);
    return 2;
  }
  bdevkit::AppOptions options;
  options.runtime.cores = {0};
  options.runtime.idle_policy = bdevkit::IdlePolicy::kSleep;
  options.plugins = {argv[1]};
  if (absl::Status s = bdevkit::App::Start(options); !s.ok()) {
    std::fprintf(stderr, "xor_demo: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  absl::Status status =
      bdevkit::App::Call("bdev_malloc_create",
                         {{"name", "Malloc0"}, {"num_blocks", 4096}, {"block_size", kBlock}})
          .status();
  if (status.ok()) {
    status = bdevkit::App::Call("bdev_xor_create",
                                {{"name", "Xor0"}, {"base_bdev", "Malloc0"}, {"key", kKey}})
                 .status();
  }
  if (status.ok()) {
    status = bdevkit::App::RunAsync(
        bdevkit::Runtime::AppThread(),
        [](std::function<void(absl::Status)> done) { bdevkit::co::Spawn(Check(), done); });
  }
  bdevkit::App::Stop();
  if (!status.ok()) {
    std::fprintf(stderr, "xor_demo: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::printf("xor_demo: OK\n");
  return 0;
}
