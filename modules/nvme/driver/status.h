// NVMe completion status -> the errno the bdev layer reports, and a readable name for
// logs and tool output.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_STATUS_H_
#define BDEVKIT_MODULES_NVME_DRIVER_STATUS_H_

#include <cstdint>
#include <string>

namespace bdevkit::nvme {

// 0 for success, else a negative errno chosen so callers can tell the classes apart:
//   -EINVAL      the command was malformed (invalid opcode/field/namespace, PRP offset)
//   -EOPNOTSUPP  invalid opcode (the device does not implement the command)
//   -ERANGE      LBA out of range
//   -ENOSPC      capacity exceeded
//   -EROFS       namespace write protected
//   -EACCES      access denied (media)
//   -EILSEQ      unrecovered read error, write fault (media errors)
//   -ECANCELED   aborted (abort requested, SQ deleted, fused failures)
//   -EAGAIN      namespace not ready, command interrupted (retry may succeed)
//   -EBUSY       reservation conflict
//   -EIO         everything else (data transfer, internal, path, vendor specific)
// Any thread; pure.
int StatusToErrno(uint8_t sct, uint8_t sc);

// "Generic/LBA Out of Range (sct 0x0, sc 0x80)"-style text. Any thread.
std::string StatusName(uint8_t sct, uint8_t sc);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_STATUS_H_
