// The malloc module: bdevs backed by process memory ("Malloc disk"). Data lives as
// long as the bdev; nothing needs hugepages or root.
#ifndef BDEVKIT_MODULES_MALLOC_MALLOC_BDEV_H_
#define BDEVKIT_MODULES_MALLOC_MALLOC_BDEV_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bdevkit {

struct MallocOptions {
  std::string name;                  // empty = "MallocN", the first free N
  std::string uuid;                  // empty = generated
  uint32_t block_size = 512;         // a multiple of 512
  uint64_t num_blocks = 0;           // > 0
  uint32_t optimal_io_boundary = 0;  // blocks; I/O is split on it when non-zero
};

// Creates and registers a malloc bdev; returns its name. kInvalidArgument for bad
// options, kAlreadyExists for a taken name or UUID, kResourceExhausted when memory
// cannot be reserved. On error nothing is registered. App thread; never blocks.
absl::StatusOr<std::string> CreateMallocBdev(const MallocOptions& options);

// Unregisters a malloc bdev; `done` runs on the app thread once it is gone (after
// open descriptors closed). kNotFound if no bdev of that name is a malloc bdev.
// App thread; never blocks.
void DeleteMallocBdev(const std::string& name, std::function<void(absl::Status)> done);

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_MALLOC_MALLOC_BDEV_H_
