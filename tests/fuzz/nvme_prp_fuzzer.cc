// libFuzzer target: the NVMe PRP builder (modules/nvme/driver/prp.h, BuildPrps over a
// TranslationMap) with random memory maps and iovec layouts.
//
// The input describes 1-4 registered ranges (segment size 512 B..2 MiB, 1-8 segments
// each; segment IOVAs continuing the previous one, page aligned elsewhere, or
// anywhere), 1-16 iovecs (inside a range, running off its end, following the
// previous iovec, or unmapped) and the list's capacity. Addresses are never
// dereferenced: BuildPrps only translates them, so the ranges are made-up addresses.
//
// A reference model translates each byte on its own (per segment, without the map's
// run table) and cuts the transfer into pieces at iovec and range boundaries and IOVA
// discontinuities. The transfer is describable when its first IOVA is dword aligned
// and every cut falls on a page boundary on both sides. Checked:
//   - kOk exactly when it is describable, mapped and fits the list;
//   - kOk: PRP1 is the first byte's IOVA; the entry count is the pages the transfer
//     spans from PRP1's offset; PRP2 is 0, the second page or the list's IOVA as the
//     count says; list entries are page aligned; walking the PRPs gives every byte of
//     the transfer the IOVA the reference gives it; nothing past the used entries was
//     written;
//   - kNotMapped: some byte is unmapped; kTooLong: the pages needed exceed the list;
//     kMisaligned: a cut is misaligned (before the first unmapped byte).
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "modules/nvme/driver/prp.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/env/translation_map.h"

namespace {

using bdevkit::nvme::BuildPrps;
using bdevkit::nvme::kPageSize;
using bdevkit::nvme::MappedRange;
using bdevkit::nvme::PrpBuilder;
using bdevkit::nvme::PrpResult;
using bdevkit::nvme::TranslationMap;

constexpr uint64_t kListIova = 0x7f00'0000'0000ull;
constexpr uint64_t kCanary = 0xdeadbeefcafef00dull;
constexpr uint64_t kIovaLimit = 1ull << 46;  // keeps every sum far from overflow
constexpr uintptr_t kFirstVaddr = 0x1000'0000;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "nvme_prp_fuzzer: %s\n", what);
    std::abort();
  }
}

struct Range {
  uintptr_t vaddr;
  size_t length;
  size_t segment_size;
  std::vector<uint64_t> iova;
};

struct Model {
  std::vector<Range> ranges;

  const Range* Find(uintptr_t addr) const {
    for (const Range& r : ranges) {
      if (addr >= r.vaddr && addr - r.vaddr < r.length) return &r;
    }
    return nullptr;
  }
  // The byte's IOVA, translated on its own.
  std::optional<uint64_t> Iova(uintptr_t addr) const {
    const Range* r = Find(addr);
    if (r == nullptr) return std::nullopt;
    const size_t off = addr - r->vaddr;
    return r->iova[off / r->segment_size] + off % r->segment_size;
  }
  // Bytes from `addr` to the end of its segment (it must be mapped).
  size_t SegmentLeft(uintptr_t addr) const {
    const Range* r = Find(addr);
    const size_t off = addr - r->vaddr;
    return r->segment_size - off % r->segment_size;
  }
};

// What the reference says of a transfer.
struct Verdict {
  bool all_mapped = true;
  bool misaligned_before_unmapped = false;  // a cut breaks the PRP rules
  std::optional<uint64_t> first_iova;       // of the first byte
  uint64_t total = 0;
};

Verdict Judge(const Model& m, const std::vector<iovec>& iovs) {
  Verdict v;
  bool have_prev = false;
  uint64_t prev_end = 0;  // IOVA just past the previous piece
  auto cut = [&](uint64_t start) {
    if (!have_prev) {
      if (start % 4 != 0) v.misaligned_before_unmapped = true;
    } else if (prev_end % kPageSize != 0 || start % kPageSize != 0) {
      v.misaligned_before_unmapped = true;
    }
  };
  for (const iovec& io : iovs) {
    v.total += io.iov_len;
    uintptr_t a = reinterpret_cast<uintptr_t>(io.iov_base);
    uintptr_t end = a + io.iov_len;
    bool piece_open = false;  // a piece starts at every iovec
    const Range* piece_range = nullptr;
    while (a < end && v.all_mapped) {
      std::optional<uint64_t> iova = m.Iova(a);
      if (!iova) {
        v.all_mapped = false;
        break;
      }
      if (!v.first_iova) v.first_iova = *iova;
      const Range* r = m.Find(a);
      // A new piece unless this segment continues the last one in the same range.
      if (!piece_open || r != piece_range || *iova != prev_end) {
        cut(*iova);
        piece_open = true;
        piece_range = r;
        have_prev = true;
      }
      const size_t n = std::min<uint64_t>(end - a, m.SegmentLeft(a));
      prev_end = *iova + n;
      a += n;
    }
    if (!v.all_mapped) break;
  }
  return v;
}

uint64_t PagesSpanned(uint64_t first_iova, uint64_t total) {
  return (first_iova % kPageSize + total + kPageSize - 1) / kPageSize;
}

void CheckDescription(const Model& m, const std::vector<iovec>& iovs, uint64_t prp1, uint64_t prp2,
                      const std::vector<uint64_t>& list, uint32_t entries, uint32_t capacity,
                      const Verdict& v) {
  if (v.total == 0) {
    Check(entries == 0 && prp1 == 0 && prp2 == 0, "an empty transfer has entries");
    return;
  }
  Check(prp1 == *v.first_iova, "PRP1 is not the first byte's IOVA");
  Check(prp1 % 4 == 0, "PRP1 not dword aligned");
  Check(entries == PagesSpanned(prp1, v.total), "entry count is not the pages spanned");
  Check(entries <= capacity + 1, "more entries than the list holds");
  if (entries == 1) {
    Check(prp2 == 0, "one page but PRP2 set");
  } else if (entries == 2) {
    Check(prp2 == list[0], "two pages but PRP2 is not the second");
  } else {
    Check(prp2 == kListIova, "a list but PRP2 is not its IOVA");
  }
  for (uint32_t i = 0; i + 1 < entries; ++i) {
    Check(list[i] % kPageSize == 0, "list entry not page aligned");
  }
  for (uint32_t i = entries == 0 ? 0 : entries - 1; i < capacity; ++i) {
    Check(list[i] == kCanary, "wrote past the used entries");
  }
  // The IOVA the PRPs give the transfer's byte `o`.
  const uint64_t first_off = prp1 % kPageSize;
  auto described = [&](uint64_t o) {
    const uint64_t k = (first_off + o) / kPageSize;
    if (k == 0) return prp1 + o;
    return list[k - 1] + (first_off + o) % kPageSize;
  };
  // Both sides are linear between iovec, segment and PRP page boundaries: compare
  // the first and last byte of every such stretch.
  uint64_t o = 0;
  for (const iovec& io : iovs) {
    uintptr_t a = reinterpret_cast<uintptr_t>(io.iov_base);
    const uintptr_t end = a + io.iov_len;
    while (a < end) {
      const uint64_t page_left = kPageSize - (first_off + o) % kPageSize;
      const uint64_t n = std::min<uint64_t>({end - a, m.SegmentLeft(a), page_left});
      Check(described(o) == *m.Iova(a), "a stretch starts at the wrong IOVA");
      Check(described(o + n - 1) == *m.Iova(a + n - 1), "a stretch ends at the wrong IOVA");
      a += n;
      o += n;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Model model;
  TranslationMap map;
  uintptr_t cursor = kFirstVaddr;
  uint64_t prev_iova_end = 0x100000;
  const int num_ranges = in.ConsumeIntegralInRange(1, 4);
  for (int r = 0; r < num_ranges; ++r) {
    Range range;
    range.segment_size = size_t{1} << in.ConsumeIntegralInRange(9, 21);
    const size_t segments = in.ConsumeIntegralInRange(1, 8);
    range.length = segments * range.segment_size;
    // Ranges may touch or leave a gap of any size (unmapped memory between them).
    cursor += in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange<uint32_t>(1, 1 << 22);
    range.vaddr = cursor;
    cursor += range.length;
    for (size_t s = 0; s < segments; ++s) {
      uint64_t iova;
      switch (in.ConsumeIntegralInRange(0, 2)) {
        case 0:  // continues the previous segment (an IOMMU's contiguous mapping)
          iova = prev_iova_end;
          break;
        case 1:  // a page somewhere else (hugepages of UIO)
          iova = (in.ConsumeIntegral<uint64_t>() % kIovaLimit) & ~uint64_t{kPageSize - 1};
          break;
        default:  // anywhere
          iova = in.ConsumeIntegral<uint64_t>() % kIovaLimit;
          break;
      }
      iova %= kIovaLimit;
      range.iova.push_back(iova);
      prev_iova_end = iova + range.segment_size;
    }
    if (!map.Add(MappedRange{range.vaddr, range.length, range.segment_size, range.iova, {}}).ok()) {
      return 0;  // cannot happen (ranges never overlap); not what is fuzzed
    }
    model.ranges.push_back(std::move(range));
  }

  std::vector<iovec> iovs;
  const int num_iovs = in.ConsumeIntegralInRange(1, 16);
  uintptr_t prev_end = kFirstVaddr;
  for (int i = 0; i < num_iovs; ++i) {
    uintptr_t base;
    switch (in.ConsumeIntegralInRange(0, 3)) {
      case 0:  // right after the previous iovec
        base = prev_end;
        break;
      case 1: {  // a page boundary in some range
        const Range& r = model.ranges[in.ConsumeIntegralInRange<size_t>(0, num_ranges - 1)];
        base = r.vaddr + in.ConsumeIntegralInRange<size_t>(0, r.length / 512) * 512;
        base &= ~uintptr_t{kPageSize - 1};
        break;
      }
      case 2: {  // anywhere in (or just past) some range
        const Range& r = model.ranges[in.ConsumeIntegralInRange<size_t>(0, num_ranges - 1)];
        base = r.vaddr + in.ConsumeIntegralInRange<size_t>(0, r.length + 8192);
        break;
      }
      default:  // anywhere near the ranges, mapped or not
        base = kFirstVaddr + in.ConsumeIntegralInRange<uintptr_t>(0, cursor - kFirstVaddr);
        break;
    }
    size_t len;
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0:
        len = in.ConsumeIntegralInRange<size_t>(0, 8) * 512;
        break;
      case 1:
        len = in.ConsumeIntegralInRange<size_t>(1, 64) * kPageSize;
        break;
      default:
        len = in.ConsumeIntegralInRange<size_t>(0, 1 << 20);
        break;
    }
    iovs.push_back(iovec{reinterpret_cast<void*>(base), len});
    prev_end = base + len;
  }
  const uint32_t capacity = in.ConsumeIntegralInRange<uint32_t>(1, 512);

  // Exactly `capacity` entries on the heap: ASan reports a write past them.
  std::vector<uint64_t> list(capacity, kCanary);
  PrpBuilder builder(list.data(), kListIova, capacity);
  const PrpResult result = BuildPrps(iovs.data(), static_cast<int>(iovs.size()), map, builder);

  const Verdict v = Judge(model, iovs);
  const bool fits = !v.first_iova || PagesSpanned(*v.first_iova, v.total) <= capacity + 1;
  const bool describable = v.all_mapped && !v.misaligned_before_unmapped;
  switch (result) {
    case PrpResult::kOk: {
      Check(describable && fits, "kOk for a transfer PRPs cannot describe");
      uint64_t prp1 = 0, prp2 = 0;
      builder.Finish(&prp1, &prp2);
      CheckDescription(model, iovs, prp1, prp2, list, builder.entries(), capacity, v);
      break;
    }
    case PrpResult::kNotMapped:
      Check(!v.all_mapped, "kNotMapped but every byte is mapped");
      break;
    case PrpResult::kTooLong:
      Check(v.first_iova && !fits, "kTooLong for a transfer that fits the list");
      break;
    case PrpResult::kMisaligned:
      Check(v.misaligned_before_unmapped, "kMisaligned but every cut is aligned");
      break;
  }
  if (describable && fits) Check(result == PrpResult::kOk, "a describable transfer refused");
  return 0;
}
