// Bounce buffers: when a caller's buffer breaks the bdev's required_alignment, the I/O
// goes through an aligned buffer from the per-thread pool (bdev_io_pool.h). Writes are
// copied in before submit, reads copied out after completion. I/O larger than a bounce
// buffer is split first (io_split.cc), so one buffer always suffices.
#include <algorithm>
#include <cstring>

#include "bdev/core/bdev_channel.h"
#include "bdev/core/io_path.h"

namespace bdevkit::core {

namespace {
// The bounce buffer's iovec lives in the last inline slot: split children use the
// others for their carved iovs.
constexpr int kBounceSlot = kBdevIoInlineIovs - 1;
}  // namespace

bool IsDataIo(const BdevIo& io) { return io.type == IoType::kRead || io.type == IoType::kWrite; }

bool NeedsBounce(const BdevIo& io) {
  if (!IsDataIo(io) || io.bounce_buf != nullptr) return false;
  const uint64_t align = io.bdev->properties().required_alignment;
  if (align <= 1) return false;
  // Buffer addresses only: lengths are whole blocks, and a backend that needs aligned
  // memory (O_DIRECT, DMA) cares about where each segment starts.
  for (int i = 0; i < io.iovcnt; ++i) {
    if (reinterpret_cast<uintptr_t>(io.iovs[i].iov_base) & (align - 1)) return true;
  }
  return false;
}

void BounceAttach(BdevIo& io, void* buf) {
  const uint64_t len = io.length_bytes();
  if (io.type == IoType::kWrite) {
    char* dst = static_cast<char*>(buf);
    for (int i = 0; i < io.iovcnt; ++i) {
      std::memcpy(dst, io.iovs[i].iov_base, io.iovs[i].iov_len);
      dst += io.iovs[i].iov_len;
    }
  }
  io.orig_iovs = io.iovs;
  io.orig_iovcnt = io.iovcnt;
  io.bounce_buf = buf;
  io.bounced = true;
  io.inline_iovs[kBounceSlot] = {buf, len};
  io.iovs = &io.inline_iovs[kBounceSlot];
  io.iovcnt = 1;
}

void BounceDetach(BdevIo& io, IoStatus status) {
  void* buf = io.bounce_buf;
  if (io.type == IoType::kRead && status.ok()) {
    const char* src = static_cast<const char*>(buf);
    for (int i = 0; i < io.orig_iovcnt; ++i) {
      std::memcpy(io.orig_iovs[i].iov_base, src, io.orig_iovs[i].iov_len);
      src += io.orig_iovs[i].iov_len;
    }
  }
  io.iovs = const_cast<iovec*>(io.orig_iovs);
  io.iovcnt = io.orig_iovcnt;
  io.bounce_buf = nullptr;
  // May hand the buffer to a waiting I/O and dispatch it at once.
  io.channel->layer().PutBounce(buf);
}

}  // namespace bdevkit::core
