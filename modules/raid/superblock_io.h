// Reading and writing the superblock area (the first blocks of a base) with ordinary
// bdev I/O from the app thread. Control plane: a few I/Os per raid assembly.
#ifndef BDEVKIT_MODULES_RAID_SUPERBLOCK_IO_H_
#define BDEVKIT_MODULES_RAID_SUPERBLOCK_IO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"
#include "modules/raid/superblock.h"

namespace bdevkit::raid {

// Bytes of the superblock area on a base of this block size: kSuperblockMaxBytes
// rounded up to whole blocks.
uint64_t SuperblockAreaBytes(uint32_t block_size);

// Opens `bdev_name` read-only, reads its superblock area (or the whole bdev if it is
// smaller) and decodes it. done(superblock or DecodeSuperblock's error, or the I/O
// error) runs on the app thread, never inside this call, while the read descriptor is
// still open (so the bdev is still registered). An error returned here (cannot open or
// read) means `done` will not run. App thread.
absl::Status ReadSuperblock(const std::string& bdev_name,
                            std::function<void(absl::StatusOr<Superblock>)> done);

// Writes data[i] (padded with zeroes to whole blocks) at block 0 through descs[i],
// all at once; done(first error) once every write finished. The descriptors must be
// writable and stay open until done. App thread; done never runs inside this call.
void WriteBlockZero(std::vector<BdevDesc*> descs, std::vector<std::vector<uint8_t>> data,
                    std::function<void(absl::Status)> done);

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_SUPERBLOCK_IO_H_
