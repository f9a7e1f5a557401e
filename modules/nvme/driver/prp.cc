#include "modules/nvme/driver/prp.h"

#include <algorithm>

#include "modules/nvme/driver/spec.h"

namespace bdevkit::nvme {

PrpResult PrpBuilder::Push(uint64_t page_iova) {
  if (count_ - 1 >= capacity_) return PrpResult::kTooLong;
  list_[count_ - 1] = page_iova;
  ++count_;
  return PrpResult::kOk;
}

PrpResult PrpBuilder::Add(uint64_t iova, uint64_t length) {
  if (length == 0) return PrpResult::kOk;
  constexpr uint64_t kMask = kPageSize - 1;
  uint64_t page;
  if (count_ == 0) {
    // PRP1 may start anywhere in a page, but on a dword boundary.
    if ((iova & 3) != 0) return PrpResult::kMisaligned;
    first_ = iova;
    count_ = 1;
    page = (iova & ~kMask) + kPageSize;  // the next entry starts the next page
  } else {
    // Later entries are whole pages: the previous piece must have ended on a page
    // boundary and this one must start on one.
    if ((end_ & kMask) != 0 || (iova & kMask) != 0) return PrpResult::kMisaligned;
    page = iova;
  }
  const uint64_t end = iova + length;
  for (; page < end; page += kPageSize) {
    if (PrpResult r = Push(page); r != PrpResult::kOk) return r;
  }
  end_ = end;
  return PrpResult::kOk;
}

void PrpBuilder::Finish(uint64_t* prp1, uint64_t* prp2) const {
  *prp1 = first_;
  if (count_ <= 1) {
    *prp2 = 0;
  } else if (count_ == 2) {
    *prp2 = list_[0];
  } else {
    *prp2 = list_iova_;
  }
}

PrpResult BuildPrps(const iovec* iovs, int iovcnt, const TranslationMap& map, PrpBuilder& builder) {
  for (int i = 0; i < iovcnt; ++i) {
    const char* p = static_cast<const char*>(iovs[i].iov_base);
    uint64_t left = iovs[i].iov_len;
    while (left > 0) {
      TranslationMap::Result t = map.Lookup(p);
      if (t.contiguous == 0) return PrpResult::kNotMapped;
      uint64_t n = std::min<uint64_t>(left, t.contiguous);
      if (PrpResult r = builder.Add(t.iova, n); r != PrpResult::kOk) return r;
      p += n;
      left -= n;
    }
  }
  return PrpResult::kOk;
}

}  // namespace bdevkit::nvme
