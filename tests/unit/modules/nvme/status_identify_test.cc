// Status code mapping and the parsing of Identify data.
#include <cerrno>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "modules/nvme/driver/identify.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/driver/status.h"

namespace bdevkit::nvme {
namespace {

TEST(StatusTest, MapsClassesToDistinctErrnos) {
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kSuccess), 0);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kInvalidOpcode), -EOPNOTSUPP);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kInvalidField), -EINVAL);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kInvalidNamespace), -EINVAL);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kDataTransferError), -EIO);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kAbortRequested), -ECANCELED);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kAbortSqDeleted), -ECANCELED);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kLbaOutOfRange), -ERANGE);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kCapacityExceeded), -ENOSPC);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kNamespaceNotReady), -EAGAIN);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kNamespaceWriteProtected), -EROFS);
  EXPECT_EQ(StatusToErrno(sct::kGeneric, generic_sc::kReservationConflict), -EBUSY);
  EXPECT_EQ(StatusToErrno(sct::kMedia, media_sc::kUnrecoveredReadError), -EILSEQ);
  EXPECT_EQ(StatusToErrno(sct::kMedia, media_sc::kWriteFault), -EILSEQ);
  EXPECT_EQ(StatusToErrno(sct::kMedia, media_sc::kAccessDenied), -EACCES);
  EXPECT_EQ(StatusToErrno(sct::kPath, 0x00), -EIO);
  EXPECT_EQ(StatusToErrno(sct::kCommandSpecific, 0x01), -EIO);
}

TEST(StatusTest, NamesAreReadable) {
  EXPECT_EQ(StatusName(sct::kGeneric, generic_sc::kLbaOutOfRange),
            "Generic/LBA Out of Range (sct 0x0, sc 0x80)");
  EXPECT_EQ(StatusName(sct::kVendor, 0x12), "Vendor Specific/status (sct 0x7, sc 0x12)");
}

TEST(StatusTest, CompletionFieldsDecode) {
  Completion c{};
  c.status = static_cast<uint16_t>(MakeStatus(sct::kMedia, 0x81, /*dnr=*/true) | 1);
  EXPECT_TRUE(c.phase());
  EXPECT_EQ(c.sct(), sct::kMedia);
  EXPECT_EQ(c.sc(), 0x81);
  EXPECT_TRUE(c.dnr());
  EXPECT_FALSE(c.ok());
  c.status = 1;
  EXPECT_TRUE(c.ok());
}

TEST(IdentifyTest, ControllerFields) {
  std::vector<uint8_t> d(4096, 0);
  d[0] = 0x36;
  d[1] = 0x1b;
  std::memcpy(&d[4], "deadbeef            ", 20);
  std::memcpy(&d[24], "QEMU NVMe Ctrl", 14);
  std::memset(&d[38], ' ', 26);
  std::memcpy(&d[64], "8.0.0   ", 8);
  d[77] = 7;
  d[80] = 0x00;
  d[81] = 0x04;
  d[82] = 0x01;
  d[516] = 2;
  d[520] = 0x0c;
  d[525] = 1;
  std::memcpy(&d[768], "nqn.2019-08.org.qemu:deadbeef", 29);
  ControllerData c = ParseControllerData(d.data());
  EXPECT_EQ(c.vendor_id, 0x1b36);
  EXPECT_EQ(c.serial, "deadbeef");
  EXPECT_EQ(c.model, "QEMU NVMe Ctrl");
  EXPECT_EQ(c.firmware, "8.0.0");
  EXPECT_EQ(c.mdts, 7);
  EXPECT_EQ(VersionString(c.version), "1.4.0");
  EXPECT_EQ(c.nn, 2u);
  EXPECT_TRUE(c.supports_dsm());
  EXPECT_TRUE(c.supports_write_zeroes());
  EXPECT_TRUE(c.has_volatile_write_cache());
  EXPECT_EQ(c.subnqn, "nqn.2019-08.org.qemu:deadbeef");
}

TEST(IdentifyTest, NamespaceFormatAndDescriptors) {
  std::vector<uint8_t> d(4096, 0);
  d[0] = 0x00;
  d[1] = 0x10;  // 4096 blocks
  d[25] = 1;    // two formats
  d[26] = 1;    // format 1 in use
  d[33] = 1;
  d[128 + 2] = 9;
  d[132 + 2] = 12;
  NamespaceData n = ParseNamespaceData(2, d.data());
  EXPECT_EQ(n.nsid, 2u);
  EXPECT_EQ(n.size_blocks, 4096u);
  EXPECT_EQ(n.nlbaf, 2);
  EXPECT_EQ(n.block_size(), 4096u);
  EXPECT_EQ(n.metadata_size(), 0);
  EXPECT_TRUE(n.deallocated_reads_zeroes());
  std::vector<uint8_t> desc(4096, 0);
  desc[0] = 1;  // EUI-64
  desc[1] = 8;
  for (int i = 0; i < 8; ++i) desc[4 + i] = static_cast<uint8_t>(i + 1);
  desc[12] = 3;  // UUID
  desc[13] = 16;
  for (int i = 0; i < 16; ++i) desc[16 + i] = static_cast<uint8_t>(0xf0 + i);
  ParseNamespaceIdDescriptors(desc.data(), &n);
  EXPECT_EQ(n.eui64, 0x0102030405060708ull);
  ASSERT_TRUE(n.has_uuid);
  EXPECT_EQ(n.uuid[0], 0xf0);
  EXPECT_EQ(n.uuid[15], 0xff);
}

TEST(IdentifyTest, NamespaceListStopsAtZero) {
  std::vector<uint8_t> d(4096, 0);
  d[0] = 1;
  d[4] = 3;
  d[8] = 0;
  d[12] = 9;  // after the terminator: ignored
  EXPECT_EQ(ParseNamespaceList(d.data()), (std::vector<uint32_t>{1, 3}));
}

}  // namespace
}  // namespace bdevkit::nvme
