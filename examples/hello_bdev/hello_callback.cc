// hello_bdev, callback style: start bdevkit inside this program (no daemon), make a
// RAM bdev, write a block, read it back and check it, stop.
//
// The I/O runs on the runtime's app thread: App::RunAsync sends the first step there
// and waits; each step submits one I/O whose callback runs the next step on the same
// thread. A submit that returns 0 always calls its callback; one that fails never does.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "bdevkit/app.h"
#include "bdevkit/bdev.h"
#include "bdevkit/runtime.h"

namespace {

constexpr uint32_t kBlockSize = 4096;
constexpr uint64_t kBlocks = 8;  // one I/O of 8 blocks

// Everything the I/O steps share; lives until the last callback.
struct Hello {
  std::unique_ptr<bdevkit::BdevDesc> desc;
  bdevkit::IoChannel* ch = nullptr;
  unsigned char* out = nullptr;
  unsigned char* in = nullptr;
  std::function<void(absl::Status)> done;

  ~Hello() {
    if (ch != nullptr) ch->Put();  // channel first, then the descriptor (owning thread)
    desc.reset();
    std::free(out);
    std::free(in);
  }
};

void Finish(Hello* h, absl::Status status) {
  auto done = std::move(h->done);
  delete h;
  done(status);
}

void OnRead(void* arg, bdevkit::IoStatus status) {
  auto* h = static_cast<Hello*>(arg);
  if (!status.ok())
    return Finish(h, absl::InternalError("read failed: " + std::to_string(status.error)));
  if (std::memcmp(h->out, h->in, kBlocks * kBlockSize) != 0) {
    return Finish(h, absl::DataLossError("the data read back differs from what was written"));
  }
  Finish(h, absl::OkStatus());
}

void OnWritten(void* arg, bdevkit::IoStatus status) {
  auto* h = static_cast<Hello*>(arg);
  if (!status.ok())
    return Finish(h, absl::InternalError("write failed: " + std::to_string(status.error)));
  int rc = h->desc->Read(h->ch, h->in, /*offset_blocks=*/16, kBlocks, OnRead, h);
  if (rc != 0) Finish(h, absl::InternalError("read not submitted: " + std::to_string(rc)));
}

// Runs on the app thread.
void WriteAndReadBack(const std::string& bdev, std::function<void(absl::Status)> done) {
  auto desc = bdevkit::OpenBdev(bdev, /*writable=*/true);
  if (!desc.ok()) return done(desc.status());
  auto* h = new Hello;
  h->done = std::move(done);
  h->desc = std::move(*desc);
  h->ch = h->desc->GetIoChannel();
  h->out = static_cast<unsigned char*>(std::aligned_alloc(4096, kBlocks * kBlockSize));
  h->in = static_cast<unsigned char*>(std::aligned_alloc(4096, kBlocks * kBlockSize));
  if (h->ch == nullptr || h->out == nullptr || h->in == nullptr) {
    return Finish(h, absl::ResourceExhaustedError("no channel or no memory"));
  }
  for (uint64_t i = 0; i < kBlocks * kBlockSize; ++i)
    h->out[i] = static_cast<unsigned char>(i * 31 + 7);
  std::memset(h->in, 0, kBlocks * kBlockSize);
  int rc = h->desc->Write(h->ch, h->out, /*offset_blocks=*/16, kBlocks, OnWritten, h);
  if (rc != 0) Finish(h, absl::InternalError("write not submitted: " + std::to_string(rc)));
}

}  // namespace

int main() {
  bdevkit::AppOptions options;
  options.runtime.cores = {0};
  options.runtime.idle_policy = bdevkit::IdlePolicy::kSleep;  // no core burnt while idle
  if (absl::Status s = bdevkit::App::Start(options); !s.ok()) {
    std::fprintf(stderr, "hello_bdev: cannot start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  // A 1 MiB RAM bdev, made in code through the same method a config file would use.
  bdevkit::RpcResult made = bdevkit::App::Call(
      "bdev_malloc_create", {{"name", "Malloc0"}, {"num_blocks", 256}, {"block_size", kBlockSize}});
  absl::Status result = made.status();
  if (result.ok()) {
    result = bdevkit::App::RunAsync(bdevkit::Runtime::AppThread(),
                                    [](std::function<void(absl::Status)> done) {
                                      WriteAndReadBack("Malloc0", std::move(done));
                                    });
  }
  bdevkit::App::Stop();
  if (!result.ok()) {
    std::fprintf(stderr, "hello_bdev: %s\n", std::string(result.message()).c_str());
    return 1;
  }
  std::printf("hello_bdev (callbacks): wrote %llu bytes to Malloc0, read them back: OK\n",
              static_cast<unsigned long long>(kBlocks * kBlockSize));
  return 0;
}
