// vaddr -> IOVA translation for memory the device may DMA to or from: our own DMA
// regions and buffers a user registered. Lookups run on the I/O path (every thread,
// no lock, no allocation); registration is control plane and rare.
#ifndef BDEVKIT_MODULES_NVME_ENV_TRANSLATION_MAP_H_
#define BDEVKIT_MODULES_NVME_ENV_TRANSLATION_MAP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"

namespace bdevkit::nvme {

// A virtually contiguous range made of equal-sized segments, each contiguous in IOVA
// space (one segment per hugepage for UIO's physical addresses; one segment for the
// whole range when an IOMMU maps it at one IOVA range).
struct MappedRange {
  uintptr_t vaddr = 0;
  size_t length = 0;
  size_t segment_size = 0;             // a power of two; length is a multiple of it
  std::vector<uint64_t> segment_iova;  // IOVA of each segment's first byte
  // Filled by TranslationMap::Add: for each segment, the index of the first later
  // segment that does not continue it in IOVA space.
  std::vector<uint32_t> run_end;
};

class TranslationMap {
 public:
  TranslationMap();
  ~TranslationMap();
  TranslationMap(const TranslationMap&) = delete;
  TranslationMap& operator=(const TranslationMap&) = delete;

  // Adds a range. kInvalidArgument for an empty/inconsistent range or one that
  // overlaps a registered range. Any thread (serialised internally); lookups running
  // meanwhile see the old or the new map, never a torn one.
  absl::Status Add(MappedRange range);
  // Removes the range starting at `vaddr`. kNotFound if none starts there. Any thread.
  // The caller guarantees no I/O still uses it.
  absl::Status Remove(uintptr_t vaddr);

  struct Result {
    uint64_t iova = 0;
    size_t contiguous = 0;  // bytes from vaddr that continue at iova + n (0 = not mapped)
  };
  // Translates one address. Any thread; lock-free; never allocates.
  Result Lookup(const void* vaddr) const {
    const Table* t = current_.load(std::memory_order_acquire);
    return t->Find(reinterpret_cast<uintptr_t>(vaddr));
  }

 private:
  struct Table {
    std::vector<std::shared_ptr<const MappedRange>> ranges;  // sorted by vaddr
    Result Find(uintptr_t addr) const;
  };
  void Publish(std::unique_ptr<Table> table);  // under mu_

  std::mutex mu_;
  std::atomic<const Table*> current_;
  // Every table ever published: a reader may still hold an old one, and registration
  // is rare, so they are only freed with the map.
  std::vector<std::unique_ptr<Table>> tables_;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_ENV_TRANSLATION_MAP_H_
