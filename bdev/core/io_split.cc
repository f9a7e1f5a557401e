// Splitting: an I/O crossing the optimal I/O boundary, or larger than the backend's
// max transfer (or max unmap / write-zeroes size, or a bounce buffer), is cut into
// children. Children are BdevIo from the same per-thread pool; their iovs are carved
// from the parent's into inline_iovs. At most kMaxChildrenInFlight run at once; the
// parent completes once, with the first error.
#include <algorithm>
#include <cerrno>

#include "bdev/core/bdev_channel.h"
#include "bdev/core/io_path.h"

namespace bdevkit::core {

namespace {

// Enough to keep a backend busy with one big I/O, small enough that one big I/O cannot
// take the whole pool from everyone else on the thread.
constexpr uint32_t kMaxChildrenInFlight = 8;
// inline_iovs' last slot is kept for a child's bounce buffer (bounce.cc).
constexpr int kChildMaxIovs = kBdevIoInlineIovs - 1;

// Fills child.inline_iovs with the bytes [byte_off, byte_off + want) of the parent's
// data. Returns the bytes covered, which is less than `want` when kChildMaxIovs iovecs
// run out first.
uint64_t CarveIovs(const BdevIo& parent, uint64_t byte_off, uint64_t want, BdevIo& child) {
  int n = 0;
  uint64_t got = 0;
  for (int i = 0; i < parent.iovcnt && got < want && n < kChildMaxIovs; ++i) {
    const iovec& v = parent.iovs[i];
    if (byte_off >= v.iov_len) {
      byte_off -= v.iov_len;
      continue;
    }
    const uint64_t len = std::min<uint64_t>(v.iov_len - byte_off, want - got);
    child.inline_iovs[n++] = {static_cast<char*>(v.iov_base) + byte_off, len};
    got += len;
    byte_off = 0;
  }
  child.iovcnt = n;
  return got;
}

// Cuts the child's carved iovs down to `bytes`.
void TrimIovs(BdevIo& child, uint64_t bytes) {
  int n = 0;
  for (; n < child.iovcnt && bytes > 0; ++n) {
    if (child.inline_iovs[n].iov_len > bytes) child.inline_iovs[n].iov_len = bytes;
    bytes -= child.inline_iovs[n].iov_len;
  }
  child.iovcnt = n;
}

// Sets the child up for the next piece of the parent; false if the parent's iovecs
// are so fragmented that not even one block fits in a child's inline iovs.
bool FillChild(BdevIo& parent, BdevIo& child) {
  const uint64_t offset = parent.split_next_block;
  uint64_t len = ChildLength(parent, offset);
  child.type = parent.type;
  child.bdev = parent.bdev;
  child.bdev_block_size = parent.bdev_block_size;
  child.channel = parent.channel;
  child.offset_blocks = offset;
  child.parent = &parent;
  child.submit_ticks = parent.submit_ticks;
  if (IsDataIo(parent)) {
    const uint64_t bs = parent.bdev_block_size;
    const uint64_t want = len * bs;
    const uint64_t got = CarveIovs(parent, (offset - parent.offset_blocks) * bs, want, child);
    if (got < want) {
      len = got / bs;
      if (len == 0) return false;
      TrimIovs(child, len * bs);
    }
    child.iovs = child.inline_iovs;
  }
  child.num_blocks = len;
  parent.split_next_block += len;
  return true;
}

}  // namespace

uint64_t ChildLength(const BdevIo& io, uint64_t offset) {
  const BdevProperties& p = io.bdev->properties();
  uint64_t len = io.offset_blocks + io.num_blocks - offset;
  switch (io.type) {
    case IoType::kRead:
    case IoType::kWrite:
      if (p.split_on_optimal_io_boundary && p.optimal_io_boundary != 0) {
        const uint64_t b = p.optimal_io_boundary;
        // A power of two (a raid's strip always is): a mask, not a division per I/O.
        const uint64_t into = (b & (b - 1)) == 0 ? offset & (b - 1) : offset % b;
        len = std::min<uint64_t>(len, b - into);
      }
      if (p.max_transfer_blocks != 0) len = std::min<uint64_t>(len, p.max_transfer_blocks);
      // A misaligned I/O bounces; each piece must fit one bounce buffer.
      if (NeedsBounce(io)) {
        len = std::min<uint64_t>(len, std::max<uint64_t>(1, kBounceBufSize / p.block_size));
      }
      break;
    case IoType::kUnmap:
      if (p.max_unmap_blocks != 0) len = std::min<uint64_t>(len, p.max_unmap_blocks);
      break;
    case IoType::kWriteZeroes:
      if (p.max_write_zeroes_blocks != 0) {
        len = std::min<uint64_t>(len, p.max_write_zeroes_blocks);
      }
      break;
    default:
      break;
  }
  return len;
}

void SplitStart(BdevIo& parent) {
  parent.split_next_block = parent.offset_blocks;
  parent.split_outstanding = 0;
  parent.status = IoStatus::Success();
  SplitContinue(parent);
}

void SplitContinue(BdevIo& parent) {
  LayerChannel& layer = parent.channel->layer();
  const uint64_t end = parent.offset_blocks + parent.num_blocks;
  while (parent.status.ok() && parent.split_next_block < end &&
         parent.split_outstanding < kMaxChildrenInFlight) {
    BdevIo* child = layer.GetIo(/*for_child=*/true);
    if (child == nullptr) {
      // With children in flight, their completion continues the split; with none,
      // the layer resumes it when a BdevIo frees.
      if (parent.split_outstanding == 0) layer.QueueSplitWaiter(&parent);
      return;
    }
    if (!FillChild(parent, *child)) {
      layer.PutIo(child);
      parent.status = IoStatus::Error(-EINVAL);
      break;
    }
    ++parent.split_outstanding;
    // Never finishes the child synchronously (dispatch defers, bounce waits queue),
    // so `parent` stays valid through the loop.
    StartLeaf(*child);
  }
  if (parent.split_outstanding == 0 && (!parent.status.ok() || parent.split_next_block >= end)) {
    Complete(parent, parent.status);
  }
}

void ChildDone(BdevIo& child, IoStatus status) {
  BdevIo& parent = *child.parent;
  if (!status.ok() && parent.status.ok()) parent.status = status;
  --parent.split_outstanding;
  LayerChannel& layer = parent.channel->layer();
  layer.PutIo(&child);
  SplitContinue(parent);
  // The freed BdevIo may be what another split parent is waiting for.
  layer.RunWaiters();
}

}  // namespace bdevkit::core
