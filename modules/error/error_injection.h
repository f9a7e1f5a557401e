// What an error bdev does to the I/O it is given: the injection table that
// bdev_error_inject_error fills in and the I/O path reads, the names of SPDK's error
// and I/O types, and the data corruption (pure, so unit tested on its own).
#ifndef BDEVKIT_MODULES_ERROR_ERROR_INJECTION_H_
#define BDEVKIT_MODULES_ERROR_ERROR_INJECTION_H_

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"
#include "nlohmann/json_fwd.hpp"

namespace bdevkit::error {

// SPDK's error types ("failure", "pending", "corrupt_data", "nomem", "nvme_failure").
enum class ErrorType : uint8_t {
  kNone = 0,
  kFailure,      // completed at once with -EIO
  kPending,      // held until bdev_error_resume_pending, a reset or removal
  kCorruptData,  // passed on; a write's data is changed before, a read's after
  kNomem,        // refused for lack of resources, then retried (the caller sees success)
  kNvmeFailure,  // completed at once with -EIO and the given NVMe status
};
inline constexpr int kNumErrorTypes = 6;

std::string_view ErrorTypeName(ErrorType type);
// kInvalidArgument naming "error_type" for anything else.
absl::StatusOr<ErrorType> ParseErrorType(std::string_view name);

// The I/O types errors can be injected into: SPDK's read, write, unmap and flush, and
// (ours) write_zeroes. Reset is never failed: it is what releases pending I/O.
bool Injectable(IoType type);

// One bdev_error_inject_error call, validated.
struct Injection {
  // Which types it applies to: one bit per IoType ("all" = every injectable type).
  // With `clear`, the types' counts are set to 0 and nothing else changes.
  uint32_t io_types = 0;
  bool clear = false;
  ErrorType type = ErrorType::kFailure;
  uint32_t num = 1;          // I/Os to hit; 0 disables
  uint64_t queue_depth = 0;  // hit only while at least this many I/O are at the base
  uint64_t corrupt_offset = 0;
  uint8_t corrupt_value = 0;  // XORed in; must not be 0 for corrupt_data
  uint8_t nvme_sct = 0, nvme_sc = 0;
};

// Checks the RPC's values the way SPDK does (io_type names, error_type names,
// corrupt_value 1..255 for corrupt_data, an NVMe status exactly for nvme_failure) and
// builds the injection. Errors are kInvalidArgument and name the parameter.
absl::StatusOr<Injection> MakeInjection(std::string_view io_type, std::string_view error_type,
                                        uint64_t num, uint64_t queue_depth, uint64_t corrupt_offset,
                                        uint64_t corrupt_value, uint64_t nvme_sct,
                                        uint64_t nvme_sc);

// What to do to one I/O.
struct Decision {
  ErrorType type = ErrorType::kNone;
  uint64_t corrupt_offset = 0;
  uint8_t corrupt_value = 0;
  uint8_t nvme_sct = 0, nvme_sc = 0;
};

// An error bdev's injections, one slot per I/O type. Written by the control plane
// (app thread) and read by the I/O path on every thread: the fields are atomics
// (relaxed, except the count) so the I/O threads need no lock and no message. The
// count is published last (release) and claimed with a compare-and-swap, so exactly
// `num` I/Os are hit however many threads submit at once.
class InjectionTable {
 public:
  // App thread.
  void Apply(const Injection& injection);
  // Sets the count of every slot holding kPending to 0 (bdev_error_resume_pending).
  void DisarmPending();

  // The I/O path: the error for one I/O of `type` while `inflight` I/O of this channel
  // are at the base, using up one of the slot's count. kNone when none applies (the
  // common case: one relaxed load). Any thread; never blocks.
  Decision Take(IoType type, uint64_t inflight);

  // Errors injected so far, by type (for driver_specific). Any thread.
  uint64_t injected(ErrorType type) const {
    return injected_[static_cast<int>(type)].load(std::memory_order_relaxed);
  }
  // {"read": {"error_type", "num", "queue_depth", ...}, ...} for armed slots, and the
  // counts of injected errors. Control plane.
  void DumpJson(nlohmann::json& out) const;

 private:
  struct Slot {
    std::atomic<uint32_t> num{0};
    std::atomic<uint8_t> type{0};
    std::atomic<uint64_t> queue_depth{0};
    std::atomic<uint64_t> corrupt_offset{0};
    std::atomic<uint8_t> corrupt_value{0};
    std::atomic<uint8_t> nvme_sct{0}, nvme_sc{0};
  };
  std::array<Slot, kNumIoTypes> slots_;
  std::array<std::atomic<uint64_t>, kNumErrorTypes> injected_{};
};

// XORs `value` into the byte at `offset` of the data described by iovs (nothing when
// the offset is past the end), as SPDK's corrupt_data does. Any thread.
void CorruptData(const iovec* iovs, int iovcnt, uint64_t offset, uint8_t value);

}  // namespace bdevkit::error

#endif  // BDEVKIT_MODULES_ERROR_ERROR_INJECTION_H_
