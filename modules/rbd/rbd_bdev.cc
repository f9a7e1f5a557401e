// The rbd bdev: image open/close/resize (worker thread) and the I/O path (reactors).
#include "modules/rbd/rbd_bdev.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bdevkit/log.h"
#include "modules/rbd/rbd_completion.h"
#include "modules/rbd/rbd_worker.h"
#include "nlohmann/json.hpp"

namespace bdevkit::rbd {

// ---- RbdImage (worker thread) --------------------------------------------------------

absl::StatusOr<std::shared_ptr<RbdImage>> RbdImage::Open(std::shared_ptr<RadosConnection> conn,
                                                         const std::string& pool_name,
                                                         const std::string& rbd_name) {
  std::shared_ptr<RbdImage> img(new RbdImage());
  img->conn_ = std::move(conn);
  int rc = rados_ioctx_create(img->conn_->handle(), pool_name.c_str(), &img->ioctx_);
  if (rc < 0) {
    img->ioctx_ = nullptr;
    return ErrnoStatus(
        rc, absl::StrCat("\"pool_name\": pool \"", pool_name, "\": ", std::strerror(-rc)));
  }
  rc = rbd_open(img->ioctx_, rbd_name.c_str(), &img->image_, nullptr);
  if (rc < 0) {
    img->image_ = nullptr;
    return ErrnoStatus(rc, absl::StrCat("\"rbd_name\": image \"", rbd_name, "\" in pool \"",
                                        pool_name, "\": ", std::strerror(-rc)));
  }
  return img;
}

absl::StatusOr<uint64_t> RbdImage::Size() const {
  uint64_t size = 0;
  int rc = rbd_get_size(image_, &size);
  if (rc < 0) return ErrnoStatus(rc, absl::StrCat("rbd_get_size: ", std::strerror(-rc)));
  return size;
}

absl::StatusOr<uint64_t> RbdImage::Resize(uint64_t new_size_bytes) {
  if (image_ == nullptr) return absl::FailedPreconditionError("the image is closed");
  int rc = rbd_resize(image_, new_size_bytes);
  if (rc < 0) return ErrnoStatus(rc, absl::StrCat("rbd_resize: ", std::strerror(-rc)));
  return Size();
}

void RbdImage::Close() {
  if (image_ != nullptr) {
    int rc = rbd_close(image_);
    if (rc < 0) LOG_WARNING("rbd: rbd_close: %s", std::strerror(-rc));
    image_ = nullptr;
  }
  if (ioctx_ != nullptr) {
    rados_ioctx_destroy(ioctx_);
    ioctx_ = nullptr;
  }
  conn_.reset();  // the last bdev of an unregistered cluster shuts it down here
}

// ---- The I/O path (reactor threads) ------------------------------------------------

// Per-I/O state, in the BdevIo's driver context.
struct RbdTask {
  class RbdChannel* channel;
  Poller* reset_poller;  // a reset waiting for the bdev's I/O to drain
  int64_t result;        // rbd_aio_get_return_value, set on librbd's thread
};

// A thread's channel: only counts what it has in librbd (for reset), since the image
// handle is shared.
class RbdChannel : public ChannelContext {
 public:
  explicit RbdChannel(RbdBdev& bdev) : bdev_(bdev), thread_(*Thread::Current()) {}
  ~RbdChannel() override {
    if (inflight_ != 0)
      LOG_ERROR("rbd: %s: channel destroyed with %lu I/O in librbd", bdev_.name(),
                static_cast<unsigned long>(inflight_));
  }
  RbdBdev& bdev() { return bdev_; }
  Thread& thread() { return thread_; }
  uint64_t inflight_ = 0;

 private:
  RbdBdev& bdev_;
  Thread& thread_;
};

namespace {

constexpr absl::Duration kResetDrainPollPeriod = absl::Milliseconds(1);

// On the submitting thread, by message from OnAioComplete.
void FinishOnThread(void* arg) {
  BdevIo& io = *static_cast<BdevIo*>(arg);
  RbdTask& t = io.driver_ctx<RbdTask>();
  --t.channel->inflight_;
  // A reset's flush completes the reset (its length is 0: any result >= 0 is fine).
  CompleteIo(io, RbdResultToStatus(io.type, t.result, io.length_bytes()));
}

// On one of librbd's threads.
void OnAioComplete(rbd_completion_t comp, void* arg) {
  BdevIo& io = *static_cast<BdevIo*>(arg);
  RbdTask& t = io.driver_ctx<RbdTask>();
  t.result = rbd_aio_get_return_value(comp);
  rbd_aio_release(comp);
  SendFromForeignThread(t.channel->thread(), FinishOnThread, &io);
}

}  // namespace

RbdBdev::RbdBdev(BdevModule* module, BdevProperties props, RbdBdevConfig config,
                 std::shared_ptr<RbdImage> image, RbdWorker& worker)
    : Bdev(module, std::move(props)),
      config_(std::move(config)),
      image_(std::move(image)),
      worker_(worker) {}

bool RbdBdev::IoTypeSupported(IoType type) const {
  switch (type) {
    case IoType::kRead:
    case IoType::kWrite:
    case IoType::kWriteZeroes:
    case IoType::kUnmap:
    case IoType::kFlush:
    case IoType::kReset:
      return true;
  }
  return false;
}

std::unique_ptr<ChannelContext> RbdBdev::CreateChannelContext() {
  return std::make_unique<RbdChannel>(*this);
}

void RbdBdev::SubmitIo(IoChannel& ch, BdevIo& io) {
  RbdChannel& c = ch.ctx<RbdChannel>();
  RbdTask& t = io.driver_ctx<RbdTask>();
  t.channel = &c;
  t.reset_poller = nullptr;
  t.result = 0;
  if (io.type == IoType::kReset) {
    // librbd cannot cancel what it has: a reset waits until every channel's I/O in
    // librbd has completed (the core already froze new I/O), then flushes, so that
    // everything written before the reset is in the cluster when it completes.
    CheckResetDrained(c, io);
    return;
  }
  StartAio(c, io);
}

void RbdBdev::StartAio(RbdChannel& c, BdevIo& io) {
  rbd_completion_t comp = nullptr;
  int rc = rbd_aio_create_completion(&io, OnAioComplete, &comp);
  if (rc < 0) {
    CompleteIo(io, IoStatus::Error(rc));
    return;
  }
  rbd_image_t image = image_->handle();
  const uint64_t offset = io.offset_blocks * block_size();
  const uint64_t len = io.length_bytes();
  switch (io.type) {
    case IoType::kRead:
      rc = io.iovcnt == 1
               ? rbd_aio_read(image, offset, len, static_cast<char*>(io.iovs[0].iov_base), comp)
               : rbd_aio_readv(image, io.iovs, io.iovcnt, offset, comp);
      break;
    case IoType::kWrite:
      rc = io.iovcnt == 1 ? rbd_aio_write(image, offset, len,
                                          static_cast<const char*>(io.iovs[0].iov_base), comp)
                          : rbd_aio_writev(image, io.iovs, io.iovcnt, offset, comp);
      break;
    case IoType::kWriteZeroes:
      rc = rbd_aio_write_zeroes(image, offset, len, comp, /*zero_flags=*/0, /*op_flags=*/0);
      break;
    case IoType::kUnmap:
      rc = rbd_aio_discard(image, offset, len, comp);
      break;
    case IoType::kFlush:
    case IoType::kReset:
      rc = rbd_aio_flush(image, comp);
      break;
  }
  if (rc < 0) {
    // Refused at once: the callback will not run.
    rbd_aio_release(comp);
    CompleteIo(io, IoStatus::Error(rc));
    return;
  }
  // Counted after the submit: the completion message can only run on this thread,
  // after this function returns.
  ++c.inflight_;
}

void RbdBdev::CheckResetDrained(RbdChannel& c, BdevIo& io) {
  auto pending = std::make_shared<uint64_t>(0);
  ForEachChannel(
      *this,
      [pending](IoChannel& ch) {
        *pending += ch.ctx<RbdChannel>().inflight_;
        return absl::OkStatus();
      },
      [this, &c, &io, pending](absl::Status) {
        if (*pending == 0) {
          StartAio(c, io);  // the flush
          return;
        }
        RbdTask& t = io.driver_ctx<RbdTask>();
        t.reset_poller = c.thread().RegisterPoller(
            [this, &c, &io] {
              RbdTask& task = io.driver_ctx<RbdTask>();
              c.thread().UnregisterPoller(task.reset_poller);
              task.reset_poller = nullptr;
              CheckResetDrained(c, io);
              return PollStatus::kBusy;
            },
            kResetDrainPollPeriod, "rbd_reset_drain");
      });
}

// ---- Control plane (app thread) ------------------------------------------------------

void RbdBdev::Grow(uint64_t new_num_blocks) {
  if (new_num_blocks > num_blocks()) NotifyResize(new_num_blocks);
}

void RbdBdev::Destruct(std::function<void()> done) {
  UnregisterIoDevice([this, done = std::move(done)]() mutable {
    // Closing waits for librbd (and, on a dead cluster, for its timeouts): worker.
    worker_.Run(
        [image = std::move(image_)]() mutable {
          image->Close();
          image.reset();
          return absl::OkStatus();
        },
        [done = std::move(done)](absl::Status) { done(); });
  });
}

void RbdBdev::DumpInfoJson(nlohmann::json& driver_specific) const {
  nlohmann::json rbd = {{"pool_name", config_.pool_name}, {"rbd_name", config_.rbd_name}};
  if (!config_.cluster_name.empty()) rbd["cluster_name"] = config_.cluster_name;
  if (!config_.user_id.empty()) rbd["user_id"] = config_.user_id;
  if (config_.has_config) rbd["config"] = ConfPairsToJson(config_.config);
  driver_specific["rbd"] = std::move(rbd);
}

void RbdBdev::WriteConfigJson(nlohmann::json& config) const {
  nlohmann::json params = {{"name", name()},
                           {"pool_name", config_.pool_name},
                           {"rbd_name", config_.rbd_name},
                           {"block_size", block_size()},
                           {"uuid", uuid()}};
  if (!config_.cluster_name.empty()) params["cluster_name"] = config_.cluster_name;
  if (!config_.user_id.empty()) params["user_id"] = config_.user_id;
  if (config_.has_config) params["config"] = ConfPairsToJson(config_.config);
  config.push_back({{"method", "bdev_rbd_create"}, {"params", std::move(params)}});
}

}  // namespace bdevkit::rbd
