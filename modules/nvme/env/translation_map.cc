#include "modules/nvme/env/translation_map.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bdevkit::nvme {

TranslationMap::TranslationMap() : current_(nullptr) { Publish(std::make_unique<Table>()); }

TranslationMap::~TranslationMap() = default;

void TranslationMap::Publish(std::unique_ptr<Table> table) {
  // Release: a reader that loads the new pointer (acquire) sees the table's contents.
  current_.store(table.get(), std::memory_order_release);
  tables_.push_back(std::move(table));
}

absl::Status TranslationMap::Add(MappedRange range) {
  if (range.length == 0 || range.segment_size == 0 || !std::has_single_bit(range.segment_size) ||
      range.length % range.segment_size != 0 ||
      range.segment_iova.size() != range.length / range.segment_size) {
    return absl::InvalidArgumentError("translation map: inconsistent range");
  }
  // Neighbouring segments are often contiguous in IOVA space too (always with an
  // IOMMU mapping, often with hugepages): lookups report the whole run, so callers
  // split transfers less.
  const size_t n = range.segment_iova.size();
  range.run_end.assign(n, static_cast<uint32_t>(n));
  for (size_t s = n - 1; s > 0; --s) {
    bool continues = range.segment_iova[s] == range.segment_iova[s - 1] + range.segment_size;
    range.run_end[s - 1] = continues ? range.run_end[s] : static_cast<uint32_t>(s);
  }
  std::lock_guard lock(mu_);
  const Table& old = *current_.load(std::memory_order_relaxed);
  auto table = std::make_unique<Table>(old);
  auto it = std::lower_bound(
      table->ranges.begin(), table->ranges.end(), range.vaddr,
      [](const std::shared_ptr<const MappedRange>& r, uintptr_t v) { return r->vaddr < v; });
  bool overlaps_next = it != table->ranges.end() && (*it)->vaddr < range.vaddr + range.length;
  bool overlaps_prev = it != table->ranges.begin() &&
                       (*std::prev(it))->vaddr + (*std::prev(it))->length > range.vaddr;
  if (overlaps_next || overlaps_prev) {
    return absl::InvalidArgumentError(absl::StrCat(
        "translation map: range at 0x", absl::Hex(range.vaddr), " overlaps a registered range"));
  }
  table->ranges.insert(it, std::make_shared<const MappedRange>(std::move(range)));
  Publish(std::move(table));
  return absl::OkStatus();
}

absl::Status TranslationMap::Remove(uintptr_t vaddr) {
  std::lock_guard lock(mu_);
  const Table& old = *current_.load(std::memory_order_relaxed);
  auto table = std::make_unique<Table>(old);
  auto it =
      std::find_if(table->ranges.begin(), table->ranges.end(),
                   [&](const std::shared_ptr<const MappedRange>& r) { return r->vaddr == vaddr; });
  if (it == table->ranges.end()) {
    return absl::NotFoundError(
        absl::StrCat("translation map: no range starts at 0x", absl::Hex(vaddr)));
  }
  table->ranges.erase(it);
  Publish(std::move(table));
  return absl::OkStatus();
}

TranslationMap::Result TranslationMap::Table::Find(uintptr_t addr) const {
  // Few ranges (one per DMA region or registered buffer): binary search.
  auto it = std::upper_bound(
      ranges.begin(), ranges.end(), addr,
      [](uintptr_t v, const std::shared_ptr<const MappedRange>& r) { return v < r->vaddr; });
  if (it == ranges.begin()) return {};
  const MappedRange& r = **std::prev(it);
  uintptr_t offset = addr - r.vaddr;
  if (offset >= r.length) return {};
  size_t segment = offset / r.segment_size;
  size_t in_segment = offset % r.segment_size;
  size_t contiguous = (r.run_end[segment] - segment) * r.segment_size - in_segment;
  return {r.segment_iova[segment] + in_segment, contiguous};
}

}  // namespace bdevkit::nvme
