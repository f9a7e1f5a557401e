// UIO access (uio_pci_generic): BAR0 through the sysfs resource0 file, bus mastering
// through the sysfs config file, DMA addresses = physical addresses of hugepages from
// /proc/self/pagemap. Needs root (pagemap hides frame numbers from others, and the
// resource files are root-only), and hugepages (4 KiB pages could be moved).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme {
namespace {

constexpr uint64_t kPagemapPresent = 1ull << 63;
constexpr uint64_t kPagemapPfnMask = (1ull << 55) - 1;

// Physical address of a (resident) virtual address, 0 if unknown.
uint64_t PhysicalAddress(int pagemap_fd, uintptr_t vaddr) {
  const long small = sysconf(_SC_PAGESIZE);
  uint64_t entry = 0;
  off_t off = static_cast<off_t>(vaddr / static_cast<uintptr_t>(small) * sizeof(entry));
  if (pread(pagemap_fd, &entry, sizeof(entry), off) != sizeof(entry)) return 0;
  if ((entry & kPagemapPresent) == 0) return 0;
  uint64_t pfn = entry & kPagemapPfnMask;
  if (pfn == 0) return 0;  // hidden: the process lacks CAP_SYS_ADMIN
  return pfn * static_cast<uint64_t>(small) + vaddr % static_cast<uintptr_t>(small);
}

class UioMapper : public IovaMapper {
 public:
  absl::StatusOr<MappedRange> Map(void* vaddr, size_t length, size_t page_size) override {
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open /proc/self/pagemap: ", std::strerror(errno)));
    }
    MappedRange r;
    r.vaddr = reinterpret_cast<uintptr_t>(vaddr);
    r.length = length;
    r.segment_size = page_size;
    for (size_t off = 0; off < length; off += page_size) {
      // Touch the page so it is resident (hugepages stay put once faulted in).
      volatile char* p = static_cast<volatile char*>(vaddr) + off;
      *p = *p;
      uint64_t pa = PhysicalAddress(fd, r.vaddr + off);
      if (pa == 0) {
        close(fd);
        return absl::PermissionDeniedError(
            "cannot read physical addresses from /proc/self/pagemap: UIO (uio_pci_generic) "
            "needs root; run as root, or bind the device to vfio-pci");
      }
      r.segment_iova.push_back(pa);
    }
    close(fd);
    return r;
  }
  void Unmap(const MappedRange&) override {}  // nothing was set up for the device
  bool requires_hugepages() const override { return true; }
  const char* name() const override { return "uio"; }
};

class UioDevice : public PciDevice {
 public:
  UioDevice(std::string address, void* bar, size_t bar_size, DmaSpaceOptions dma_options)
      : address_(std::move(address)),
        bar_(bar),
        bar_size_(bar_size),
        dma_(std::make_unique<DmaSpace>(std::make_unique<UioMapper>(), dma_options)) {}
  ~UioDevice() override {
    dma_.reset();
    munmap(bar_, bar_size_);
  }
  const std::string& address() const override { return address_; }
  const char* access() const override { return "uio"; }
  Mmio bar0() const override { return Mmio(bar_, bar_size_); }
  DmaSpace& dma() override { return *dma_; }

 private:
  std::string address_;
  void* bar_;
  size_t bar_size_;
  std::unique_ptr<DmaSpace> dma_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PciDevice>> OpenUioDevice(const PciSysfs& sysfs,
                                                         const PciFunction& function,
                                                         DmaSpaceOptions dma_options) {
  const std::string bdf = function.address.ToString();
  if (geteuid() != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "NVMe device ", bdf,
        " is bound to uio_pci_generic, which needs root (physical addresses, sysfs resource "
        "files); run as root, or bind it to vfio-pci to run without root"));
  }
  const std::string dir = sysfs.DevicePath(function.address);
  const std::string resource = dir + "/resource0";
  int fd = open(resource.c_str(), O_RDWR | O_SYNC | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", resource, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("cannot size ", resource));
  }
  size_t bar_size = static_cast<size_t>(st.st_size);
  void* bar = mmap(nullptr, bar_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (bar == MAP_FAILED) {
    return absl::FailedPreconditionError(
        absl::StrCat("mmap of ", resource, " failed: ", std::strerror(err)));
  }
  const std::string config = dir + "/config";
  int cfd = open(config.c_str(), O_RDWR | O_CLOEXEC);
  uint16_t command = 0;
  bool ok = cfd >= 0 && pread(cfd, &command, 2, kPciCommandOffset) == 2;
  command = WithBusMaster(command);
  ok = ok && pwrite(cfd, &command, 2, kPciCommandOffset) == 2;
  if (cfd >= 0) close(cfd);
  if (!ok) {
    munmap(bar, bar_size);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot enable bus mastering through ", config));
  }
  return std::unique_ptr<PciDevice>(new UioDevice(bdf, bar, bar_size, dma_options));
}

}  // namespace bdevkit::nvme
