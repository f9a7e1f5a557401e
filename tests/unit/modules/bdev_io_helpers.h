// Synchronous wrappers over the asynchronous bdev API for tests: every call runs on
// the app thread and the test waits for the completion.
#ifndef BDEVKIT_TESTS_UNIT_MODULES_BDEV_IO_HELPERS_H_
#define BDEVKIT_TESTS_UNIT_MODULES_BDEV_IO_HELPERS_H_

#include <functional>
#include <memory>
#include <string>

#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::testing {

// Opens `name` writable on the app thread and holds a channel until destroyed.
class TestDisk {
 public:
  explicit TestDisk(const std::string& name) {
    OnAppSync([&] {
      absl::StatusOr<std::unique_ptr<BdevDesc>> desc = OpenBdev(name, /*writable=*/true);
      if (!desc.ok()) {
        open_status_ = desc.status();
        return;
      }
      desc_ = std::move(*desc);
      ch_ = desc_->GetIoChannel();
    });
  }
  ~TestDisk() {
    OnAppSync([&] {
      if (ch_ != nullptr) ch_->Put();
      desc_.reset();
    });
  }
  bool ok() const { return desc_ != nullptr && ch_ != nullptr; }
  const absl::Status& open_status() const { return open_status_; }

  // Runs submit(desc, channel, cb, cb_arg) on the app thread and returns the
  // completion status (or the submit error as an IoStatus).
  IoStatus Do(std::function<int(BdevDesc&, IoChannel*, IoCallback, void*)> submit) {
    return OnApp<IoStatus>([&](std::function<void(IoStatus)> done) {
      pending_ = std::move(done);  // one I/O at a time
      IoCallback cb = [](void* arg, IoStatus s) {
        auto fn = std::move(static_cast<TestDisk*>(arg)->pending_);
        fn(s);
      };
      int rc = submit(*desc_, ch_, cb, this);
      if (rc != 0) cb(this, IoStatus::Error(rc));
    });
  }

  IoStatus Read(void* buf, uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.Read(c, buf, offset, blocks, cb, arg);
    });
  }
  IoStatus Write(const void* buf, uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.Write(c, buf, offset, blocks, cb, arg);
    });
  }
  IoStatus Readv(const iovec* iov, int iovcnt, uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.Readv(c, iov, iovcnt, offset, blocks, cb, arg);
    });
  }
  IoStatus Writev(const iovec* iov, int iovcnt, uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.Writev(c, iov, iovcnt, offset, blocks, cb, arg);
    });
  }
  IoStatus WriteZeroes(uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.WriteZeroes(c, offset, blocks, cb, arg);
    });
  }
  IoStatus Unmap(uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.Unmap(c, offset, blocks, cb, arg);
    });
  }
  IoStatus Flush(uint64_t offset, uint64_t blocks) {
    return Do([&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) {
      return d.Flush(c, offset, blocks, cb, arg);
    });
  }
  IoStatus Reset() {
    return Do(
        [&](BdevDesc& d, IoChannel* c, IoCallback cb, void* arg) { return d.Reset(c, cb, arg); });
  }

 private:
  std::unique_ptr<BdevDesc> desc_;
  IoChannel* ch_ = nullptr;
  absl::Status open_status_;
  std::function<void(IoStatus)> pending_;
};

// Reaches a bdev's save_config writer, which the core calls through its friend
// classes. Naming the member through a subclass is what C++ allows a subclass to do.
class ConfigPeer : public Bdev {
 public:
  static nlohmann::json WriteConfig(const Bdev& bdev) {
    nlohmann::json config = nlohmann::json::array();
    auto writer = &ConfigPeer::WriteConfigJson;
    (bdev.*writer)(config);
    return config;
  }
  static nlohmann::json DumpInfo(const Bdev& bdev) {
    nlohmann::json info;
    auto dump = &ConfigPeer::DumpInfoJson;
    (bdev.*dump)(info);
    return info;
  }
};

inline bool BdevExists(const std::string& name) {
  bool found = false;
  OnAppSync([&] { found = FindBdev(name) != nullptr; });
  return found;
}

}  // namespace bdevkit::testing

#endif  // BDEVKIT_TESTS_UNIT_MODULES_BDEV_IO_HELPERS_H_
