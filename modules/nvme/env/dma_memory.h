// Memory a device can DMA to: hugepage-backed regions mapped for the device (by an
// IOMMU at IOVAs we choose, or by physical address), each registered in the
// translation map, plus user buffers registered the same way.
#ifndef BDEVKIT_MODULES_NVME_ENV_DMA_MEMORY_H_
#define BDEVKIT_MODULES_NVME_ENV_DMA_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "modules/nvme/env/translation_map.h"

namespace bdevkit::nvme {

// Makes memory reachable by one device: VFIO (IOMMU mapping), UIO (physical
// addresses), or a test double. Control plane; may block (system calls).
class IovaMapper {
 public:
  virtual ~IovaMapper() = default;
  // Maps [vaddr, vaddr + length) for DMA. vaddr and length are multiples of
  // page_size, the size of the pages backing the memory. Returns the range with the
  // IOVA of each segment.
  virtual absl::StatusOr<MappedRange> Map(void* vaddr, size_t length, size_t page_size) = 0;
  // Undoes Map.
  virtual void Unmap(const MappedRange& range) = 0;
  // Whether the memory must be hugepages: with physical addresses (UIO), 4 KiB pages
  // could be moved by the kernel under the device's feet.
  virtual bool requires_hugepages() const = 0;
  virtual const char* name() const = 0;  // "vfio", "uio"
};

// Hugepage memory, from memfd_create(MFD_HUGETLB) (no hugetlbfs mount needed).
struct HugepageMemory {
  void* addr = nullptr;
  size_t size = 0;
  size_t page_size = 0;
};
// Maps `size` bytes (rounded up to whole hugepages) of the default hugepage size,
// populated. Errors say what to do: no hugepages reserved, too few free (with the
// counts from /proc/meminfo), kernel without hugetlb. Blocks (page faults).
absl::StatusOr<HugepageMemory> MapHugepages(size_t size);
// The default hugepage size in bytes (Hugepagesize in /proc/meminfo), 0 if none.
size_t DefaultHugepageSize();
// "HugePages_Total 0, HugePages_Free 0, Hugepagesize 2048 kB" for messages.
std::string HugepageSummary();

class DmaSpace;

// One allocation from a DmaSpace: mapped for the device and in the translation map
// until destroyed. Destroy only once the device no longer uses it.
class DmaRegion {
 public:
  ~DmaRegion();
  DmaRegion(const DmaRegion&) = delete;
  DmaRegion& operator=(const DmaRegion&) = delete;

  void* vaddr() const { return reinterpret_cast<void*>(range_.vaddr); }
  size_t size() const { return range_.length; }
  // IOVA of an address inside the region. Any thread.
  uint64_t Iova(const void* p) const;
  // Bytes from p that are contiguous in IOVA space (at least to the end of p's page).
  size_t ContiguousFrom(const void* p) const;

 private:
  friend class DmaSpace;
  DmaRegion(DmaSpace& space, MappedRange range, size_t map_length)
      : space_(space), range_(std::move(range)), map_length_(map_length) {}
  DmaSpace& space_;
  MappedRange range_;
  size_t map_length_;  // bytes to munmap
};

struct DmaSpaceOptions {
  // Use hugepages when the mapper does not require them (VFIO) and some are free;
  // false = plain pages (tests, and VFIO hosts without hugepages).
  bool prefer_hugepages = true;
};

// All memory one device may DMA to. Allocate and Register are control plane
// (thread-safe, may block); the translation map is read on the I/O path.
class DmaSpace {
 public:
  DmaSpace(std::unique_ptr<IovaMapper> mapper, DmaSpaceOptions options = {});
  ~DmaSpace();
  DmaSpace(const DmaSpace&) = delete;
  DmaSpace& operator=(const DmaSpace&) = delete;

  // Zeroed memory of at least `size` bytes, page aligned. kResourceExhausted (no
  // hugepages, message says how to reserve them) or the mapper's error.
  absl::StatusOr<std::unique_ptr<DmaRegion>> Allocate(size_t size);

  // Makes a caller's buffer usable for zero-copy I/O. With UIO the buffer must be
  // hugepage memory (e.g. from Allocate or MapHugepages). kInvalidArgument if it
  // overlaps registered memory or is not page aligned.
  absl::Status RegisterMemory(void* vaddr, size_t length);
  absl::Status UnregisterMemory(void* vaddr);

  const TranslationMap& map() const { return map_; }
  IovaMapper& mapper() { return *mapper_; }

 private:
  friend class DmaRegion;
  void Release(const MappedRange& range, size_t map_length);

  std::unique_ptr<IovaMapper> mapper_;
  const DmaSpaceOptions options_;
  TranslationMap map_;
  std::mutex mu_;
  absl::flat_hash_map<uintptr_t, MappedRange> registered_;  // user buffers
  bool warned_small_pages_ = false;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_ENV_DMA_MEMORY_H_
