// The uring module's bdev: a file or block device with one io_uring per thread (the
// channel, uring_channel.cc), its JSON, create/delete.
#include "modules/uring/uring_bdev.h"

#include <liburing.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "modules/aio/backing_file.h"
#include "modules/uring/uring_channel.h"
#include "modules/uring/uring_setup.h"
#include "nlohmann/json.hpp"

namespace bdevkit {
namespace {

constexpr char kModuleName[] = "uring";

class UringModule : public BdevModule {
 public:
  UringModule() : BdevModule(kModuleName) {}
};

class UringBdev : public Bdev, public IoDevice {
 public:
  UringBdev(BdevModule* module, BdevProperties props, std::unique_ptr<BackingFile> file,
            UringOptions options)
      : Bdev(module, std::move(props)), file_(std::move(file)), options_(std::move(options)) {}

  bool IoTypeSupported(IoType type) const override {
    switch (type) {
      case IoType::kRead:
      case IoType::kFlush:
        return true;
      case IoType::kWrite:
      case IoType::kWriteZeroes:
        return !file_->readonly();
      case IoType::kUnmap:
        return !file_->readonly() && file_->unmap_supported();
      case IoType::kReset:
        return false;  // the core drains outstanding I/O instead
    }
    return false;
  }

  const BackingFile& file() const { return *file_; }
  const UringOptions& options() const { return options_; }

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override { ch.ctx<UringChannel>().Submit(io); }
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override { UnregisterIoDevice(std::move(done)); }

  void DumpInfoJson(nlohmann::json& driver_specific) const override {
    driver_specific["uring"] = {{"filename", file_->filename()},
                                {"readonly", file_->readonly()},
                                {"queue_depth", options_.queue_depth},
                                {"sqpoll", options_.sqpoll},
                                {"sqpoll_idle_ms", options_.sqpoll_idle_ms},
                                {"iopoll", options_.iopoll},
                                {"fixed_buffers", options_.fixed_buffers}};
  }

  void WriteConfigJson(nlohmann::json& config) const override {
    config.push_back({{"method", "bdev_uring_create"},
                      {"params",
                       {{"name", name()},
                        {"filename", file_->filename()},
                        {"block_size", block_size()},
                        {"uuid", uuid()},
                        {"queue_depth", options_.queue_depth},
                        {"sqpoll", options_.sqpoll},
                        {"sqpoll_idle_ms", options_.sqpoll_idle_ms},
                        {"iopoll", options_.iopoll},
                        {"fixed_buffers", options_.fixed_buffers}}}});
  }

  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    return UringChannel::Create({*file_, block_size(), options_, name()});
  }

 private:
  std::unique_ptr<BackingFile> file_;
  const UringOptions options_;
};

std::string CheckOptions(const UringOptions& o) {
  if (o.name.empty()) return "\"name\": must not be empty";
  if (o.queue_depth == 0 || o.queue_depth > 32768) {
    return absl::StrCat("\"queue_depth\": must be 1..32768, got ", o.queue_depth);
  }
  if (o.sqpoll && o.iopoll) return "\"iopoll\": cannot be combined with sqpoll here";
  return "";
}

}  // namespace

absl::StatusOr<std::string> CreateUringBdev(const UringOptions& options) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr) return absl::FailedPreconditionError("the uring module is not registered");
  if (std::string err = CheckOptions(options); !err.empty()) {
    return absl::InvalidArgumentError(err);
  }
  BdevProperties props;
  props.name = options.name;
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(options.uuid);
  if (!uuid.ok()) return uuid.status();
  props.uuid = *uuid;
  if (absl::Status s = ProbeIoUring(); !s.ok()) return s;
  // Channels set their rings up lazily, on the thread that first does I/O: check now
  // that the requested kind of ring can exist at all.
  {
    io_uring ring;
    int rc = uring::SetupRing(options, &ring);
    if (rc < 0) {
      return uring::RingSetupError(
          rc,
          absl::StrCat("cannot set up a ring with queue_depth ", options.queue_depth,
                       options.sqpoll ? " and sqpoll" : "", options.iopoll ? " and iopoll" : ""));
    }
    io_uring_queue_exit(&ring);
  }
  absl::StatusOr<std::unique_ptr<BackingFile>> file =
      BackingFile::Open({options.filename, options.block_size, /*readonly=*/false});
  if (!file.ok()) return file.status();
  if (options.iopoll) {
    if (absl::Status s = uring::ProbeIoPoll(options, **file); !s.ok()) return s;
  }
  if (options.fixed_buffers) {
    if (absl::Status s = uring::ProbeFixedBuffers(options); !s.ok()) return s;
  }
  props.product_name = "URING bdev";
  (*file)->FillGeometry(props);
  if ((*file)->readonly()) {
    LOG_NOTICE("uring: %s: %s is not writable; the bdev is read-only", options.name,
               options.filename);
  }
  auto bdev = std::make_unique<UringBdev>(module, std::move(props), std::move(*file), options);
  bdev->RegisterIoDevice(absl::StrCat("uring:", options.name));
  // On failure RegisterBdev destroys the bdev, which closes and releases the file.
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) return s;
  LOG_INFO("created uring bdev %s on %s", options.name, options.filename);
  return options.name;
}

void DeleteUringBdev(const std::string& name, std::function<void(absl::Status)> done) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr)
    return done(absl::FailedPreconditionError("the uring module is not registered"));
  UnregisterModuleBdev(name, *module, std::move(done));
}

void GetUringStats(const std::string& name, std::function<void(absl::StatusOr<UringStats>)> done) {
  Bdev* bdev = FindBdev(name);
  if (bdev == nullptr || bdev->module().name() != kModuleName) {
    return done(absl::NotFoundError(absl::StrCat("no uring bdev named \"", name, "\"")));
  }
  auto sum = std::make_shared<UringStats>();
  ForEachChannel(
      *static_cast<UringBdev*>(bdev),
      [sum](IoChannel& ch) {
        sum->Merge(ch.ctx<UringChannel>().stats());
        return absl::OkStatus();
      },
      [sum, done = std::move(done)](absl::Status s) {
        if (!s.ok()) return done(s);
        done(*sum);
      });
}

void RegisterUringModule() { RegisterModule(std::make_unique<UringModule>()); }

}  // namespace bdevkit
