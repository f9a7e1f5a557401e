// Superblock area I/O (superblock_io.h).
#include "modules/raid/superblock_io.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/runtime.h"

namespace bdevkit::raid {

namespace {

// Page-aligned, zeroed I/O buffer (any bdev's required_alignment up to a page is met;
// the core bounces for larger ones).
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : size(std::max<size_t>(n, 1)) {
    const size_t rounded = (size + 4095) / 4096 * 4096;
    data = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded));
    if (data != nullptr) std::memset(data, 0, rounded);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data;
  size_t size;
};

absl::Status IoError(const std::string& what, const std::string& bdev, int rc) {
  return absl::UnavailableError(
      absl::StrCat(what, " of bdev \"", bdev, "\" failed: ", std::strerror(-rc)));
}

// Runs fn on the app thread later (never inside the caller's stack).
void Later(std::function<void()> fn) {
  auto shared = std::make_shared<std::function<void()>>(std::move(fn));
  // A full ring: running it now is all that is left.
  if (Runtime::AppThread()->Send([shared] { (*shared)(); }) != 0) (*shared)();
}

}  // namespace

uint64_t SuperblockAreaBytes(uint32_t block_size) {
  return (kSuperblockMaxBytes + block_size - 1) / block_size * block_size;
}

absl::Status ReadSuperblock(const std::string& bdev_name,
                            std::function<void(absl::StatusOr<Superblock>)> done) {
  struct Read {
    std::unique_ptr<BdevDesc> desc;
    IoChannel* ch = nullptr;
    std::unique_ptr<AlignedBuffer> buf;
    std::string name;
    std::function<void(absl::StatusOr<Superblock>)> done;
  };
  absl::StatusOr<std::unique_ptr<BdevDesc>> desc = OpenBdev(bdev_name, /*writable=*/false);
  if (!desc.ok()) return desc.status();
  auto r = std::make_unique<Read>();
  r->name = bdev_name;
  r->done = std::move(done);
  r->desc = std::move(*desc);
  Bdev& bdev = r->desc->bdev();
  const uint64_t bytes = std::min<uint64_t>(SuperblockAreaBytes(bdev.block_size()),
                                            bdev.num_blocks() * bdev.block_size());
  r->buf = std::make_unique<AlignedBuffer>(bytes);
  if (r->buf->data == nullptr) return absl::ResourceExhaustedError("no memory for a superblock");
  r->ch = r->desc->GetIoChannel();
  if (r->ch == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot read bdev \"", bdev_name, "\""));
  }
  auto on_read = [](void* arg, IoStatus status) {
    // Finished outside the completion path, on the app thread proper.
    std::shared_ptr<Read> read(static_cast<Read*>(arg));
    Later([read, status] {
      read->ch->Put();
      absl::StatusOr<Superblock> sb =
          status.ok()
              ? DecodeSuperblock({read->buf->data, read->buf->size})
              : absl::StatusOr<Superblock>(IoError("reading block 0", read->name, status.error));
      // The descriptor is still open: the bdev cannot be deleted under `done`.
      read->done(std::move(sb));
      read->desc.reset();
    });
  };
  Read* raw = r.release();
  int rc = raw->desc->Read(raw->ch, raw->buf->data, 0, bytes / bdev.block_size(), on_read, raw);
  if (rc != 0) on_read(raw, IoStatus::Error(rc));
  return absl::OkStatus();
}

namespace {

struct WriteAll;
struct OneWrite {
  BdevDesc* desc = nullptr;
  IoChannel* ch = nullptr;
  std::unique_ptr<AlignedBuffer> buf;
  WriteAll* all = nullptr;
};
struct WriteAll {
  std::vector<OneWrite> writes;
  size_t left = 0;
  absl::Status status;
  std::function<void(absl::Status)> done;
  std::shared_ptr<WriteAll> self;  // alive until the last write finished
};

void FinishOne(OneWrite& w, absl::Status s) {
  WriteAll* all = w.all;
  if (w.ch != nullptr) w.ch->Put();
  w.ch = nullptr;
  if (!s.ok() && all->status.ok()) all->status = s;
  if (--all->left != 0) return;
  std::shared_ptr<WriteAll> owned = std::move(all->self);
  Later([owned] { owned->done(owned->status); });
}

void OnWritten(void* arg, IoStatus status) {
  OneWrite& w = *static_cast<OneWrite*>(arg);
  FinishOne(w, status.ok() ? absl::OkStatus()
                           : IoError("writing block 0", w.desc->bdev().name(), status.error));
}

}  // namespace

void WriteBlockZero(std::vector<BdevDesc*> descs, std::vector<std::vector<uint8_t>> data,
                    std::function<void(absl::Status)> done) {
  auto all = std::make_shared<WriteAll>();
  all->done = std::move(done);
  if (descs.empty()) {
    Later([all] { all->done(absl::OkStatus()); });
    return;
  }
  all->writes.resize(descs.size());
  all->left = descs.size();
  all->self = all;
  for (size_t i = 0; i < descs.size(); ++i) {
    OneWrite& w = all->writes[i];
    w.desc = descs[i];
    w.all = all.get();
    const uint32_t bs = descs[i]->bdev().block_size();
    const uint64_t bytes = (data[i].size() + bs - 1) / bs * bs;
    w.buf = std::make_unique<AlignedBuffer>(bytes);
    w.ch = descs[i]->GetIoChannel();
    if (w.ch == nullptr || w.buf->data == nullptr) {
      FinishOne(w, absl::UnavailableError(
                       absl::StrCat("cannot write to bdev \"", descs[i]->bdev().name(), "\"")));
      continue;
    }
    std::memcpy(w.buf->data, data[i].data(), data[i].size());
    int rc = w.desc->Write(w.ch, w.buf->data, 0, bytes / bs, OnWritten, &w);
    if (rc != 0) FinishOne(w, IoError("writing block 0", descs[i]->bdev().name(), rc));
  }
}

}  // namespace bdevkit::raid
