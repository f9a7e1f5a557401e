// PRP (physical region page) descriptions of a transfer: PRP1 holds the address of
// the first byte (any dword-aligned offset), every later entry the start of a whole
// memory page. Two pages fit in PRP1/PRP2; more put PRP2 to a list of the remaining
// entries. A buffer made of several pieces is describable only when every piece but
// the first starts on a page boundary and every piece but the last ends on one.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_PRP_H_
#define BDEVKIT_MODULES_NVME_DRIVER_PRP_H_

#include <sys/uio.h>

#include <cstdint>

#include "modules/nvme/env/translation_map.h"

namespace bdevkit::nvme {

enum class PrpResult {
  kOk,
  kMisaligned,  // the pieces cannot be described with PRPs (needs a bounce buffer)
  kNotMapped,   // some byte is not in DMA-able memory (needs a bounce buffer)
  kTooLong,     // more entries than the list holds
};

// Builds the entries of one transfer into a caller-owned list (no allocation).
class PrpBuilder {
 public:
  // `list` (at IOVA `list_iova`, qword aligned, not crossing a memory page) receives
  // the entries after the first; it holds `list_capacity` of them.
  PrpBuilder(uint64_t* list, uint64_t list_iova, uint32_t list_capacity)
      : list_(list), list_iova_(list_iova), capacity_(list_capacity) {}

  // Appends the next piece of the transfer, contiguous in IOVA space.
  PrpResult Add(uint64_t iova, uint64_t length);

  // The command's PRP1 and PRP2 for everything added (PRP2 = 0 for one page, the
  // second page for two, the list's IOVA for more).
  void Finish(uint64_t* prp1, uint64_t* prp2) const;

  // Entries used, PRP1 included.
  uint32_t entries() const { return count_; }

 private:
  PrpResult Push(uint64_t page_iova);

  uint64_t* const list_;
  const uint64_t list_iova_;
  const uint32_t capacity_;
  uint32_t count_ = 0;
  uint64_t first_ = 0;
  uint64_t end_ = 0;  // IOVA just past the last piece
};

// Translates each iovec through `map` and adds it to `builder`. Any thread; never
// allocates.
PrpResult BuildPrps(const iovec* iovs, int iovcnt, const TranslationMap& map, PrpBuilder& builder);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_PRP_H_
