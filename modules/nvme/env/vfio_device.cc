// VFIO access (type1 IOMMU): one container per device, BAR0 mapped through the device
// fd, bus mastering through the config region, DMA memory mapped at IOVAs we choose.
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme {
namespace {

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// IOVAs start above 4 GiB: the low range holds the x86 MSI window (0xfee00000) and
// other reserved regions, and every IOMMU we target (including QEMU's intel-iommu
// with 39 address bits) covers at least 512 GiB.
constexpr uint64_t kFirstIova = 1ull << 32;

class VfioMapper : public IovaMapper {
 public:
  explicit VfioMapper(int container) : container_(container) {}

  absl::StatusOr<MappedRange> Map(void* vaddr, size_t length, size_t page_size) override {
    uint64_t iova;
    {
      std::lock_guard lock(mu_);
      // Align to the page size so the IOMMU can use large pages for hugepage memory.
      next_iova_ = (next_iova_ + page_size - 1) / page_size * page_size;
      iova = next_iova_;
      next_iova_ += length;  // IOVAs are never reused: the space is far larger than needed
    }
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof(map);
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = reinterpret_cast<uint64_t>(vaddr);
    map.iova = iova;
    map.size = length;
    if (ioctl(container_, VFIO_IOMMU_MAP_DMA, &map) != 0) {
      int err = errno;
      std::string hint;
      if (err == ENOMEM) {
        rlimit rl{};
        getrlimit(RLIMIT_MEMLOCK, &rl);
        hint = absl::StrCat(" (pinned memory is limited by RLIMIT_MEMLOCK, now ",
                            rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                         : absl::StrCat(rl.rlim_cur / 1024, " KiB"),
                            ": raise it with ulimit -l or limits.conf; see docs/nvme.md)");
      }
      return absl::ResourceExhaustedError(absl::StrCat(
          "VFIO_IOMMU_MAP_DMA of ", length, " bytes failed: ", std::strerror(err), hint));
    }
    MappedRange r;
    r.vaddr = reinterpret_cast<uintptr_t>(vaddr);
    r.length = length;
    r.segment_size = page_size;
    for (size_t off = 0; off < length; off += page_size) r.segment_iova.push_back(iova + off);
    return r;
  }

  void Unmap(const MappedRange& range) override {
    vfio_iommu_type1_dma_unmap unmap{};
    unmap.argsz = sizeof(unmap);
    unmap.iova = range.segment_iova.front();
    unmap.size = range.length;
    if (ioctl(container_, VFIO_IOMMU_UNMAP_DMA, &unmap) != 0) {
      LOG_ERROR("nvme: VFIO_IOMMU_UNMAP_DMA failed: %s", std::strerror(errno));
    }
  }

  bool requires_hugepages() const override { return false; }
  const char* name() const override { return "vfio"; }

 private:
  const int container_;
  std::mutex mu_;
  uint64_t next_iova_ = kFirstIova;
};

class VfioDevice : public PciDevice {
 public:
  VfioDevice(std::string address, Fd container, Fd group, Fd device, void* bar, size_t bar_size,
             DmaSpaceOptions dma_options)
      : address_(std::move(address)),
        container_(std::move(container)),
        group_(std::move(group)),
        device_(std::move(device)),
        bar_(bar),
        bar_size_(bar_size),
        dma_(std::make_unique<DmaSpace>(std::make_unique<VfioMapper>(container_.get()),
                                        dma_options)) {}
  ~VfioDevice() override {
    dma_.reset();  // unmaps every registered buffer while the container is open
    munmap(bar_, bar_size_);
  }

  const std::string& address() const override { return address_; }
  const char* access() const override { return "vfio"; }
  Mmio bar0() const override { return Mmio(bar_, bar_size_); }
  DmaSpace& dma() override { return *dma_; }

 private:
  std::string address_;
  Fd container_;
  Fd group_;
  Fd device_;
  void* bar_;
  size_t bar_size_;
  std::unique_ptr<DmaSpace> dma_;
};

absl::Status OpenError(const std::string& path, int err, const std::string& what) {
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(absl::StrCat(
        "no permission to open ", path, ": run as root, or give your user the group file ",
        "(chown $USER ", path, ") and a large enough RLIMIT_MEMLOCK; see docs/nvme.md"));
  }
  if (err == EBUSY) {
    return absl::UnavailableError(
        absl::StrCat(path, " is busy: another process (or container) uses this IOMMU group"));
  }
  if (err == ENOENT || err == ENODEV) {
    return absl::FailedPreconditionError(absl::StrCat(path, " does not exist: ", what));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot open ", path, ": ", std::strerror(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PciDevice>> OpenVfioDevice(const PciSysfs& sysfs,
                                                          const PciFunction& function,
                                                          DmaSpaceOptions dma_options) {
  const std::string bdf = function.address.ToString();
  if (function.iommu_group.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "NVMe device ", bdf,
        " has no IOMMU group, so vfio-pci cannot give it to user space: enable the IOMMU "
        "(VT-d/AMD-Vi in the firmware, intel_iommu=on or amd_iommu=on on the kernel command "
        "line) or bind it to uio_pci_generic instead (needs root)"));
  }
  // The device nodes live in the real /dev even when sysfs is a fake tree in tests.
  Fd container(open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
  if (container.get() < 0) {
    return OpenError("/dev/vfio/vfio", errno, "load the vfio-pci module (modprobe vfio-pci)");
  }
  if (ioctl(container.get(), VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
    return absl::FailedPreconditionError("unsupported VFIO API version");
  }
  unsigned long iommu_type = VFIO_TYPE1v2_IOMMU;
  if (ioctl(container.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
    iommu_type = VFIO_TYPE1_IOMMU;
    if (ioctl(container.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) != 1) {
      return absl::FailedPreconditionError(
          "VFIO has no type1 IOMMU backend (load vfio_iommu_type1)");
    }
  }
  const std::string group_path = "/dev/vfio/" + function.iommu_group;
  Fd group(open(group_path.c_str(), O_RDWR | O_CLOEXEC));
  if (group.get() < 0) {
    return OpenError(group_path, errno, "is the device bound to vfio-pci?");
  }
  vfio_group_status status{};
  status.argsz = sizeof(status);
  if (ioctl(group.get(), VFIO_GROUP_GET_STATUS, &status) != 0 ||
      (status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("IOMMU group ", function.iommu_group, " is not viable: every device in ",
                     sysfs.root(), "/kernel/iommu_groups/", function.iommu_group,
                     "/devices must be bound to vfio-pci (or to no driver)"));
  }
  int container_fd = container.get();  // the ioctl takes a pointer to the fd
  if (ioctl(group.get(), VFIO_GROUP_SET_CONTAINER, &container_fd) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("VFIO_GROUP_SET_CONTAINER failed: ", std::strerror(errno)));
  }
  if (ioctl(container.get(), VFIO_SET_IOMMU, iommu_type) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("VFIO_SET_IOMMU failed: ", std::strerror(errno)));
  }
  Fd device(ioctl(group.get(), VFIO_GROUP_GET_DEVICE_FD, bdf.c_str()));
  if (device.get() < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("VFIO_GROUP_GET_DEVICE_FD(", bdf, ") failed: ", std::strerror(errno)));
  }
  vfio_region_info bar{};
  bar.argsz = sizeof(bar);
  bar.index = VFIO_PCI_BAR0_REGION_INDEX;
  if (ioctl(device.get(), VFIO_DEVICE_GET_REGION_INFO, &bar) != 0 || bar.size == 0 ||
      (bar.flags & VFIO_REGION_INFO_FLAG_MMAP) == 0) {
    return absl::FailedPreconditionError(absl::StrCat("BAR0 of ", bdf, " cannot be mapped"));
  }
  void* bar_addr = mmap(nullptr, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, device.get(),
                        static_cast<off_t>(bar.offset));
  if (bar_addr == MAP_FAILED) {
    return absl::FailedPreconditionError(
        absl::StrCat("mmap of BAR0 of ", bdf, " failed: ", std::strerror(errno)));
  }
  // Bus mastering, so the controller can fetch commands and move data.
  vfio_region_info config{};
  config.argsz = sizeof(config);
  config.index = VFIO_PCI_CONFIG_REGION_INDEX;
  uint16_t command = 0;
  if (ioctl(device.get(), VFIO_DEVICE_GET_REGION_INFO, &config) != 0 ||
      pread(device.get(), &command, 2, static_cast<off_t>(config.offset + kPciCommandOffset)) !=
          2) {
    munmap(bar_addr, bar.size);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the PCI command register of ", bdf));
  }
  command = WithBusMaster(command);
  if (pwrite(device.get(), &command, 2, static_cast<off_t>(config.offset + kPciCommandOffset)) !=
      2) {
    munmap(bar_addr, bar.size);
    return absl::FailedPreconditionError(absl::StrCat("cannot enable bus mastering on ", bdf));
  }
  return std::unique_ptr<PciDevice>(new VfioDevice(bdf, std::move(container), std::move(group),
                                                   std::move(device), bar_addr, bar.size,
                                                   dma_options));
}

}  // namespace bdevkit::nvme
