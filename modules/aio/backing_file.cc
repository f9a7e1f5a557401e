// Opening and sizing the file or block device under an aio or uring bdev.
#include "modules/aio/backing_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

// Files backing a bdev of either module, by identity (device + inode, or the device
// number of a block device), so two bdevs never write under each other. Control-plane
// state; the mutex only keeps it safe if two app threads ever exist.
struct FileId {
  dev_t dev;
  ino_t ino;
  auto operator<=>(const FileId&) const = default;
};
std::mutex g_files_mu;
std::set<FileId>& OpenFiles() {
  static std::set<FileId> files;
  return files;
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

absl::Status ErrnoError(int err, const std::string& what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      // SPDK answers a missing file with -2, not the -19 of kNotFound.
      return WithJsonRpcCode(absl::NotFoundError(message), -ENOENT);
    case EACCES:
    case EPERM:
    case EROFS:
      return WithJsonRpcCode(absl::PermissionDeniedError(message), -err);
    default:
      return WithJsonRpcCode(absl::FailedPreconditionError(message), -err);
  }
}

// The O_DIRECT unit of a regular file: statx's answer where the kernel gives one
// (Linux >= 6.1 on most filesystems), else the smallest read size O_DIRECT accepts.
uint32_t DetectFileLogicalBlockSize(int fd, uint64_t size_bytes, uint32_t* mem_align) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN) &&
      stx.stx_dio_offset_align != 0) {
    *mem_align = stx.stx_dio_mem_align;
    return stx.stx_dio_offset_align;
  }
  constexpr size_t kMax = 64 * 1024;
  void* buf = std::aligned_alloc(kMax, kMax);
  uint32_t found = 0;
  for (uint32_t size = 512; size <= kMax && size <= size_bytes && buf != nullptr; size *= 2) {
    if (pread(fd, buf, size, 0) >= 0 || errno != EINVAL) {
      found = size;
      break;
    }
  }
  std::free(buf);
  *mem_align = found;
  return found;
}

bool BlockDeviceWritesZeroes(dev_t rdev) {
  std::string path = absl::StrCat("/sys/dev/block/", major(rdev), ":", minor(rdev),
                                  "/queue/write_zeroes_max_bytes");
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return false;
  unsigned long long bytes = 0;
  bool ok = std::fscanf(f, "%llu", &bytes) == 1 && bytes > 0;
  std::fclose(f);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BackingFile>> BackingFile::Open(const BackingFileOptions& options) {
  const std::string& name = options.filename;
  if (name.empty()) return absl::InvalidArgumentError("\"filename\": must not be empty");
  if (options.block_size != 0 && (!IsPowerOfTwo(options.block_size) || options.block_size < 512)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"block_size\": must be a power of two of at least 512, got ", options.block_size));
  }
  struct stat st {};
  if (stat(name.c_str(), &st) != 0) return ErrnoError(errno, name);
  if (S_ISDIR(st.st_mode)) {
    return WithJsonRpcCode(absl::InvalidArgumentError(
                               absl::StrCat(name, " is a directory, not a file or block device")),
                           -EISDIR);
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is neither a regular file nor a block device"));
  }

  auto file = std::unique_ptr<BackingFile>(new BackingFile());
  file->filename_ = name;
  file->is_block_device_ = S_ISBLK(st.st_mode);
  // O_DIRECT: the page cache would hide the device's own speed and double the memory
  // traffic, and SPDK users expect it from these bdevs.
  const int base_flags = O_DIRECT | O_CLOEXEC;
  file->readonly_ = options.readonly;
  if (!options.readonly) {
    file->fd_ = open(name.c_str(), O_RDWR | base_flags);
    // A file the caller may only read still makes a (read-only) bdev.
    if (file->fd_ < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
      file->readonly_ = true;
    }
  }
  if (file->readonly_) file->fd_ = open(name.c_str(), O_RDONLY | base_flags);
  if (file->fd_ < 0) {
    if (errno == EINVAL) {
      return WithJsonRpcCode(
          absl::FailedPreconditionError(absl::StrCat(
              "cannot open ", name,
              " with O_DIRECT: its filesystem does not support direct I/O (use a file on ext4, "
              "xfs, btrfs or tmpfs on Linux >= 6.6, or a block device)")),
          -EINVAL);
    }
    return ErrnoError(errno, absl::StrCat("cannot open ", name));
  }
  if (fstat(file->fd_, &st) != 0) return ErrnoError(errno, name);

  FileId id = file->is_block_device_ ? FileId{st.st_rdev, 0} : FileId{st.st_dev, st.st_ino};
  file->dev_ = id.dev;
  file->ino_ = id.ino;

  absl::StatusOr<uint64_t> size = file->ReadSizeBytes();
  if (!size.ok()) return size.status();
  if (file->is_block_device_) {
    int lbs = 0;
    if (ioctl(file->fd_, BLKSSZGET, &lbs) != 0 || lbs <= 0) {
      return ErrnoError(errno, absl::StrCat("cannot read the logical block size of ", name));
    }
    file->logical_block_size_ = static_cast<uint32_t>(lbs);
    file->buffer_alignment_ = file->logical_block_size_;
    file->unmap_supported_ = BlockDeviceWritesZeroes(st.st_rdev);
  } else {
    uint32_t mem_align = 0;
    uint32_t lbs = DetectFileLogicalBlockSize(file->fd_, *size, &mem_align);
    if (lbs == 0) {
      return WithJsonRpcCode(
          absl::FailedPreconditionError(absl::StrCat(
              name,
              ": no O_DIRECT read of 512 to 65536 bytes succeeded (the filesystem does "
              "not support direct I/O, or the file is smaller than its unit)")),
          -EINVAL);
    }
    file->logical_block_size_ = std::max<uint32_t>(lbs, 512);
    file->buffer_alignment_ = std::max(file->logical_block_size_, mem_align);
  }

  if (options.block_size != 0 && options.block_size < file->logical_block_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"block_size\": ", options.block_size, " is smaller than the logical block ",
                     "size of ", name, " (", file->logical_block_size_, ")"));
  }
  file->block_size_ = options.block_size != 0 ? options.block_size : file->logical_block_size_;
  file->num_blocks_ = *size / file->block_size_;
  if (file->num_blocks_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " (", *size, " bytes) is smaller than one block of ", file->block_size_, " bytes"));
  }

  std::lock_guard<std::mutex> lock(g_files_mu);
  if (!OpenFiles().insert(id).second) {
    return WithJsonRpcCode(absl::AlreadyExistsError(absl::StrCat(
                               name, " already backs another bdev (same device and inode)")),
                           -EBUSY);
  }
  file->registered_ = true;
  return file;
}

BackingFile::~BackingFile() {
  if (registered_) {
    std::lock_guard<std::mutex> lock(g_files_mu);
    OpenFiles().erase(FileId{dev_, ino_});
  }
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<uint64_t> BackingFile::ReadSizeBytes() const {
  if (is_block_device_) {
    uint64_t bytes = 0;
    if (ioctl(fd_, BLKGETSIZE64, &bytes) != 0) {
      return ErrnoError(errno, absl::StrCat("cannot read the size of ", filename_));
    }
    return bytes;
  }
  struct stat st {};
  if (fstat(fd_, &st) != 0) return ErrnoError(errno, filename_);
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<uint64_t> BackingFile::Rescan() {
  absl::StatusOr<uint64_t> size = ReadSizeBytes();
  if (!size.ok()) return size.status();
  num_blocks_ = *size / block_size_;
  return num_blocks_;
}

}  // namespace bdevkit
