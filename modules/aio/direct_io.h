// Small helpers both kernel backends (aio, uring) use around O_DIRECT.
#ifndef BDEVKIT_MODULES_AIO_DIRECT_IO_H_
#define BDEVKIT_MODULES_AIO_DIRECT_IO_H_

#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bdevkit/module.h"
#include "modules/aio/backing_file.h"

namespace bdevkit::direct_io {

// Whether an iovec list can go to the kernel as is. The core bounces buffers whose
// *address* breaks required_alignment, but O_DIRECT also needs every segment's
// *length* to be a multiple of the logical block size (a 4-block write given as
// 100 + 1300 + 648 bytes would fail with EINVAL).
inline bool SegmentsFit(const BdevIo& io, uint32_t unit) {
  for (int i = 0; i < io.iovcnt; ++i) {
    if (io.iovs[i].iov_len & (unit - 1)) return false;
  }
  return true;
}

// The rare path for such I/O: one aligned buffer for the whole request (a heap
// allocation, which the hot path never makes: callers that split blocks across
// segments pay for it). Writes are gathered into it here; reads are scattered out by
// CopyOutAndFree. nullptr when memory is short.
inline void* AllocBounce(const BdevIo& io, uint32_t align) {
  const uint64_t len = io.num_blocks * io.bdev_block_size;
  void* buf = std::aligned_alloc(align, (len + align - 1) / align * align);
  if (buf == nullptr || io.type != IoType::kWrite) return buf;
  char* dst = static_cast<char*>(buf);
  for (int i = 0; i < io.iovcnt; ++i) {
    std::memcpy(dst, io.iovs[i].iov_base, io.iovs[i].iov_len);
    dst += io.iovs[i].iov_len;
  }
  return buf;
}

inline void CopyOutAndFree(const BdevIo& io, void* buf, bool ok) {
  if (io.type == IoType::kRead && ok) {
    const char* src = static_cast<const char*>(buf);
    for (int i = 0; i < io.iovcnt; ++i) {
      std::memcpy(io.iovs[i].iov_base, src, io.iovs[i].iov_len);
      src += io.iovs[i].iov_len;
    }
  }
  std::free(buf);
}

// The kernel's answer for a read/write turned into an I/O status: a short transfer
// (the file shrank under us) is an error, not a silent partial read.
inline IoStatus RwResult(int64_t res, uint64_t expected) {
  if (res < 0) return IoStatus::Error(static_cast<int32_t>(res));
  if (static_cast<uint64_t>(res) != expected) return IoStatus::Error(-EIO);
  return IoStatus::Success();
}

}  // namespace bdevkit::direct_io

#endif  // BDEVKIT_MODULES_AIO_DIRECT_IO_H_
