// I/O statistics: merging counters and collecting a bdev's from all its channels.
#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bdev/core/bdev_channel.h"
#include "bdev/core/bdev_internal.h"
#include "bdevkit/bdev.h"

namespace bdevkit {

std::string_view IoTypeName(IoType type) {
  switch (type) {
    case IoType::kRead:
      return "read";
    case IoType::kWrite:
      return "write";
    case IoType::kWriteZeroes:
      return "write_zeroes";
    case IoType::kUnmap:
      return "unmap";
    case IoType::kFlush:
      return "flush";
    case IoType::kReset:
      return "reset";
  }
  return "unknown";
}

namespace {
// 0 means "no sample", so it never wins a minimum.
uint64_t MinNonZero(uint64_t a, uint64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}
}  // namespace

void IoStats::Merge(const IoStats& o) {
  bytes_read += o.bytes_read;
  num_read_ops += o.num_read_ops;
  bytes_written += o.bytes_written;
  num_write_ops += o.num_write_ops;
  bytes_unmapped += o.bytes_unmapped;
  num_unmap_ops += o.num_unmap_ops;
  num_write_zeroes_ops += o.num_write_zeroes_ops;
  bytes_write_zeroed += o.bytes_write_zeroed;
  num_flush_ops += o.num_flush_ops;
  num_reset_ops += o.num_reset_ops;
  read_latency_ticks += o.read_latency_ticks;
  max_read_latency_ticks = std::max(max_read_latency_ticks, o.max_read_latency_ticks);
  min_read_latency_ticks = MinNonZero(min_read_latency_ticks, o.min_read_latency_ticks);
  write_latency_ticks += o.write_latency_ticks;
  max_write_latency_ticks = std::max(max_write_latency_ticks, o.max_write_latency_ticks);
  min_write_latency_ticks = MinNonZero(min_write_latency_ticks, o.min_write_latency_ticks);
  unmap_latency_ticks += o.unmap_latency_ticks;
  max_unmap_latency_ticks = std::max(max_unmap_latency_ticks, o.max_unmap_latency_ticks);
  min_unmap_latency_ticks = MinNonZero(min_unmap_latency_ticks, o.min_unmap_latency_ticks);
  num_errors += o.num_errors;
  for (int i = 0; i < kNumIoTypes; ++i) errors_by_type[i] += o.errors_by_type[i];
}

namespace {
void ResetStats(IoStats& stats, IoStatsReset reset) {
  switch (reset) {
    case IoStatsReset::kNone:
      return;
    case IoStatsReset::kAll:
      stats = IoStats();
      return;
    case IoStatsReset::kMaxMin:
      stats.max_read_latency_ticks = stats.min_read_latency_ticks = 0;
      stats.max_write_latency_ticks = stats.min_write_latency_ticks = 0;
      stats.max_unmap_latency_ticks = stats.min_unmap_latency_ticks = 0;
      return;
    case IoStatsReset::kError:
      stats.num_errors = 0;
      stats.errors_by_type = {};
      return;
  }
}
}  // namespace

void GetIoStats(Bdev& bdev, IoStatsReset reset, std::function<void(const IoStats&)> done) {
  auto total = std::make_shared<IoStats>();
  {
    absl::MutexLock lock(&core::ControlMutex());
    *total = bdev.internal().retired_stats;
    ResetStats(bdev.internal().retired_stats, reset);
  }
  ForEachChannel(
      bdev.internal(),
      [total, reset](IoChannel& ch) {
        // On the channel's own thread: read and reset in one step, without a lock.
        IoStats& stats = ch.ctx<BdevChannel>().stats;
        total->Merge(stats);
        ResetStats(stats, reset);
        return absl::OkStatus();
      },
      [total, done = std::move(done)](absl::Status) { done(*total); });
}

void GetChannelIoStats(Bdev& bdev, IoStatsReset reset,
                       std::function<void(std::vector<ChannelIoStats>)> done) {
  auto out = std::make_shared<std::vector<ChannelIoStats>>();
  ForEachChannel(
      bdev.internal(),
      [out, reset](IoChannel& ch) {
        IoStats& stats = ch.ctx<BdevChannel>().stats;
        out->push_back(ChannelIoStats{ch.thread().id(), ch.thread().name(), stats});
        ResetStats(stats, reset);
        return absl::OkStatus();
      },
      [out, done = std::move(done)](absl::Status) { done(std::move(*out)); });
}

void GetIoStats(Bdev& bdev, std::function<void(const IoStats&)> done) {
  auto total = std::make_shared<IoStats>();
  {
    absl::MutexLock lock(&core::ControlMutex());
    *total = bdev.internal().retired_stats;
  }
  ForEachChannel(
      bdev.internal(),
      [total](IoChannel& ch) {
        // On the channel's own thread: its counters are read without a lock.
        total->Merge(ch.ctx<BdevChannel>().stats);
        return absl::OkStatus();
      },
      [total, done = std::move(done)](absl::Status) { done(*total); });
}

}  // namespace bdevkit
