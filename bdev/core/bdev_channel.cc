// BdevChannel creation/destruction and per-channel I/O statistics.
#include "bdev/core/bdev_channel.h"

#include <algorithm>

#include "absl/synchronization/mutex.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/qos.h"
#include "bdevkit/log.h"

namespace bdevkit {

std::unique_ptr<BdevChannel> BdevChannel::Create(Bdev& bdev) {
  IoChannel* layer = core::GetLayerIoChannel();
  if (layer == nullptr) {
    LOG_ERROR("bdev '%s': no I/O channel before StartBdevLayer()", bdev.name());
    return nullptr;
  }
  IoChannel* backend = bdev.GetBackendChannel();
  if (backend == nullptr) {
    LOG_ERROR("bdev '%s': backend gave no I/O channel", bdev.name());
    layer->Put();
    return nullptr;
  }
  return std::unique_ptr<BdevChannel>(new BdevChannel(&bdev, backend, layer));
}

void BdevChannel::Release() {
  if (backend_ != nullptr) backend_->Put();
  if (layer_io_ch_ != nullptr) layer_io_ch_->Put();
  backend_ = nullptr;
  layer_io_ch_ = nullptr;
}

namespace {
void AddLatency(uint64_t ticks, uint64_t& sum, uint64_t& min, uint64_t& max) {
  sum += ticks;
  max = std::max(max, ticks);
  // 0 means "no sample yet"; a real sample of 0 ticks is stored as 1 to stay visible.
  ticks = std::max<uint64_t>(ticks, 1);
  min = (min == 0) ? ticks : std::min(min, ticks);
}
}  // namespace

void BdevChannel::RecordCompletion(const BdevIo& io, IoStatus status, uint64_t now_ticks) {
  if (!status.ok()) {
    ++stats.num_errors;
    ++stats.errors_by_type[static_cast<int>(io.type)];
    return;
  }
  const uint64_t bytes = io.num_blocks * io.bdev_block_size;
  const uint64_t ticks = now_ticks >= io.submit_ticks ? now_ticks - io.submit_ticks : 0;
  switch (io.type) {
    case IoType::kRead:
      ++stats.num_read_ops;
      stats.bytes_read += bytes;
      AddLatency(ticks, stats.read_latency_ticks, stats.min_read_latency_ticks,
                 stats.max_read_latency_ticks);
      break;
    case IoType::kWrite:
      ++stats.num_write_ops;
      stats.bytes_written += bytes;
      AddLatency(ticks, stats.write_latency_ticks, stats.min_write_latency_ticks,
                 stats.max_write_latency_ticks);
      break;
    case IoType::kUnmap:
      ++stats.num_unmap_ops;
      stats.bytes_unmapped += bytes;
      AddLatency(ticks, stats.unmap_latency_ticks, stats.min_unmap_latency_ticks,
                 stats.max_unmap_latency_ticks);
      break;
    case IoType::kWriteZeroes:
      ++stats.num_write_zeroes_ops;
      stats.bytes_write_zeroed += bytes;
      break;
    case IoType::kFlush:
      ++stats.num_flush_ops;
      break;
    case IoType::kReset:
      ++stats.num_reset_ops;
      break;
  }
}

std::unique_ptr<ChannelContext> BdevInternal::CreateChannelContext() {
  std::unique_ptr<BdevChannel> ch = BdevChannel::Create(*bdev);
  // A limited bdev's new channel joins its budget at once.
  if (ch != nullptr) core::QosSyncChannel(*ch);
  return ch;
}

void BdevInternal::OnChannelDestroy(ChannelContext& ctx) {
  auto& ch = static_cast<BdevChannel&>(ctx);
  if (ch.outstanding != 0) {
    LOG_ERROR("bdev '%s': channel released with %llu I/O outstanding", bdev->name(),
              static_cast<unsigned long long>(ch.outstanding));
  }
  {
    // Keep the counters of a thread that stopped using the bdev: iostat is cumulative.
    absl::MutexLock lock(&core::ControlMutex());
    retired_stats.Merge(ch.stats);
  }
  core::QosChannelDestroyed(ch);
  ch.Release();
}

}  // namespace bdevkit
