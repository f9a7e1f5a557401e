#include "modules/nvme/env/dma_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"

namespace bdevkit::nvme {
namespace {

// One "Name: value" field of /proc/meminfo (the number only), -1 if absent.
long MeminfoField(const std::string& name) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) != 0) continue;
    std::string rest = line.substr(name.size() + 1);
    size_t b = rest.find_first_not_of(' ');
    size_t e = rest.find(' ', b);
    long v = 0;
    if (b != std::string::npos &&
        absl::SimpleAtoi(rest.substr(b, e == std::string::npos ? e : e - b), &v)) {
      return v;
    }
  }
  return -1;
}

size_t RoundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

}  // namespace

size_t DefaultHugepageSize() {
  long kb = MeminfoField("Hugepagesize");
  return kb > 0 ? static_cast<size_t>(kb) * 1024 : 0;
}

std::string HugepageSummary() {
  return absl::StrCat("HugePages_Total ", MeminfoField("HugePages_Total"), ", HugePages_Free ",
                      MeminfoField("HugePages_Free"), ", Hugepagesize ",
                      MeminfoField("Hugepagesize"), " kB");
}

absl::StatusOr<HugepageMemory> MapHugepages(size_t size) {
  const size_t page = DefaultHugepageSize();
  if (page == 0) {
    return absl::FailedPreconditionError(
        "this kernel has no hugepage support (no Hugepagesize in /proc/meminfo)");
  }
  const size_t length = RoundUp(size == 0 ? 1 : size, page);
  // memfd: no hugetlbfs mount needed, and the memory goes away with the process.
  int fd = memfd_create("bdevkit-dma", MFD_HUGETLB | MFD_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "memfd_create(MFD_HUGETLB) failed: ", std::strerror(errno), " (kernel without hugetlb?)"));
  }
  if (ftruncate(fd, static_cast<off_t>(length)) != 0) {
    int err = errno;
    close(fd);
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot size hugepage memory: ", std::strerror(err)));
  }
  // MAP_SHARED reserves the hugepages now (ENOMEM when too few are free) instead of
  // failing with SIGBUS at first touch; MAP_POPULATE faults them in.
  void* addr = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  int err = errno;
  close(fd);
  if (addr == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "not enough free hugepages for ", length / page, " more (", HugepageSummary(), ": ",
        std::strerror(err),
        "); reserve some: echo 64 > /proc/sys/vm/nr_hugepages (as root), see docs/nvme.md"));
  }
  return HugepageMemory{addr, length, page};
}

uint64_t DmaRegion::Iova(const void* p) const {
  uintptr_t offset = reinterpret_cast<uintptr_t>(p) - range_.vaddr;
  return range_.segment_iova[offset / range_.segment_size] + offset % range_.segment_size;
}

size_t DmaRegion::ContiguousFrom(const void* p) const { return space_.map().Lookup(p).contiguous; }

DmaRegion::~DmaRegion() { space_.Release(range_, map_length_); }

DmaSpace::DmaSpace(std::unique_ptr<IovaMapper> mapper, DmaSpaceOptions options)
    : mapper_(std::move(mapper)), options_(options) {}

DmaSpace::~DmaSpace() {
  std::lock_guard lock(mu_);
  for (auto& [vaddr, range] : registered_) {
    (void)map_.Remove(vaddr);
    mapper_->Unmap(range);
  }
}

absl::StatusOr<std::unique_ptr<DmaRegion>> DmaSpace::Allocate(size_t size) {
  void* addr = nullptr;
  size_t length = 0;
  size_t page = 0;
  bool huge = mapper_->requires_hugepages() || options_.prefer_hugepages;
  if (huge) {
    absl::StatusOr<HugepageMemory> mem = MapHugepages(size);
    if (mem.ok()) {
      addr = mem->addr;
      length = mem->size;
      page = mem->page_size;
    } else if (mapper_->requires_hugepages()) {
      return absl::Status(
          mem.status().code(),
          absl::StrCat(mapper_->name(), " needs hugepages: ", mem.status().message()));
    } else {
      std::lock_guard lock(mu_);
      if (!warned_small_pages_) {
        LOG_NOTICE("nvme: %s; using 4 KiB pages for DMA memory (more IOMMU entries)",
                   std::string(mem.status().message()));
        warned_small_pages_ = true;
      }
    }
  }
  if (addr == nullptr) {
    page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    length = RoundUp(size == 0 ? 1 : size, page);
    addr = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                -1, 0);
    if (addr == MAP_FAILED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate ", length, " bytes of DMA memory: ", std::strerror(errno)));
    }
  }
  absl::StatusOr<MappedRange> range = mapper_->Map(addr, length, page);
  if (!range.ok()) {
    munmap(addr, length);
    return range.status();
  }
  if (absl::Status s = map_.Add(*range); !s.ok()) {
    mapper_->Unmap(*range);
    munmap(addr, length);
    return s;
  }
  return std::unique_ptr<DmaRegion>(new DmaRegion(*this, std::move(*range), length));
}

void DmaSpace::Release(const MappedRange& range, size_t map_length) {
  (void)map_.Remove(range.vaddr);
  mapper_->Unmap(range);
  munmap(reinterpret_cast<void*>(range.vaddr), map_length);
}

absl::Status DmaSpace::RegisterMemory(void* vaddr, size_t length) {
  const size_t small = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t page = mapper_->requires_hugepages() ? DefaultHugepageSize() : small;
  if (page == 0 || reinterpret_cast<uintptr_t>(vaddr) % page != 0 || length % page != 0 ||
      length == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("register memory: address and length must be multiples of ", page, " bytes (",
                     mapper_->name(), ")"));
  }
  absl::StatusOr<MappedRange> range = mapper_->Map(vaddr, length, page);
  if (!range.ok()) return range.status();
  if (absl::Status s = map_.Add(*range); !s.ok()) {
    mapper_->Unmap(*range);
    return s;
  }
  std::lock_guard lock(mu_);
  registered_.emplace(range->vaddr, std::move(*range));
  return absl::OkStatus();
}

absl::Status DmaSpace::UnregisterMemory(void* vaddr) {
  std::lock_guard lock(mu_);
  auto it = registered_.find(reinterpret_cast<uintptr_t>(vaddr));
  if (it == registered_.end()) {
    return absl::NotFoundError("unregister memory: no registered buffer starts there");
  }
  (void)map_.Remove(it->first);
  mapper_->Unmap(it->second);
  registered_.erase(it);
  return absl::OkStatus();
}

}  // namespace bdevkit::nvme
