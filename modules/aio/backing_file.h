// A file or block device opened for O_DIRECT I/O by a kernel-backend bdev (aio, uring):
// opening, validation and geometry detection, shared by both modules so they detect
// and refuse the same things, and so one file cannot back two bdevs of either kind.
#ifndef BDEVKIT_MODULES_AIO_BACKING_FILE_H_
#define BDEVKIT_MODULES_AIO_BACKING_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"

namespace bdevkit {

struct BackingFileOptions {
  std::string filename;
  uint32_t block_size = 0;  // 0 = detect
  bool readonly = false;    // open O_RDONLY even if writing would be allowed
};

// Owns the fd and the file's "in use" registration. Control plane (app thread) for
// Open/Rescan/destruction; fd() and the getters may be read from any thread.
class BackingFile {
 public:
  // Opens and validates. Errors (each names the file):
  //   no such file            kNotFound, JSON-RPC -2 ("No such file or directory")
  //   no permission           kPermissionDenied, -13
  //   a directory             kInvalidArgument, -21
  //   not a file/block device kInvalidArgument
  //   already backs a bdev    kAlreadyExists, -16 ("Device or resource busy")
  //   O_DIRECT refused        kFailedPrecondition, -22 (the filesystem cannot do it)
  //   block_size bad          kInvalidArgument (-32602), names "block_size"
  //   smaller than one block  kInvalidArgument
  // Blocks briefly (open, stat, ioctl, and possibly one probing read): control plane.
  static absl::StatusOr<std::unique_ptr<BackingFile>> Open(const BackingFileOptions& options);

  BackingFile(const BackingFile&) = delete;
  BackingFile& operator=(const BackingFile&) = delete;
  ~BackingFile();

  int fd() const { return fd_; }
  const std::string& filename() const { return filename_; }
  bool readonly() const { return readonly_; }
  bool is_block_device() const { return is_block_device_; }
  uint32_t block_size() const { return block_size_; }
  // The smallest O_DIRECT unit: offsets and lengths must be multiples of it.
  uint32_t logical_block_size() const { return logical_block_size_; }
  // Buffer address alignment O_DIRECT needs (at least logical_block_size).
  uint32_t buffer_alignment() const { return buffer_alignment_; }
  uint64_t num_blocks() const { return num_blocks_; }
  // Writes the bdev geometry this file gives (block size, block count, buffer
  // alignment) into the properties of the bdev it backs.
  void FillGeometry(BdevProperties& props) const {
    props.block_size = block_size_;
    props.num_blocks = num_blocks_;
    props.required_alignment = buffer_alignment_;
  }
  // Whether fallocate(PUNCH_HOLE) can deallocate: files yes (the I/O fails with
  // -EOPNOTSUPP on a filesystem without it); block devices only when the device
  // does write-zeroes (what the kernel turns a punched hole into, Linux >= 6.1).
  bool unmap_supported() const { return unmap_supported_; }

  // Re-reads the size; returns the new block count (also stored). Control plane.
  absl::StatusOr<uint64_t> Rescan();

 private:
  BackingFile() = default;
  absl::StatusOr<uint64_t> ReadSizeBytes() const;

  int fd_ = -1;
  std::string filename_;
  bool readonly_ = false;
  bool is_block_device_ = false;
  bool registered_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint32_t block_size_ = 0;
  uint32_t logical_block_size_ = 512;
  uint32_t buffer_alignment_ = 512;
  uint64_t num_blocks_ = 0;
  bool unmap_supported_ = true;
};

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_AIO_BACKING_FILE_H_
