// PCI enumeration, binding and the errors of opening a device, over a fake sysfs tree
// in a temp dir.
#include "modules/nvme/env/pci.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme {
namespace {
namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s;
}

class PciTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bdevkit-sysfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* d : {"nvme", "vfio-pci"}) {
      fs::create_directories(root_ / "bus/pci/drivers" / d);
      Write(root_ / "bus/pci/drivers" / d / "unbind", "");
    }
    Write(root_ / "bus/pci/drivers_probe", "");
    fs::create_directories(root_ / "kernel/iommu_groups/5");
    AddDevice("0000:00:02.0", "0x030000", "", "");
    AddDevice("0000:00:03.0", "0x010802", "nvme", "5");
    AddDevice("0000:00:04.0", "0x010802", "", "");
    AddDevice("0000:01:00.0", "0x010802", "vfio-pci", "");
  }
  void TearDown() override { fs::remove_all(root_); }

  void AddDevice(const std::string& bdf, const std::string& cls, const std::string& driver,
                 const std::string& group) {
    fs::path dev = root_ / "bus/pci/devices" / bdf;
    Write(dev / "vendor", "0x1b36\n");
    Write(dev / "device", "0x0010\n");
    Write(dev / "class", cls + "\n");
    Write(dev / "numa_node", "-1\n");
    Write(dev / "driver_override", "(null)\n");
    if (!driver.empty())
      fs::create_directory_symlink(root_ / "bus/pci/drivers" / driver, dev / "driver");
    if (!group.empty())
      fs::create_directory_symlink(root_ / "kernel/iommu_groups" / group, dev / "iommu_group");
  }
  PciAddress Addr(const std::string& s) { return *ParsePciAddress(s); }

  fs::path root_;
};

TEST(PciAddressTest, ParsesAndPrints) {
  auto a = ParsePciAddress("0000:00:03.0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ToString(), "0000:00:03.0");
  a = ParsePciAddress("00:1F.7");  // no domain, upper case
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ToString(), "0000:00:1f.7");
  a = ParsePciAddress("abcd:ff:1f.7");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->domain, 0xabcdu);
  for (const char* bad : {"", "0000:00:03", "0000:00:20.0", "0000:00:03.8", "0000:100:03.0",
                          "nvme0", "0000:00:03.0x", "1:2:3:4.0", "00.03:0"}) {
    auto r = ParsePciAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("is not a PCI address"), absl::string_view::npos);
    }
  }
}

TEST_F(PciTest, ListsNvmeFunctionsOnly) {
  PciSysfs sysfs(root_.string());
  auto list = sysfs.ListNvme();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].address.ToString(), "0000:00:03.0");
  EXPECT_EQ((*list)[0].driver, "nvme");
  EXPECT_EQ((*list)[0].iommu_group, "5");
  EXPECT_EQ((*list)[0].vendor_id, 0x1b36);
  EXPECT_EQ((*list)[0].device_id, 0x0010);
  EXPECT_EQ((*list)[1].address.ToString(), "0000:00:04.0");
  EXPECT_EQ((*list)[1].driver, "");
  EXPECT_EQ((*list)[2].address.ToString(), "0000:01:00.0");
}

TEST_F(PciTest, MissingSysfsTreeIsAnError) {
  PciSysfs sysfs((root_ / "nothing").string());
  EXPECT_EQ(sysfs.ListNvme().status().code(), absl::StatusCode::kNotFound);
  auto d = sysfs.Describe(Addr("0000:00:03.0"));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("no PCI device 0000:00:03.0"), absl::string_view::npos);
}

TEST_F(PciTest, BindWritesUnbindOverrideAndProbe) {
  PciSysfs sysfs(root_.string());
  absl::Status s = sysfs.Bind(Addr("0000:00:03.0"), "vfio-pci");
  EXPECT_EQ(Read(root_ / "bus/pci/drivers/nvme/unbind"), "0000:00:03.0");
  EXPECT_EQ(Read(root_ / "bus/pci/devices/0000:00:03.0/driver_override"), "vfio-pci");
  EXPECT_EQ(Read(root_ / "bus/pci/drivers_probe"), "0000:00:03.0");
  // A fake tree has no kernel to follow the writes: the check afterwards says so.
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("did not bind 0000:00:03.0 to vfio-pci"), absl::string_view::npos)
      << s;
}

TEST_F(PciTest, BindNamesTheMissingDriverModule) {
  PciSysfs sysfs(root_.string());
  absl::Status s = sysfs.Bind(Addr("0000:00:04.0"), "uio_pci_generic");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("modprobe uio_pci_generic"), absl::string_view::npos) << s;
  // Nothing was written.
  EXPECT_EQ(Read(root_ / "bus/pci/drivers_probe"), "");
}

TEST_F(PciTest, BindToTheCurrentDriverDoesNothing) {
  PciSysfs sysfs(root_.string());
  EXPECT_TRUE(sysfs.Bind(Addr("0000:00:03.0"), "nvme").ok());
  EXPECT_EQ(Read(root_ / "bus/pci/drivers/nvme/unbind"), "");
}

TEST_F(PciTest, UnbindWritesTheDriversUnbindFile) {
  PciSysfs sysfs(root_.string());
  ASSERT_TRUE(sysfs.Unbind(Addr("0000:00:03.0")).ok());
  EXPECT_EQ(Read(root_ / "bus/pci/drivers/nvme/unbind"), "0000:00:03.0");
  EXPECT_TRUE(sysfs.Unbind(Addr("0000:00:04.0")).ok());  // no driver: nothing to do
}

TEST_F(PciTest, OpenSaysWhichSetupStepIsMissing) {
  PciSysfs sysfs(root_.string());
  auto missing = OpenPciDevice(sysfs, Addr("0000:00:09.0"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  auto vga = OpenPciDevice(sysfs, Addr("0000:00:02.0"));
  EXPECT_EQ(vga.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(vga.status().message().find("is not an NVMe controller (class 0x030000"),
            absl::string_view::npos)
      << vga.status();

  auto kernel = OpenPciDevice(sysfs, Addr("0000:00:03.0"));
  EXPECT_EQ(kernel.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(kernel.status().message().find("in use by the kernel's nvme driver"),
            absl::string_view::npos)
      << kernel.status();
  EXPECT_NE(kernel.status().message().find("vfio-pci"), absl::string_view::npos);

  auto unbound = OpenPciDevice(sysfs, Addr("0000:00:04.0"));
  EXPECT_EQ(unbound.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(unbound.status().message().find("bound to no driver"), absl::string_view::npos);

  auto no_group = OpenPciDevice(sysfs, Addr("0000:01:00.0"));
  EXPECT_EQ(no_group.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_group.status().message().find("has no IOMMU group"), absl::string_view::npos)
      << no_group.status();
  EXPECT_NE(no_group.status().message().find("intel_iommu=on"), absl::string_view::npos);
}

TEST_F(PciTest, VfioWithoutItsDeviceNodesSaysSo) {
  if (fs::exists("/dev/vfio/vfio")) GTEST_SKIP() << "this machine has VFIO";
  AddDevice("0000:02:00.0", "0x010802", "vfio-pci", "5");
  PciSysfs sysfs(root_.string());
  auto d = OpenPciDevice(sysfs, Addr("0000:02:00.0"));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("/dev/vfio/vfio does not exist"), absl::string_view::npos)
      << d.status();
  EXPECT_NE(d.status().message().find("modprobe vfio-pci"), absl::string_view::npos);
}

TEST_F(PciTest, UioNeedsRootAndTheResourceFile) {
  AddDevice("0000:03:00.0", "0x010802", "nvme", "");
  fs::remove(root_ / "bus/pci/devices/0000:03:00.0/driver");
  fs::create_directories(root_ / "bus/pci/drivers/uio_pci_generic");
  fs::create_directory_symlink(root_ / "bus/pci/drivers/uio_pci_generic",
                               root_ / "bus/pci/devices/0000:03:00.0/driver");
  PciSysfs sysfs(root_.string());
  auto d = OpenPciDevice(sysfs, Addr("0000:03:00.0"));
  ASSERT_FALSE(d.ok());
  if (geteuid() != 0) {
    EXPECT_EQ(d.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_NE(d.status().message().find("needs root"), absl::string_view::npos) << d.status();
  } else {
    EXPECT_NE(d.status().message().find("resource0"), absl::string_view::npos) << d.status();
  }
}

}  // namespace
}  // namespace bdevkit::nvme
